"""The summary table and the one formatter every number in a report goes through.

The conclusion quotes the table, so both format with `fmt`: a number reads the same wherever
it appears. Display units (ms, tok/s, mJ, GB) appear only here.
"""

from __future__ import annotations

import math

import pandas as pd

from hwsim.units import human

# (total, header, display unit); the display unit is passed to `human`, which picks the prefix.
METRICS = {
    "tokens_per_s": ("tokens/s", "tok/s"),
    "ttft_s": ("TTFT", "s"),
    "tpot_s": ("TPOT", "s"),
    "energy_per_token_j": ("energy/token", "J"),
    "power_w": ("power", "W"),
    "dram_bytes_per_token": ("DRAM/token", "B"),
    "memory_footprint_bytes": ("footprint", "B"),
    "memory_capacity_bytes": ("capacity", "B"),
    "latency_s": ("latency", "s"),
    "energy_j": ("energy", "J"),
    "compute_utilization": ("compute util.", "%"),
    "sram_bytes": ("SRAM", "MiB"),
}
LABEL_COLUMNS = {"hardware": "hardware", "design": "design", "quant": "quant", "loops": "loops"}
TABLE_METRICS = ("tokens_per_s", "ttft_s", "tpot_s", "energy_per_token_j", "power_w", "dram_bytes_per_token",
                 "memory_footprint_bytes")
ADVANTAGE = "advantage"        # the winner's objective over this row's, on the same chip


def fmt(metric: str, value) -> str:
    """Display text of one value of `metric` (a SimResult total, `advantage`, or a label)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if metric == ADVANTAGE:
        return f"{value:.2f}x"
    if metric in ("fits",):
        return "yes" if bool(value) else "no"
    if metric == "sram_bytes":
        return f"{float(value) / 2**20:g} MiB"
    if metric == "compute_utilization":
        return f"{100 * float(value):.1f} %"
    if metric in METRICS:
        value = float(value)
        if value == 0 and metric == "tpot_s":
            return "-"
        return human(value, METRICS[metric][1])
    if metric == "loops":
        return "-" if value is None else str(int(value))
    return str(value)


def header(metric: str) -> str:
    if metric == ADVANTAGE:
        return "winner's lead"
    return METRICS[metric][0] if metric in METRICS else LABEL_COLUMNS.get(metric, metric)


def ranked(results: pd.DataFrame, objective: tuple[str, str]) -> pd.DataFrame:
    """Usable rows grouped by chip (chips in input order), best first by the objective, with
    `rank` (1 = best on its chip, decoding designs and prefill-only tasks ranked apart) and
    `advantage`: how many times better the chip's best is than this row (1.00x for the best)."""
    from hwsim.report.collect import usable_rows

    metric, sense = objective
    rows = usable_rows(results).copy()
    rows[metric] = pd.to_numeric(rows[metric], errors="coerce")
    order = {name: i for i, name in enumerate(dict.fromkeys(results["hardware"]))}
    rows["_chip"] = rows["hardware"].map(order)
    rows = rows.sort_values(["_chip", "has_decode", metric], ascending=[True, False, sense == "min"],
                            kind="stable")
    group = rows.groupby(["hardware", "has_decode"], sort=False)[metric]
    rows["rank"] = group.cumcount() + 1
    best = group.transform("first")
    rows[ADVANTAGE] = best / rows[metric] if sense == "max" else rows[metric] / best
    return rows.drop(columns="_chip")


def summary_table(results: pd.DataFrame, objective: tuple[str, str]) -> pd.DataFrame:
    """The report's table as display strings: one row per usable design point, with the
    columns the conclusion quotes. Index aligned with `ranked`."""
    rows = ranked(results, objective)
    columns = ["hardware", "design", "quant", *TABLE_METRICS, ADVANTAGE, "bound"]
    table = pd.DataFrame({header(c): [fmt(c, v) for v in rows[c]] for c in columns}, index=rows.index)
    return table


RESIDENCY_METRICS = ("sram_bytes", "loops", "dram_bytes_per_token", "tpot_s", "tokens_per_s", "energy_per_token_j",
                     "bound")


def residency_rows(residency: pd.DataFrame | None) -> pd.DataFrame | None:
    """The residency curve's finished points, by loop count then SRAM size."""
    if residency is None or residency.empty:
        return None
    rows = residency[residency["status"] == "ok"]
    return rows.sort_values(["loops", "sram_bytes"], kind="stable") if len(rows) else None


def residency_table(rows: pd.DataFrame) -> pd.DataFrame:
    """`residency_rows` as display strings (what the conclusion's SRAM numbers quote)."""
    return pd.DataFrame({header(c): [fmt(c, v) for v in rows[c]] for c in RESIDENCY_METRICS}, index=rows.index)


def to_markdown(table: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- equal quality

QUALITY = "quality"            # a design's published quality (the report's iso_quality.quality column)
RATIO = "looped_ratio"         # the looped design's tokens/s over this row's, same chip
EXTRA_HEADERS = {QUALITY: "quality", "quality_source": "quality source", RATIO: "looped / this",
                 "tokens_low": "tokens/s low", "tokens_high": "tokens/s high", "verdict": "verdict",
                 "prompt_len": "context", "fits": "fits", "knob": "knob", "knob_value": "value",
                 "peer": "peer", "peer_tokens_per_s": "peer tokens/s", "error": "measured error (%)",
                 "member": "model", "design": "design", "hardware": "hardware", "quant": "quant"}
ISO_COLUMNS = ("hardware", "design", "quant", QUALITY, "quality_source", "tokens_per_s", "error", "tokens_low",
               "tokens_high", "energy_per_token_j", "memory_footprint_bytes", RATIO, "verdict", "bound")
DEPTH_COLUMNS = ("hardware", "design", "loops", QUALITY, "quality_source", "tokens_per_s", "energy_per_token_j",
                 "dram_bytes_per_token")
CONTEXT_COLUMNS = ("design", "prompt_len", "tokens_per_s", "memory_footprint_bytes", "memory_capacity_bytes", "fits")
SENSITIVITY_COLUMNS = ("knob", "knob_value", "design", "tokens_per_s", "peer", "peer_tokens_per_s", RATIO, "verdict")


def fmt_extra(metric: str, value) -> str:
    """`fmt` plus the equal-quality tables' columns (quality in points, ratios, bands, context)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if metric == QUALITY or metric.startswith(("quality.", "checkpoint_quality.")):
        return f"{float(value):.2f}"
    if metric == RATIO:
        return f"{float(value):.2f}x"
    if metric in ("tokens_low", "tokens_high", "peer_tokens_per_s"):
        return human(float(value), "tok/s")
    if metric == "prompt_len":
        return str(int(value))
    if metric == "error":
        return f"{100 * float(value):.1f}"
    return fmt(metric, value)


def header_extra(metric: str) -> str:
    if metric.startswith("quality."):
        return metric.removeprefix("quality.")
    return EXTRA_HEADERS.get(metric) or header(metric)


def display(rows: pd.DataFrame, columns) -> pd.DataFrame:
    """Rows as display strings under their headers (what a conclusion quotes), index kept."""
    return pd.DataFrame({header_extra(c): [fmt_extra(c, v) for v in rows[c]] for c in columns}, index=rows.index)


def verdict(ratio: float, error: float | None) -> str:
    """`looped faster` / `looped slower`, or `within error` when the ratio is within the chip
    class's measured relative error of 1."""
    if ratio is None or not math.isfinite(ratio):
        return "-"
    if error is not None and abs(ratio - 1.0) <= error:
        return "within error"
    return "looped faster" if ratio > 1 else "looped slower"
