"""Report figures: a registry of builders, each turning ReportData into a matplotlib Figure.

Builders return Figure objects (not files) so tests can check titles, axis labels and legends
before anything is written; `save` writes PNGs at a modest dpi. Figures are built with
`matplotlib.figure.Figure` on the Agg canvas, never through pyplot's global state. A builder
returns None when the data has nothing to draw (for example no looped design), and the report
says so instead of showing an empty chart.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hwsim.report.collect import ReportData, usable_rows
from hwsim.report.table import METRICS, fmt, header

DPI = 90
_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
_STYLES = ("-", "--", ":", "-.")
ENERGY_PARTS = {"energy_compute_j": "compute", "energy_sram_j": "SRAM", "energy_dram_j": "DRAM",
                "energy_static_j": "static (idle power x time)"}
DRAM_CAUSES = {"dram_weight_first_fetch_bytes": "weights, first fetch", "dram_weight_refetch_bytes": "weights, re-fetch",
               "dram_kv_bytes": "KV cache", "dram_activation_spill_bytes": "activation spill"}
LANES = ("dma", "matrix", "vector")


@dataclass(frozen=True)
class FigureDef:
    name: str                                   # file stem
    heading: str
    caption: str
    build: Callable[[ReportData], object]       # -> matplotlib Figure | None


def _figure(width: float, height: float, title: str, subtitle: str = ""):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    figure.suptitle(title + (f"\n{subtitle}" if subtitle else ""), fontsize=12, fontweight="bold")
    return figure


def _plain_log(ax, *axes: str) -> None:
    """Log axes labelled 0.5, 2, 30 rather than 5x10^-1: easier to read off."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    for name in axes:
        axis = getattr(ax, f"{name}axis")
        axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axis.set_minor_formatter(NullFormatter())


def _chips(data: ReportData) -> list[str]:
    return list(dict.fromkeys(data.results["hardware"]))


def _color(items: list, item) -> str:
    return _COLORS[items.index(item) % len(_COLORS)]


def _decoding(data: ReportData) -> pd.DataFrame:
    rows = usable_rows(data.results)
    return rows[rows["has_decode"].astype(bool)]


def _reference_quant(data: ReportData) -> str | None:
    """The quantisation the per-design bar charts use: the overall winner's (fewer bars)."""
    rows = _decoding(data)
    if rows.empty:
        return None
    metric, sense = data.objective
    values = pd.to_numeric(rows[metric], errors="coerce")
    return rows.loc[values.idxmax() if sense == "max" else values.idxmin(), "quant"]


# ----------------------------------------------------------------------------- builders


def loop_depth(data: ReportData):
    rows = _decoding(data)
    rows = rows[rows["loops"].notna()]
    if rows.empty:
        return None
    from hwsim.quality.model import trained_loops

    rows = rows[rows["model"] == rows["model"].iloc[0]]          # one looped model per figure
    trained = trained_loops(rows["model"].iloc[0])
    metrics = ("ttft_s", "tpot_s", "tokens_per_s")
    figure = _figure(13, 4.2, f"Latency and throughput against loop depth ({rows['model'].iloc[0]})")
    axes = figure.subplots(1, len(metrics))
    chips, quants = _chips(data), list(dict.fromkeys(rows["quant"]))
    for ax, metric in zip(axes, metrics):
        for (chip, quant), group in rows.groupby(["hardware", "quant"], sort=False):
            group = group.sort_values("loops")
            ax.plot(group["loops"], group[metric], marker="o", color=_color(chips, chip),
                    linestyle=_STYLES[quants.index(quant) % len(_STYLES)], label=f"{chip}, {quant}")
        ax.set_xscale("log", base=2)
        ticks = sorted(rows["loops"].astype(int).unique())
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.set_yscale("log")
        _log_ticks(ax, "y")
        ax.set_xlabel("loop depth (iterations)")
        ax.set_ylabel(f"{header(metric)} ({METRICS[metric][1]})")
        ax.set_title(header(metric))
        ax.grid(True, which="both", alpha=0.3)
        if trained is not None:
            ax.axvline(trained, color="gray", linestyle=":", linewidth=1.5, label=f"trained depth ({trained})")
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside right center", fontsize=9, title="chip, quantisation")
    return figure


def _per_chip_bars(data: ReportData, parts: dict[str, str], scale: float, unit: str, title: str, ylabel: str):
    quant = _reference_quant(data)
    if quant is None:
        return None
    rows = _decoding(data)
    rows = rows[rows["quant"] == quant]
    chips = [c for c in _chips(data) if c in set(rows["hardware"])]
    columns = min(2, len(chips))
    figure = _figure(12, 3.6 * int(np.ceil(len(chips) / columns)) + 0.6, f"{title} ({quant})")
    axes = np.atleast_1d(figure.subplots(int(np.ceil(len(chips) / columns)), columns, squeeze=False)).ravel()
    for ax, chip in zip(axes, chips):
        group = rows[rows["hardware"] == chip]
        tokens = group["tokens"].to_numpy(float)
        bottom = np.zeros(len(group))
        x = np.arange(len(group))
        for i, (column, label) in enumerate(parts.items()):
            values = group[column].to_numpy(float) / tokens / scale
            ax.bar(x, values, bottom=bottom, color=_COLORS[i], label=label, width=0.7)
            bottom += values
        ax.set_xticks(x, list(group["design"]), rotation=20, ha="right", fontsize=9)
        ax.set_title(chip)
        ax.set_xlabel("design (model x loop depth)")
        ax.set_ylabel(f"{ylabel} ({unit})")
        ax.grid(True, axis="y", alpha=0.3)
    for ax in axes[len(chips):]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=len(parts), fontsize=10)
    return figure


def energy_components(data: ReportData):
    return _per_chip_bars(data, ENERGY_PARTS, 1e-3, "mJ", "Energy per token by component", "energy per token")


def dram_traffic(data: ReportData):
    return _per_chip_bars(data, DRAM_CAUSES, 1e6, "MB", "DRAM traffic per token by cause", "DRAM bytes per token")


def memory_footprint(data: ReportData):
    rows = data.results[data.results["status"].isin(["ok", "pruned"])]
    if rows.empty:
        return None
    footprint = rows.groupby(["design", "quant"], sort=False)["memory_footprint_bytes"].max() / 1e9
    figure = _figure(11, 0.32 * len(footprint) + 1.8, "Memory footprint against device capacity")
    ax = figure.subplots()
    y = np.arange(len(footprint))
    ax.barh(y, footprint.to_numpy(), color="#7f7f7f", height=0.6, label="footprint (weights + KV + activations)")
    ax.set_yticks(y, [f"{d} ({q})" for d, q in footprint.index], fontsize=9)
    ax.invert_yaxis()
    capacities = rows.groupby("hardware", sort=False)["memory_capacity_bytes"].max() / 1e9
    chips = list(capacities.index)
    for chip, capacity in capacities.items():
        ax.axvline(capacity, color=_color(chips, chip), linestyle="--", linewidth=1.5,
                   label=f"{chip} capacity ({capacity:.3g} GB)")
    ax.set_xscale("log")
    _log_ticks(ax, "x")
    ax.set_xlabel("memory (GB, log scale)")
    ax.set_ylabel("design (quantisation)")
    ax.legend(loc="lower right", fontsize=9)
    ax.grid(True, axis="x", which="both", alpha=0.3)
    return figure


def roofline(data: ReportData):
    if data.focus is None:
        return None
    ops = data.focus.ops
    hardware = data.focus_hardware
    flops = (ops["matrix_flops"] + ops["vector_flops"]).to_numpy(float)
    dram = (ops["dram_read_bytes"] + ops["dram_write_bytes"]).to_numpy(float)
    # An op's time: the longer of what it adds to the run and its own DRAM transfers (a
    # prefetch hidden behind earlier ops would otherwise place it above the memory roof).
    seconds = np.maximum.reduce([ops["step_s"].to_numpy(float), ops["memory_s"].to_numpy(float),
                                 (ops["end_s"] - ops["start_s"]).to_numpy(float)])
    keep = (flops > 0) & (seconds > 0)
    if not keep.any():
        return None
    figure = _figure(9.5, 6, "Roofline with the ops placed", data.focus_label)
    ax = figure.subplots()
    attained = np.where(keep, flops / np.where(seconds > 0, seconds, 1.0), np.nan)
    with np.errstate(divide="ignore"):
        intensity = np.where(dram > 0, flops / np.where(dram > 0, dram, 1.0), np.inf)
    finite = intensity[keep & np.isfinite(intensity)]
    right = (finite.max() if finite.size else 1e3) * 10
    left = max(min(finite.min() if finite.size else 1.0, 1.0) / 10, 1e-3)
    x = np.where(np.isfinite(intensity), intensity, right)
    dtype, peak = hardware.matrix.rate_for(_compute_dtype(data))
    vector_peak = hardware.vector.rate_for("fp16")[1]
    bandwidth = hardware.main_memory.bandwidth_bytes_per_s
    grid = np.logspace(np.log10(left), np.log10(right), 200)
    ax.plot(grid, np.minimum(peak, grid * bandwidth), color="black", linewidth=2,
            label=f"roof: {peak / 1e12:.3g} TFLOP/s {dtype} matrix, {bandwidth / 1e9:.3g} GB/s DRAM")
    ax.plot(grid, np.minimum(vector_peak, grid * bandwidth), color="black", linewidth=1, linestyle="--",
            label=f"vector engine roof ({vector_peak / 1e9:.3g} GFLOP/s fp16)")
    phases = ops["phase"].to_numpy(dtype=object)
    lanes = ops["lane"].to_numpy(dtype=object)
    for phase, color in (("prefill", "#ff7f0e"), ("decode", "#1f77b4")):
        for lane, marker in (("matrix", "o"), ("vector", "^")):
            on = keep & (phases == phase) & (lanes == lane)
            if on.any():
                ax.scatter(x[on], attained[on], s=14, alpha=0.5, color=color, marker=marker,
                           label=f"{phase} ops, {lane} engine")
    resident = keep & ~np.isfinite(intensity)
    if resident.any():
        ax.axvline(right, color="#2ca02c", linewidth=1, linestyle=":",
                   label="right edge: ops with no DRAM traffic (operands on chip)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP per DRAM byte)")
    ax.set_ylabel("attained compute (FLOP/s)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    return figure


def _compute_dtype(data: ReportData) -> str:
    from hwsim.spec.quant import quant_preset

    try:
        return quant_preset(data.focus.inputs["quant"]).compute_dtype
    except (ValueError, KeyError):
        return "bf16"


_PREFIXES = ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"))


def display_scale(metric: str, values) -> tuple[float, str]:
    """(divisor, unit) that shows `metric`'s values with an SI prefix fitting their median
    (energy per token in mJ rather than 0.05 J); tokens/s stays in tok/s, a published quality
    score (`quality.<benchmark>`) in points."""
    if metric not in METRICS:
        return 1.0, "points"
    unit = METRICS[metric][1]
    if unit in ("tok/s", "%"):
        return 1.0, unit
    finite = np.abs(pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(float))
    finite = finite[np.isfinite(finite) & (finite > 0)]
    middle = float(np.median(finite)) if finite.size else 1.0
    return next(((factor, prefix + unit) for factor, prefix in _PREFIXES if middle >= factor), (1e-6, "µ" + unit))


def _log_ticks(ax, *axes: str) -> None:
    """Log axes ticked at 1, 2, 5 per decade, labelled in plain numbers."""
    from matplotlib.ticker import LogLocator

    for name in axes:
        getattr(ax, f"{name}axis").set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    _plain_log(ax, *axes)


def pareto(data: ReportData):
    rows = _decoding(data)
    if rows.empty:
        return None
    (xm, xs), (ym, ys) = list(data.pareto.items())[:2]
    (xf, xu), (yf, yu) = display_scale(xm, rows[xm]), display_scale(ym, rows[ym])
    better = {"max": "higher is better", "min": "lower is better"}
    figure = _figure(10.5, 6.5, f"Pareto front: {header(xm)} ({better[xs]}) vs {header(ym)} ({better[ys]})")
    ax = figure.subplots()
    chips = _chips(data)
    for chip, group in rows.groupby("hardware", sort=False):
        ax.scatter(group[xm] / xf, group[ym] / yf, color=_color(chips, chip), s=30, alpha=0.7, label=chip)
    front = rows[rows["pareto"].astype(bool)].sort_values(xm)
    ax.plot(front[xm] / xf, front[ym] / yf, color="black", linewidth=1.5, marker="o", markerfacecolor="none",
            markersize=11, label="Pareto front")
    for _, row in front.iterrows():
        ax.annotate(f"{row['design']} {row['quant']} on {row['hardware']}\n"
                    f"{fmt(xm, row[xm])}, {fmt(ym, row[ym])}", (row[xm] / xf, row[ym] / yf), fontsize=8.5,
                    xytext=(-16, 0), textcoords="offset points", ha="right", va="center",
                    bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": "#999999", "alpha": 0.9},
                    arrowprops={"arrowstyle": "-", "color": "#555555", "linewidth": 0.8})
    ax.set_xscale("log")
    ax.set_yscale("log")
    _log_ticks(ax, "x", "y")
    ax.set_xlabel(f"{header(xm)} ({xu}, log scale)")
    ax.set_ylabel(f"{header(ym)} ({yu}, log scale)")
    ax.grid(True, which="major", alpha=0.4)
    ax.grid(True, which="minor", alpha=0.12)
    ax.legend(fontsize=9, title="chip", loc="best")
    return figure


def residency(data: ReportData):
    rows = data.residency
    if rows is None or rows.empty:
        return None
    rows = rows[rows["status"] == "ok"]
    figure = _figure(9.5, 5.5, "DRAM traffic per token against SRAM size")
    ax = figure.subplots()
    groups = rows.groupby("loops", dropna=False, sort=True) if rows["loops"].notna().any() else [(None, rows)]
    for i, (loops, group) in enumerate(groups):
        group = group.sort_values("sram_bytes")
        label = f"{int(loops)} loop{'s' if loops != 1 else ''}" if loops is not None and loops == loops else "model"
        ax.plot(group["sram_bytes"] / 2**20, group["dram_bytes_per_token"] / 1e6, marker="o", color=_COLORS[i],
                label=label)
    if data.focus_hardware is not None and data.focus_hardware.sram is not None:
        ax.axvline(data.focus_hardware.sram.capacity_bytes / 2**20, color="gray", linestyle="--",
                   label=f"{data.focus_hardware.name} SRAM as specified")
    ax.set_xscale("log", base=2)
    sizes = sorted(rows["sram_bytes"].unique() / 2**20)
    ax.set_xticks(sizes, [f"{size:g}" for size in sizes])
    ax.set_xlabel("SRAM capacity (MiB, log scale)")
    ax.set_ylabel("DRAM bytes per generated token (MB)")
    ax.set_title(data.residency_label, fontsize=9)
    ax.set_ylim(bottom=0)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=9)
    return figure


def decode_window(ops: pd.DataFrame) -> tuple[float, float] | None:
    """(start_s, end_s) of the last simulated decode step: from the end of the previous
    simulated step's ops to the end of its own."""
    decode = ops[ops["phase"] == "decode"]
    steps = sorted(decode["token_step"].unique())
    if not steps:
        return None
    last = decode[decode["token_step"] == steps[-1]]
    start = decode[decode["token_step"] == steps[-2]]["end_s"].max() if len(steps) > 1 else last["start_s"].min()
    return float(start), float(last["end_s"].max())


def step_intervals(focus) -> pd.DataFrame:
    """Timeline intervals of the last simulated decode step. With a `token_step` column on the
    timeline (-1 for the prefill) the step's own rows are taken, so a weight prefetch issued
    during the previous step still counts as this step's; without it, every interval starting
    inside the step's window."""
    ops, lines = focus.ops, focus.timeline
    window = decode_window(ops)
    if window is None:
        return lines.iloc[:0]
    if "token_step" in lines:
        return lines[lines["token_step"] == ops.loc[ops["phase"] == "decode", "token_step"].max()]
    start, end = window
    return lines[(lines["start_s"] >= start - 1e-15) & (lines["start_s"] < end)]


# What each op does, by its name (the trace builder's op names; `expert3.gate` is an MLP op).
OP_GROUPS = {"attention projections (q, k, v, o)": "#4c72b0", "attention over the KV cache": "#dd8452",
             "MLP (gate, up, down)": "#55a868", "LM head": "#c44e52", "other matrix ops": "#8172b3",
             "vector ops (norms, RoPE, softmax, activation, residual)": "#b0b0b0"}


def op_group(name: str, lane: str) -> str:
    base = name.rsplit(".", 1)[-1]
    if base in ("q", "k", "v", "o", "qkv"):
        return "attention projections (q, k, v, o)"
    if base.startswith("attn_"):
        return "attention over the KV cache"
    if base in ("gate", "up", "down"):
        return "MLP (gate, up, down)"
    if base == "lm_head":
        return "LM head"
    return "other matrix ops" if lane == "matrix" else "vector ops (norms, RoPE, softmax, activation, residual)"


def _time_unit(span_s: float) -> tuple[float, str]:
    """Scale and unit that put a time span of `span_s` in a readable range."""
    for scale, unit in ((1.0, "s"), (1e3, "ms"), (1e6, "µs")):
        if span_s * scale >= 2:
            return scale, unit
    return 1e9, "ns"


def repeating_block(names: list[str]) -> tuple[int, int] | None:
    """(first, length) of the first run of ops that repeats right after itself (one layer of
    a decoder step): the zoom window of the timeline."""
    for first in range(min(8, len(names))):
        for length in range(2, (len(names) - first) // 2 + 1):
            if names[first:first + length] == names[first + length:first + 2 * length]:
                return first, length
    return None


def _draw_lanes(ax, lines: pd.DataFrame, origin: float, scale: float, label_from: float | None) -> None:
    """Bars per lane coloured by op group (one collection per lane, group and hatch: a step has
    thousands of intervals); in the zoom (`label_from` set) memory-bound compute ops are hatched
    and ops wider than `label_from` (axis units) carry their name."""
    frame = pd.DataFrame({"lane": lines["lane"].to_numpy(), "name": lines["name"].to_numpy(),
                          "left": (lines["start_s"].to_numpy(float) - origin) * scale,
                          "width": (lines["end_s"] - lines["start_s"]).to_numpy(float) * scale})
    frame["group"] = [op_group(n, lane) for n, lane in zip(frame["name"], frame["lane"])]
    frame["hatch"] = (lines["bound"].to_numpy() == "memory") & (frame["lane"] != "dma") & (label_from is not None)
    for (lane, group, hatch), rows in frame.groupby(["lane", "group", "hatch"], sort=False):
        y = LANES.index(lane)
        ax.broken_barh(list(zip(rows["left"], rows["width"])), (y - 0.35, 0.7), facecolors=OP_GROUPS[group],
                       hatch="//" if hatch else None, edgecolor="white" if label_from is not None else "none",
                       linewidth=0.5 if label_from is not None else 0)
    if label_from is None:
        return
    for row in frame[frame["width"] >= label_from].itertuples():
        ax.text(row.left + row.width / 2, LANES.index(row.lane), row.name, ha="center", va="center", fontsize=8,
                clip_on=True)


def timeline(data: ReportData):
    if data.focus is None:
        return None
    lines = step_intervals(data.focus).sort_values("start_s")
    if lines.empty:
        return None
    from matplotlib.patches import Patch

    origin, end = float(lines["start_s"].min()), float(lines["end_s"].max())
    figure = _figure(13, 7.2, "One decode step on the DMA and compute lanes", data.focus_label)
    whole, zoom = figure.subplots(2, 1, height_ratios=[1, 1.25])
    scale, unit = _time_unit(end - origin)
    _draw_lanes(whole, lines, origin, scale, None)
    whole.set_xlim(0, (end - origin) * scale)
    whole.set_xlabel(f"time since the step began ({unit})")
    whole.set_title(f"the whole simulated step: {(end - origin) * scale:.3g} {unit}", fontsize=10)
    _mark_loop_iterations(whole, data.focus.ops, lines, origin, scale)

    compute = lines[lines["lane"] != "dma"]
    block = repeating_block(list(compute["name"]))
    first, length = block if block else (0, min(len(compute), 20))
    chosen = compute.iloc[first:first + length]
    lo, hi = float(chosen["start_s"].min()), float(chosen["end_s"].max())
    zoom_lines = lines[(lines["end_s"] > lo) & (lines["start_s"] < hi)]
    zscale, zunit = _time_unit(hi - lo)
    _draw_lanes(zoom, zoom_lines, lo, zscale, label_from=0.035 * (hi - lo) * zscale)
    zoom.set_xlim(0, (hi - lo) * zscale)
    zoom.set_xlabel(f"time since the block began ({zunit})")
    zoom.set_title(f"zoom: the first repeating block of ops (one layer), {(hi - lo) * zscale:.3g} {zunit}, "
                   "shaded above", fontsize=10)
    whole.axvspan((lo - origin) * scale, (hi - origin) * scale, color="#ffd54f", alpha=0.5, zorder=0)
    for ax in (whole, zoom):
        ax.set_yticks(range(len(LANES)), ["DMA (DRAM reads, writes)", "matrix engine", "vector engine"])
        ax.set_ylabel("lane")
        ax.set_ylim(-0.6, len(LANES) - 0.2)
        ax.grid(True, axis="x", alpha=0.3)
    handles = [Patch(color=color, label=group) for group, color in OP_GROUPS.items()
               if group in {op_group(n, lane) for n, lane in zip(lines["name"], lines["lane"])}]
    handles.append(Patch(facecolor="white", edgecolor="#555555", hatch="//", label="memory-bound (waits on DRAM)"))
    figure.legend(handles=handles, loc="outside lower center", ncols=4, fontsize=9,
                  title="op kind (a DMA transfer takes the colour of the op it feeds)")
    return figure


def _mark_loop_iterations(ax, ops: pd.DataFrame, lines: pd.DataFrame, origin: float, scale: float) -> None:
    """Label each simulated loop iteration of the step and how many iterations it stands for."""
    step = ops[(ops["phase"] == "decode") & (ops["token_step"] == ops.loc[ops["phase"] == "decode", "token_step"].max())]
    iterations = step[step["loop_iter"] >= 0]
    if iterations.empty:
        return
    base = float(step["multiplicity"].min())
    for loop_iter, group in iterations.groupby("loop_iter"):
        lo, hi = (group["start_s"].min() - origin) * scale, (group["end_s"].max() - origin) * scale
        repeats = int(round(float(group["multiplicity"].max()) / base))
        ax.axvline(lo, color="black", linewidth=0.8, linestyle="--")
        first = loop_iter + 1
        text = f"loop iterations {first}-{first + repeats - 1} (one simulated)" if repeats > 1 else \
            f"loop iteration {first}"
        ax.text((lo + hi) / 2, len(LANES) - 0.45, text, ha="center", va="center", fontsize=9,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8})


# ----------------------------------------------------------------------------- equal quality


def quality_pareto(data: ReportData):
    """Per chip: published quality against tokens/s (and energy/token as marker size) of every
    decoding design with a known quality; looped designs joined by loop count, the trained depth
    starred, depths past it hollow; the quality-speed Pareto front drawn as a step line."""
    from hwsim.quality.model import trained_loops

    if data.iso is None:
        return None
    metric = data.iso.quality
    rows = _decoding(data)
    rows = rows[np.isfinite(pd.to_numeric(rows[metric], errors="coerce"))]
    if rows.empty:
        return None
    chips = _chips(data)
    figure = _figure(5.2 * min(len(chips), 2), 4.6 * math.ceil(len(chips) / 2),
                     "Published quality against decode speed, per chip",
                     f"quality = {metric} ({rows['quality_group'].iloc[0]}); upper right is better")
    axes = np.atleast_1d(figure.subplots(math.ceil(len(chips) / 2), min(len(chips), 2), squeeze=False)).ravel()
    designs = list(dict.fromkeys(rows["model"]))
    for ax, chip in zip(axes, chips):
        on_chip = rows[rows["hardware"] == chip].sort_values("tokens_per_s")
        for model, group in on_chip.groupby("model", sort=False):
            color = _color(designs, model)
            group = group.sort_values("loops")
            if group["loops"].notna().any():
                trained = trained_loops(model)
                ax.plot(group["tokens_per_s"], group[metric], color=color, linewidth=1, alpha=0.6)
                for _, row in group.iterrows():
                    past = trained is not None and row["loops"] > trained
                    marker = "*" if row["loops"] == trained else "o"
                    ax.scatter(row["tokens_per_s"], row[metric], marker=marker, s=160 if marker == "*" else 40,
                               facecolors="none" if past else color, edgecolors=color, zorder=3)
                    ax.annotate(f"x{int(row['loops'])}", (row["tokens_per_s"], row[metric]), fontsize=8,
                                xytext=(4, 4), textcoords="offset points")
            else:
                ax.scatter(group["tokens_per_s"], group[metric], color=color, marker="s", s=40, zorder=3)
            ax.scatter([], [], color=color, marker="o" if group["loops"].notna().any() else "s", label=model)
        front = _front(on_chip, metric)
        ax.step(front["tokens_per_s"], front[metric], where="post", color="black", linewidth=1, alpha=0.5)
        ax.set_xscale("log")
        _plain_log(ax, "x")
        ax.set_title(chip, fontsize=10)
        ax.set_xlabel("tokens/s (log scale)")
        ax.set_ylabel("quality (points)")
        ax.grid(True, alpha=0.3)
    axes[0].scatter([], [], marker="*", s=120, color="gray", label="trained depth")
    axes[0].scatter([], [], marker="o", facecolors="none", edgecolors="gray", label="past trained depth")
    axes[0].legend(fontsize=7.5, loc="lower left")
    for ax in axes[len(chips):]:
        ax.set_visible(False)
    return figure


def _front(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Designs no other beats on both quality and tokens/s, by speed."""
    from hwsim.sweep.analysis import non_dominated

    costs = -rows[["tokens_per_s", metric]].to_numpy(dtype=float)
    return rows[non_dominated(costs)].sort_values("tokens_per_s")


def context_length(data: ReportData):
    """Decode tokens/s against context length for the comparison's members; points that do not
    fit the chip's memory are crossed."""
    from hwsim.report.iso import context_rows

    rows = context_rows(data)
    if rows is None or rows.empty:
        return None
    figure = _figure(9.5, 5.5, f"Decode speed against context length on {rows['hardware'].iloc[0]}",
                     f"{data.iso.quant}; x on the axis = does not fit memory (no speed)")
    ax = figure.subplots()
    designs = list(dict.fromkeys(rows["design"]))
    for design, group in rows.groupby("design", sort=False):
        group = group.sort_values("prompt_len")
        color = _color(designs, design)
        fits = group["fits"].astype(bool)
        ax.plot(group["prompt_len"], group["tokens_per_s"], color=color, linewidth=1.5, label=design,
                linestyle="-" if "x" not in design.split()[-1] else "--")
        ax.scatter(group.loc[fits, "prompt_len"], group.loc[fits, "tokens_per_s"], color=color, s=25)
        # A context that does not fit has no speed: its cross sits on the x axis.
        ax.scatter(group.loc[~fits, "prompt_len"], [0.03] * int((~fits).sum()), color=color, marker="x", s=70,
                   transform=ax.get_xaxis_transform(), clip_on=False)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    _plain_log(ax, "x", "y")
    ax.set_xlabel("context (prompt tokens, log scale)")
    ax.set_ylabel("decode tokens/s (log scale)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9)
    return figure


def sensitivity(data: ReportData):
    """Looped tokens/s over the fastest equal-quality peer's, per knob value; the band is the
    chip class's measured decode error around 1."""
    from hwsim.report import iso as I

    tables = I.tables(data)
    if tables is None or I.SENSITIVITY not in tables.rows:
        return None
    rows = tables.rows[I.SENSITIVITY]
    knobs = list(dict.fromkeys(rows["knob"]))
    figure = _figure(min(3.2 * len(knobs), 14.0), 4.2, f"What would flip the answer on {rows['hardware'].iloc[0]}",
                     f"{tables.looped} tokens/s over the fastest equal-quality peer's; above 1 the looped model wins")
    axes = np.atleast_1d(figure.subplots(1, len(knobs), sharey=True, squeeze=False)).ravel()
    error = data.errors.get(rows["hardware"].iloc[0])
    for ax, knob in zip(axes, knobs):
        group = rows[rows["knob"] == knob]
        ax.plot(range(len(group)), group["looped_ratio"], marker="o", color=_COLORS[0])
        ax.set_xticks(range(len(group)), group["knob_value"], fontsize=8, rotation=20)
        ax.axhline(1.0, color="black", linewidth=1)
        if error:
            ax.axhspan(1 - error, 1 + error, color="gray", alpha=0.15, label="measured error")
        ax.set_title(knob, fontsize=9)
        ax.set_xlabel("setting (as swept)", fontsize=8)
        ax.set_ylabel("looped / peer tokens/s (ratio)", fontsize=8)
        ax.grid(True, alpha=0.3)
    if error:
        axes[0].legend(fontsize=8)
    return figure


FIGURES: tuple[FigureDef, ...] = (
    FigureDef("quality_pareto", "Quality against speed, per chip",
              "Every decoding design with a published quality: the looped model at each loop count (joined, "
              "trained depth starred, depths past it hollow) and the standard models (squares); the step line "
              "is the front of designs no other beats on both quality and speed.", quality_pareto),
    FigureDef("context", "Decode speed against context length",
              "Decode tokens/s of the comparison set's models from short to long context on one chip; a cross "
              "marks a context whose footprint exceeds the chip's memory.", context_length),
    FigureDef("sensitivity", "Sensitivity: what would flip the answer",
              "The looped model's tokens/s over the fastest equal-quality standard model's as one chip parameter "
              "changes at a time; the grey band is the chip class's measured decode error.", sensitivity),
    FigureDef("loop_depth", "Latency and throughput against loop depth",
              "TTFT, TPOT and tokens/s of the looped model at each loop depth, one line per chip and quantisation; "
              "the dotted line is the depth the model was trained at (published quality drops past it).",
              loop_depth),
    FigureDef("energy", "Energy per token by component",
              "Energy per generated token split into compute, SRAM, DRAM and static energy, per design on each chip.",
              energy_components),
    FigureDef("dram_traffic", "DRAM traffic by cause",
              "DRAM bytes per generated token: first fetch of unique weights, re-fetch after eviction, KV cache "
              "and activation spill.", dram_traffic),
    FigureDef("memory", "Memory footprint against device capacity",
              "Weights + KV cache + working activations of each design, against each chip's main memory.",
              memory_footprint),
    FigureDef("roofline", "Roofline with the ops placed",
              "Each op of the focus run at its arithmetic intensity (FLOPs per DRAM byte after SRAM residency) "
              "and attained FLOP/s (FLOPs over the longer of the time it adds to the run and its own DRAM "
              "transfer time), under the device's peak roofs.", roofline),
    FigureDef("pareto", "Pareto front", "Every decoding design point; the front is circled and labelled.", pareto),
    FigureDef("residency", "SRAM-size residency curve",
              "DRAM bytes per generated token as the SRAM grows, simulated event by event at each size.", residency),
    FigureDef("timeline", "One decode step",
              "The last simulated decode step of the focus run (top) and one layer of it (bottom): DRAM transfers "
              "on the DMA lane overlap compute on the matrix and vector engines; colour = what the op does, "
              "hatching = the op waits on DRAM. The simulator runs the first loop iteration and one steady "
              "iteration, which stands for the remaining ones (extrapolated, not drawn).", timeline),
)


EQUAL_QUALITY = frozenset({"quality_pareto", "context", "sensitivity"})   # drawn by equal-quality reports only


def build_all(data: ReportData) -> list[tuple[FigureDef, object]]:
    """(definition, Figure or None) for every registered figure (an equal-quality report draws
    quality_pareto instead of the plain Pareto front; the others skip the equal-quality ones)."""
    skip = {"pareto"} if data.iso is not None else EQUAL_QUALITY
    return [(definition, definition.build(data)) for definition in FIGURES if definition.name not in skip]


def save(figure, path: Path) -> Path:
    figure.savefig(path, dpi=DPI)
    return path
