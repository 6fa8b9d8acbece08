"""Gather what a report shows: design points from sweep outputs, the focus point's full
simulation (per-op costs and timeline), and the SRAM-size residency curve.

Everything runs through the sweep machinery (`run_sweep`: journal, roofline pruning, worker
processes), so a report of a preset and a report of `hwsim sweep` output read the same tables.
Each row gets the standard columns the figures and tables use: `design` (model and loop
count), `model`, `loops`, `quant`, `hardware`, `has_decode`, `tokens`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hwsim.errors import ConfigError
from hwsim.report.presets import load_report
from hwsim.spec import loader
from hwsim.spec.hardware import HardwareSpec
from hwsim.sweep import SweepSpec, resolve_points, run_sweep
from hwsim.sweep.analysis import pareto_mask
from hwsim.sweep.spec import Point

LOOP_AXIS = "model.loop.count"


@dataclass
class ReportData:
    """The numbers behind one report (all SI units)."""

    name: str
    title: str
    question: str
    objective: tuple[str, str]                 # (total, "min" | "max") that picks the winner
    pareto: dict[str, str]
    results: pd.DataFrame                      # one row per design point
    focus_label: str = ""
    focus: Any = None                          # SimResult of the focus point (DES, e2e)
    focus_hardware: HardwareSpec | None = None
    residency: pd.DataFrame | None = None      # loops, sram_bytes, dram_bytes_per_token, ...
    residency_label: str = ""
    sources: dict[str, Any] = field(default_factory=dict)   # inputs echoed in the manifest
    notes: list[str] = field(default_factory=list)
    iso: Any = None                            # IsoQualitySpec: compare at equal quality
    comparison: Any = None                     # its ComparisonSet
    quality_table: pd.DataFrame | None = None  # published scores of the set's members
    context: pd.DataFrame | None = None        # members' decode speed against context length
    sensitivity: pd.DataFrame | None = None    # members under each knob value (`knob`, `knob_value`)
    errors: dict[str, float] = field(default_factory=dict)   # hardware name -> measured decode error
    error_source: str = ""


def design_label(model_name: str, loops: int | None) -> str:
    """`Ouro-1.4B x4` for a looped model at 4 loops, the model name otherwise."""
    return f"{model_name} x{loops}" if loops else model_name


def point_columns(points: list[Point]) -> pd.DataFrame:
    """The standard per-point columns, read from the resolved specs (not from axis labels, so a
    sweep that fixes the model with `set` reads the same as one that sweeps it)."""
    rows = []
    for point in points:
        model, hardware = point.model, point.hardware
        loops = int(model.loop.count) if model.is_looped and model.loop.count else None
        rows.append({"design": design_label(model.name, loops), "model": model.name, "loops": loops,
                     "quant": model.quant.name, "hardware": hardware.name,
                     "hardware_class": hardware.device_class, "has_decode": bool(model.has_decode),
                     "kv_policy": model.loop.kv_policy if model.is_looped else None,
                     "batch": point.run.batch, "prompt_len": point.run.prompt_len,
                     "gen_len": point.run.gen_len, "phase": point.run.phase})
    return pd.DataFrame(rows)


def annotate(plan_points: list[Point], frame: pd.DataFrame) -> pd.DataFrame:
    """Sweep results + the standard columns (+ `tokens` a run delivered)."""
    if len(plan_points) != len(frame) or list(frame["point"]) != [p.key for p in plan_points]:
        raise ConfigError("sweep results do not match the sweep spec in its manifest (re-run the sweep)")
    columns = point_columns(plan_points)
    frame = frame.drop(columns=[c for c in columns if c in frame], errors="ignore").reset_index(drop=True)
    result = pd.concat([columns, frame], axis=1)
    result["tokens"] = pd.to_numeric(result["tokens_per_s"], errors="coerce") * \
        pd.to_numeric(result["latency_s"], errors="coerce")
    return result


def _run(spec: SweepSpec, out_dir: Path, engine: str, jobs: int | None, progress: bool) -> pd.DataFrame:
    frame = run_sweep(spec, out_dir, jobs=jobs, engine=engine, progress=progress)
    return annotate(resolve_points(spec).points, frame)


def _single_point_spec(base: dict[str, Any], labels: dict[str, Any], objectives: dict[str, str],
                       name: str, extra_axes: dict[str, list] | None = None, **run) -> SweepSpec:
    """A sweep of one point (axes with one value each), plus `extra_axes`: how the focus point
    and the residency curve reuse the sweep machinery's spec building."""
    axes = {path: [value] for path, value in labels.items() if path not in (extra_axes or {})}
    axes.update(extra_axes or {})
    data = {**base, **run, "name": name, "axes": axes, "objectives": objectives}
    data.pop("constraints", None)
    return loader.validate(SweepSpec, data, f"report point {name}")


def _member_specs(report, name: str, hardware: str, axes: dict[str, list], gen_len: int,
                  looped_only: bool = False, only: set[str] | None = None) -> list[SweepSpec]:
    """Sweeps of the comparison set's members with a model preset (decode phase, the iso table's
    format): one per looped member at its loop count, one for the standard members together."""
    from hwsim.quality.comparisons import member_model

    comparison, iso = report.comparison(), report.iso_quality
    base = {**report.run.model_dump(), "phase": "decode", "gen_len": gen_len, "hardware": hardware,
            "constraints": ["fits == True"], "objectives": report.pareto,
            "quality_group": comparison.quality_group}
    standard, specs = [], []
    for i, member in enumerate(comparison.members):
        model = member_model(member)
        if model is None or (only is not None and member.preset not in only):
            continue
        if not model.is_looped:
            standard.append(member.preset)
            continue
        fixed = {"model.quant": iso.quant, **({"model.loop.count": member.loops} if member.loops else {})}
        specs.append(loader.validate(SweepSpec, {**base, "name": f"{name}-{i}", "model": member.preset,
                                                 "set": fixed, "axes": axes}, f"report {name}"))
    if standard:
        # a loop-only knob leaves the standard members at the base configuration
        own = {"batch": [report.run.batch]} if looped_only else axes
        specs.append(loader.validate(SweepSpec, {**base, "name": f"{name}-standard", "set": {"model.quant": iso.quant},
                                                 "axes": {"model": standard, **own}}, f"report {name}"))
    return specs


def iso_peers(table: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    """The set's looped member (first row) and the members with a preset whose published average
    is at least the looped one's minus `tolerance` (equal or better quality); if none, the best."""
    looped, others = table.iloc[0], table.iloc[1:]
    others = others[others["preset"].notna()]
    peers = others[others["avg"] >= looped["avg"] - tolerance]
    if peers.empty and len(others):
        peers = others.loc[[others["avg"].idxmax()]]
    return pd.concat([table.iloc[[0]], peers])


def _iso_quality(report, data: ReportData, out_dir: Path, jobs: int | None, progress: bool) -> None:
    """The comparison set's quality table, the context-length sweep, the sensitivity knobs and
    the measured error of each chip's class."""
    from hwsim.quality.comparisons import quality_table

    data.iso, data.comparison = report.iso_quality, report.comparison()
    data.quality_table = quality_table(data.comparison)
    if report.context is not None:
        ctx = report.context
        frames = [_run(spec, out_dir / spec.name, report.engine, jobs, progress)
                  for spec in _member_specs(report, "context", ctx.hardware, {"prompt_len": ctx.prompt_len},
                                            ctx.gen_len)]
        data.context = pd.concat(frames, ignore_index=True)
    if report.sensitivity is not None:
        sens, frames = report.sensitivity, []
        peers = set(iso_peers(data.quality_table, report.iso_quality.tolerance)["preset"])
        for k, knob in enumerate(report.sensitivity.knobs):
            for spec in _member_specs(report, f"knob{k}", sens.hardware, {knob.path: knob.values}, sens.gen_len,
                                      knob.looped_only, peers):
                frame = _run(spec, out_dir / spec.name, report.engine, jobs, progress)
                value = frame[knob.path].astype(str) if knob.path in frame else None
                frames.append(frame.assign(knob=knob.label, knob_value=value))
        data.sensitivity = pd.concat(frames, ignore_index=True)
    if report.uncertainty is not None:
        data.error_source = report.uncertainty.source
        frames = [f for f in (data.results, data.context, data.sensitivity) if f is not None]
        chips = dict(zip(pd.concat([f["hardware"] for f in frames]), pd.concat([f["hardware_class"] for f in frames])))
        data.errors = {chip: report.uncertainty.decode_error[cls] for chip, cls in chips.items()
                       if cls in report.uncertainty.decode_error}


def _focus(spec: SweepSpec, out_dir: Path):
    from hwsim.sim import simulate

    point = resolve_points(spec).points[0]
    run = point.run
    result = simulate(point.model, point.hardware, phase=run.phase, prompt_len=run.prompt_len,
                      gen_len=run.gen_len, batch=run.batch, policy=run.policy, engine="des")
    return result, point


def _residency(base: dict[str, Any], labels: dict[str, Any], point: Point, sram: list[str],
               loops: list[int], gen_len: int, policy: str, objectives: dict[str, str], out_dir: Path,
               jobs: int | None, progress: bool) -> tuple[pd.DataFrame | None, str]:
    hardware = point.hardware
    if hardware.dram is None or hardware.sram is None:
        return None, f"{hardware.name} has no SRAM buffer in front of a DRAM: no residency curve"
    level = next(name for name, spec in hardware.memory.items() if spec.kind == "sram")
    axes: dict[str, list] = {f"hardware.memory.{level}.capacity": list(sram)}
    if point.model.is_looped and loops:
        axes[LOOP_AXIS] = list(loops)
    spec = _single_point_spec(base, labels, objectives, "residency", axes, phase="decode", gen_len=gen_len,
                              policy=policy)
    frame = _run(spec, out_dir, "des", jobs, progress)
    frame["sram_bytes"] = [p.hardware.sram.capacity_bytes for p in resolve_points(spec).points]
    label = (f"{point.model.name} {point.model.quant.name} on {hardware.name}, decode of {gen_len} tokens "
             f"after {point.run.prompt_len}, policy {policy}")
    return frame, label


def default_sram_sizes(point: Point, count: int = 5) -> list[str]:
    """From the device's SRAM up to twice the model's unique weights, geometric: the range in
    which residency can change the DRAM traffic."""
    from hwsim.workload.weights import unique_weight_bytes

    low = point.hardware.sram.capacity_bytes
    high = max(2.0 * unique_weight_bytes(point.model), 4.0 * low)
    mib = [low * (high / low) ** (i / (count - 1)) / 2**20 for i in range(count)]
    return [f"{max(1, round(x))} MiB" for x in mib]


# ----------------------------------------------------------------------------- entry points


def from_preset(name_or_path: str, out_dir: Path, jobs: int | None = None, progress: bool = True) -> ReportData:
    """Run a report preset's sweeps, focus point and residency curve."""
    report, origin = load_report(name_or_path)
    specs = report.sweep_specs(origin)
    sweeps_dir = out_dir / "sweeps"
    frames = [_run(spec, sweeps_dir / key, report.engine, jobs, progress) for key, spec in specs.items()]
    results = pd.concat(frames, ignore_index=True)
    run = report.run.model_dump()
    focus_spec = _single_point_spec(run, report.focus, report.pareto, "focus")
    focus, point = _focus(focus_spec, sweeps_dir / "focus")
    data = ReportData(name=report.name, title=report.title, question=report.question,
                      objective=report.objective_metric, pareto=dict(report.pareto),
                      results=_with_pareto(results, report.pareto),
                      focus=focus, focus_hardware=point.hardware, focus_label=_point_label(point),
                      sources={"report": origin, "sweeps": {k: s.model_dump(mode="json", by_alias=True)
                                                            for k, s in specs.items()},
                               "focus": report.focus, "engine": report.engine})
    if report.iso_quality is not None:
        _iso_quality(report, data, sweeps_dir, jobs, progress)
        data.sources["iso_quality"] = report.iso_quality.model_dump()
    if report.residency is not None:
        r = report.residency
        data.residency, text = _residency(run, report.focus, point, r.sram, r.loops, r.gen_len, r.policy,
                                          report.pareto, sweeps_dir / "residency", jobs, progress)
        _attach_residency(data, text)
        data.sources["residency"] = r.model_dump()
    return data


def from_results(results_dir: Path, out_dir: Path, jobs: int | None = None, progress: bool = True) -> ReportData:
    """A report of `hwsim sweep` output: its results, its best point re-simulated for the
    roofline and timeline figures, and a residency curve around that point."""
    manifest_path = results_dir / "manifest.json"
    if not manifest_path.is_file():
        raise ConfigError(f"{results_dir}: no manifest.json (expected the --out directory of `hwsim sweep`)")
    try:
        manifest = json.loads(manifest_path.read_text())
        spec_data = manifest["spec"]
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"{manifest_path}: unreadable sweep manifest ({exc})") from None
    spec = loader.validate(SweepSpec, spec_data, str(manifest_path))
    table = results_dir / "results.csv"
    if not table.is_file():
        raise ConfigError(f"{results_dir}: no results.csv (did the sweep finish?)")
    plan = resolve_points(spec)
    results = annotate(plan.points, _read_results(table))
    objective = next(iter(spec.objectives.items()))
    pareto = dict(spec.objectives) if len(spec.objectives) >= 2 else \
        {**spec.objectives, **{"energy_per_token_j": "min"}}
    results = _with_pareto(results, pareto)
    data = ReportData(name=spec.name, title=f"Sweep {spec.name}",
                      question=spec.description or f"Which point of sweep {spec.name} is best by "
                                                   f"{objective[0]} ({objective[1]})?",
                      objective=objective, pareto=pareto, results=results,
                      sources={"sweep": manifest, "results_dir": results_dir.name})
    best = _best_index(results, objective)
    if best is None:
        data.notes.append("no point ran and met the constraints: no focus point, roofline or timeline")
        return data
    point = plan.points[best]
    base = {k: v for k, v in spec.model_dump(by_alias=True).items() if k not in ("axes", "objectives", "name")}
    labels = dict(point.labels)
    focus, point = _focus(_single_point_spec(base, labels, pareto, "focus"), out_dir)
    data.focus, data.focus_hardware, data.focus_label = focus, point.hardware, _point_label(point)
    if point.model.has_decode and point.hardware.sram is not None and point.hardware.dram is not None:
        loops = [int(point.model.loop.count)] if point.model.is_looped else []
        data.residency, text = _residency(base, labels, point, default_sram_sizes(point), loops, 64, "lru",
                                          pareto, out_dir / "sweeps" / "residency", jobs, progress)
        _attach_residency(data, text)
    return data


def _read_results(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    frame["feasible"] = frame["feasible"].astype(str).str.lower() == "true"
    return frame


def _attach_residency(data: ReportData, text: str) -> None:
    if data.residency is None:
        data.notes.append(text)
    else:
        data.residency_label = text


def _with_pareto(results: pd.DataFrame, objectives: dict[str, str]) -> pd.DataFrame:
    """Pareto membership over the decoding designs (a prefill-only task's tokens/s counts task
    positions, not generated tokens, so it is not on the same axis)."""
    frame = results.copy()
    decoding = frame["has_decode"].astype(bool)
    mask = pareto_mask(frame[decoding], objectives) if decoding.any() else pd.Series(dtype=bool)
    frame["pareto"] = False
    frame.loc[mask[mask].index, "pareto"] = True
    return frame


def usable_rows(results: pd.DataFrame) -> pd.DataFrame:
    """Rows that ran and meet their sweep's constraints."""
    return results[(results["status"] == "ok") & results["feasible"].astype(bool)]


def _best_index(results: pd.DataFrame, objective: tuple[str, str]) -> int | None:
    rows = usable_rows(results)
    decoding = rows[rows["has_decode"].astype(bool)]
    rows = decoding if len(decoding) else rows
    values = pd.to_numeric(rows[objective[0]], errors="coerce")
    values = values[np.isfinite(values)]
    if values.empty:
        return None
    return int(values.idxmax() if objective[1] == "max" else values.idxmin())


def _point_label(point: Point) -> str:
    loops = int(point.model.loop.count) if point.model.is_looped and point.model.loop.count else None
    run = point.run
    return (f"{design_label(point.model.name, loops)} {point.model.quant.name} on {point.hardware.name} "
            f"({run.phase}, prompt {run.prompt_len}, {run.gen_len} generated, batch {run.batch})")
