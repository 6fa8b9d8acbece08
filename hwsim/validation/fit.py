"""Fit efficiencies from measured rows, per device and per device class, and judge them on
devices left out of the fit.

For each row, the efficiency that makes the simulator reproduce the measurement is solved for
("implied efficiency"): decode rows imply the achievable DRAM-bandwidth fraction, prefill rows
the achievable matrix-engine fraction (given the DRAM fit). Then, in log space:

    decode:   ln e(device, format) = u(device) + g(format)          (g(q4_0) = 0)
              u(device)            = a(class) + b(class) * log2(bandwidth / 100 GB/s)
    prefill:  ln c(device)         = v(device),  v(device) = a'(class)

A preset with measurements gets its own u / v; one without takes its class model evaluated at
its bandwidth, or the model pooled over all classes when its class has no data. Leave-one-
device-out refits everything without the device and predicts it from its class model only:
that error, not the in-sample one, says how well the calibration transfers.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Callable

from hwsim.calibration import REFERENCE_BANDWIDTH_BYTES_PER_S, apply_calibration, with_efficiencies
from hwsim.spec.hardware import HardwareSpec
from hwsim.validation.mapping import Case
from hwsim.validation.predict import case_hardware, case_model, predict_seconds

REFERENCE_FORMAT = "q4_0"
# A class slope needs this many devices spanning at least a doubling of bandwidth; with fewer,
# the class keeps one intercept (a slope from two points would memorise them).
MIN_DEVICES_FOR_SLOPE = 3
FIT_GROUPS = ("decode", "prefill")
MIN_EFFICIENCY = 0.01
# Prefill may not push the matrix fraction so low that the device's decode turns compute-bound
# by more than this (one scalar covers both GEMM and GEMV; decode is the tighter target).
DECODE_SLOWDOWN_ALLOWED = 1.02


@dataclass(frozen=True)
class Implied:
    """The efficiency one measured row implies, with what it is keyed by."""

    case: Case
    device: str
    device_class: str
    weight_format: str
    group: str
    efficiency: float
    saturated: bool   # the row is faster than the simulator at efficiency 1 (clamped)


def solve_efficiency(seconds_at: Callable[[float], float], target_s: float,
                     tolerance: float = 1e-3) -> tuple[float, bool]:
    """Efficiency e in [MIN_EFFICIENCY, 1] with seconds_at(e) == target_s, by bisection on ln e
    (time never falls as efficiency falls, but it can be flat where another resource bounds
    it, which defeats secant steps). Returns (e, clamped): clamped when even e = 1 is too slow
    or e = MIN_EFFICIENCY too fast."""
    if seconds_at(1.0) >= target_s:
        return 1.0, True
    if seconds_at(MIN_EFFICIENCY) <= target_s:
        return MIN_EFFICIENCY, True
    low, high = math.log(MIN_EFFICIENCY), 0.0
    while high - low > 1e-5:
        middle = (low + high) / 2
        seconds = seconds_at(math.exp(middle))
        if abs(seconds / target_s - 1.0) < tolerance:
            return math.exp(middle), False
        low, high = (middle, high) if seconds > target_s else (low, middle)
    return math.exp((low + high) / 2), False


def weight_format(case: Case) -> str:
    return case_model(case.model, case.quant).quant.weight.name


def _at_dram(hardware: HardwareSpec, efficiency: float) -> HardwareSpec:
    return with_efficiencies(hardware, {"dram_efficiency": efficiency, "dram_efficiency_by_format": {}})


def implied_efficiencies(cases: list[Case], engine: str = "roofline") -> list[Implied]:
    """Solve every decode row for its DRAM fraction, then every prefill row for its matrix
    fraction with the DRAM fraction its device and format showed in decode."""
    fit_cases = [c for c in cases if c.row.spec.group in FIT_GROUPS and fit_eligible(c)]
    implied: list[Implied] = []
    for case in (c for c in fit_cases if c.row.spec.group == "decode"):
        hardware = case_hardware(case.hardware)
        e, saturated = solve_efficiency(
            lambda eff: predict_seconds(case, _at_dram(hardware, eff), engine), case.row.seconds)
        implied.append(_implied(case, hardware, e, saturated))
    decode_fit = fit_calibration(implied, {c.hardware: case_hardware(c.hardware) for c in fit_cases})
    floors = {}
    for case in (c for c in fit_cases if c.row.spec.group == "decode"):
        base = apply_calibration(case_hardware(case.hardware), decode_fit)
        floors[case.hardware] = max(floors.get(case.hardware, MIN_EFFICIENCY), _matrix_floor(case, base, engine))
    for case in (c for c in fit_cases if c.row.spec.group == "prefill"):
        base = apply_calibration(case_hardware(case.hardware), decode_fit)
        c_eff, clamped = solve_efficiency(
            lambda eff: predict_seconds(case, with_efficiencies(base, {"matrix_efficiency": eff}), engine),
            case.row.seconds)
        floor = floors.get(case.hardware, MIN_EFFICIENCY)
        implied.append(_implied(case, base, max(c_eff, floor), clamped or c_eff < floor))
    return implied


def _matrix_floor(case: Case, hardware: HardwareSpec, engine: str) -> float:
    """The lowest matrix fraction that keeps this decode row within DECODE_SLOWDOWN_ALLOWED of
    its time at full matrix rate."""
    def seconds_at(eff):
        return predict_seconds(case, with_efficiencies(hardware, {"matrix_efficiency": eff}), engine)
    return solve_efficiency(seconds_at, seconds_at(1.0) * DECODE_SLOWDOWN_ALLOWED)[0]


def fit_eligible(case: Case) -> bool:
    """Rows the fit may learn from: decode / prefill of a standard model (the one looped-model
    anecdote runs an eager reference implementation and would teach the wrong runtime)."""
    return not case_model(case.model, case.quant).is_looped


def _implied(case: Case, hardware: HardwareSpec, efficiency: float, saturated: bool) -> Implied:
    return Implied(case, case.hardware, hardware.device_class, weight_format(case), case.row.spec.group,
                   efficiency, saturated)


def fit_calibration(implied: list[Implied], hardware: dict[str, HardwareSpec],
                    exclude: tuple[str, ...] = (), provenance: str = "") -> dict:
    """The calibration document (see hwsim/calibration.py) from implied efficiencies, leaving
    out the devices in `exclude`."""
    rows = [i for i in implied if i.device not in exclude]
    decode = defaultdict(list)
    for i in (r for r in rows if r.group == "decode"):
        decode[(i.device, i.weight_format)].append(math.log(i.efficiency))
    cell = {key: sum(v) / len(v) for key, v in decode.items()}
    device_effect, format_offset = _additive_fit(cell)
    prefill = defaultdict(list)
    for i in (r for r in rows if r.group == "prefill"):
        prefill[i.device].append(math.log(i.efficiency))
    matrix_effect = {d: sum(v) / len(v) for d, v in prefill.items()}

    def log2_bw(device):
        return math.log2(hardware[device].main_memory.bandwidth_bytes_per_s / REFERENCE_BANDWIDTH_BYTES_PER_S)

    presets = {}
    for device in sorted(set(device_effect) | set(matrix_effect)):
        entry: dict = {"class": hardware[device].device_class}
        if device in device_effect:
            u = device_effect[device]
            entry["dram_efficiency"] = _round(math.exp(u))
            by_format = {f: _round(math.exp(u + g)) for f, g in format_offset.items()}
            by_format.update({f: _round(math.exp(v)) for (d, f), v in cell.items() if d == device})
            entry["dram_efficiency_by_format"] = by_format
        if device in matrix_effect:
            entry["matrix_efficiency"] = _round(math.exp(matrix_effect[device]))
        used = [i for i in rows if i.device == device]
        entry["rows"] = len(used)
        entry["saturated_rows"] = sum(i.saturated for i in used)
        entry["provenance"] = f"fitted from {len(used)} measured rows ({', '.join(sorted({i.case.row.id for i in used})[:3])}, ...)"
        presets[device] = entry

    classes = {}
    all_classes = {h.device_class for h in hardware.values()} | {
        "apple_gpu", "datacenter_gpu", "consumer_gpu", "edge_gpu", "mobile_npu", "edge_npu", "cpu",
        "sram_accelerator"}
    pooled_dram = _line([(log2_bw(d), u) for d, u in device_effect.items()], allow_slope=False)
    pooled_matrix = _mean(list(matrix_effect.values()))
    for cls in sorted(all_classes):
        members = [d for d in device_effect if hardware[d].device_class == cls]
        dram = _line([(log2_bw(d), device_effect[d]) for d in members], allow_slope=True)
        m_members = [d for d in matrix_effect if hardware[d].device_class == cls]
        entry = {}
        if dram is not None:
            entry["dram"] = {**dram, "devices": sorted(members)}
        elif pooled_dram is not None:
            entry["dram"] = {**pooled_dram, "devices": [], "pooled": True}
        if m_members:
            entry["matrix"] = {"intercept": round(_mean([matrix_effect[d] for d in m_members]), 4),
                               "devices": sorted(m_members)}
        elif pooled_matrix is not None:
            entry["matrix"] = {"intercept": round(pooled_matrix, 4), "devices": [], "pooled": True}
        if entry:
            classes[cls] = entry
    return {
        "provenance": provenance or f"hwsim calibrate measured, {date.today().isoformat()}",
        "method": "ln dram_eff = a(class) + b(class)*log2(bw/100 GB/s) + g(format); "
                  "ln matrix_eff = a'(class); per preset: its own fit",
        "format_offsets": {f: round(g, 4) for f, g in sorted(format_offset.items())},
        "classes": classes,
        "presets": presets,
    }


def _additive_fit(cell: dict[tuple[str, str], float], iterations: int = 50):
    """Least squares ln e(d, f) = u(d) + g(f) with g(REFERENCE_FORMAT) = 0, by alternating means."""
    devices = sorted({d for d, _ in cell})
    formats = sorted({f for _, f in cell})
    offset = {f: 0.0 for f in formats}
    effect = {d: 0.0 for d in devices}
    for _ in range(iterations):
        effect = {d: _mean([v - offset[f] for (dd, f), v in cell.items() if dd == d]) for d in devices}
        offset = {f: _mean([v - effect[d] for (d, ff), v in cell.items() if ff == f]) for f in formats}
        ref = offset.get(REFERENCE_FORMAT, 0.0)
        offset = {f: g - ref for f, g in offset.items()}
    # A format seen on one device only cannot be told apart from that device: no offset.
    shared = {f for f in formats if sum(1 for _, ff in cell if ff == f) >= 2}
    offset = {f: (g if f in shared else 0.0) for f, g in offset.items()}
    effect = {d: _mean([v - offset[f] for (dd, f), v in cell.items() if dd == d]) for d in devices}
    return effect, offset


def _line(points: list[tuple[float, float]], allow_slope: bool) -> dict | None:
    """Intercept (and slope where the data can carry one) of y over x."""
    if not points:
        return None
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    if allow_slope and len(points) >= MIN_DEVICES_FOR_SLOPE and max(xs) - min(xs) >= 1.0:
        mx, my = _mean(xs), _mean(ys)
        slope = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x in xs)
        return {"intercept": round(my - slope * mx, 4), "slope": round(slope, 4)}
    return {"intercept": round(_mean(ys), 4), "slope": 0.0}


def _mean(values):
    return sum(values) / len(values) if values else None


def _round(value: float) -> float:
    return round(min(1.0, max(0.01, value)), 4)
