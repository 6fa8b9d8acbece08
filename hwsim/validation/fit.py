"""Fit efficiencies and launch overheads from measured rows, per device and per device class,
and judge them on devices left out of the fit.

For each row, the figure that makes the simulator reproduce the measurement is solved for
("implied efficiency"): decode rows imply the achievable DRAM-bandwidth fraction (at each
candidate per-op launch overhead), prefill rows the matrix-engine fraction the runtime reaches
at prefill sizes (given the decode fit), GEMM kernel rows one point of a measured size-dependent
efficiency curve. Then, in log space:

    decode:   ln e(device, format) = u(device) + g(format)          (g(q4_0) = 0)
              u(device)            = a(class) + b(class) * log2(bandwidth / 100 GB/s)
    launch:   op_launch(class)     = the grid value whose implied e are most consistent
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

from hwsim.calibration import (MIN_EFFICIENCY, REFERENCE_BANDWIDTH_BYTES_PER_S, apply_calibration,
                               clamp_fraction, with_efficiencies)
from hwsim.spec.hardware import HardwareSpec
from hwsim.validation.mapping import GEMM_SHAPE, Case
from hwsim.validation.predict import case_hardware, case_model, predict_seconds

REFERENCE_FORMAT = "q4_0"
# A class slope needs this many devices spanning at least a doubling of bandwidth; with fewer,
# the class keeps one intercept (a slope from two points would memorise them).
MIN_DEVICES_FOR_SLOPE = 3
FIT_GROUPS = ("decode", "prefill", "kernel")
# Candidate per-op launch overheads. The floor, 1 us, is a modelling choice: below it the fit
# would trade launch time against bandwidth on noise (a CUDA-graph or Metal kernel boundary still
# drains one kernel's tail and fills the next).
LAUNCH_GRID_S = tuple(x * 1e-6 for x in (1, 1.5, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 25, 32))
# A class's launch is fitted only where it binds: the best grid value must lower the spread of
# the class's implied ln e (sum of squares) by this much against the presets' own values.
LAUNCH_MIN_GAIN = 0.01
# Kernel rows time fp16 GEMMs (validation/measured.csv quant column); their curve is keyed so.
KERNEL_DTYPE = "fp16"
# Kernel-curve points within this many octaves of GEMM size are averaged into one.
CURVE_BIN_OCTAVES = 1.0


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
    launch_s: float = 0.0          # op_launch the efficiency was solved under
    preset_launch: bool = True     # launch_s is the preset's own value
    excess: float = 0.0            # ln(simulated / measured time) at efficiency 1 when saturated
    size: float = 0.0              # kernel rows: multiply-accumulates of the GEMM

    @property
    def needed(self) -> float:
        """ln of the fraction the row needs (above 0 where even the full peak is too slow)."""
        return math.log(self.efficiency) + self.excess


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
    if case.row.spec.group == "kernel":
        return KERNEL_DTYPE
    return case_model(case.model, case.quant).quant.weight.name


def _at_dram(hardware: HardwareSpec, efficiency: float) -> HardwareSpec:
    return with_efficiencies(hardware, {"dram_efficiency": efficiency, "dram_efficiency_by_format": {}})


def with_launch(hardware: HardwareSpec, launch_s: float) -> HardwareSpec:
    return hardware.model_copy(update={"overhead": hardware.overhead.model_copy(update={"op_launch": launch_s})})


def implied_efficiencies(cases: list[Case], engine: str = "roofline") -> list[Implied]:
    """Solve every decode row for its DRAM fraction at every candidate launch, then every
    prefill row for its matrix fraction, and every kernel row for its point on the size curve,
    both under the decode fit of its device."""
    fit_cases = [c for c in cases if c.row.spec.group in FIT_GROUPS and fit_eligible(c)]
    implied: list[Implied] = []
    for case in (c for c in fit_cases if c.row.spec.group == "decode"):
        preset = case_hardware(case.hardware)
        for launch_s in sorted(set(LAUNCH_GRID_S) | {preset.overhead.op_launch_s}):
            hardware = with_launch(preset, launch_s)

            def seconds_at(eff, hardware=hardware, case=case):
                return predict_seconds(case, _at_dram(hardware, eff), engine)

            e, saturated = solve_efficiency(seconds_at, case.row.seconds)
            excess = max(0.0, math.log(seconds_at(1.0) / case.row.seconds)) if saturated and e == 1.0 else 0.0
            implied.append(_implied(case, preset, e, saturated, launch_s=launch_s, excess=excess,
                                    preset_launch=launch_s == preset.overhead.op_launch_s))
    decode_fit = fit_calibration(implied, {c.hardware: case_hardware(c.hardware) for c in fit_cases})
    for case in (c for c in fit_cases if c.row.spec.group == "prefill"):
        base = apply_calibration(case_hardware(case.hardware), decode_fit)
        c_eff, clamped = solve_efficiency(
            lambda eff: predict_seconds(case, with_efficiencies(base, {"prefill_efficiency": eff}), engine),
            case.row.seconds)
        implied.append(_implied(case, base, c_eff, clamped))
    implied += _kernel_points([c for c in fit_cases if c.row.spec.group == "kernel"], decode_fit, engine)
    return implied


def _kernel_points(cases: list[Case], decode_fit: dict, engine: str) -> list[Implied]:
    """Points of a measured efficiency curve from single-GEMM timings. A benchmark harness adds a
    fixed time per call (the smallest GEMMs take ~30 us whatever their size); it is taken as the
    excess of the smallest GEMM over its time at full peak and zero launch, and subtracted."""
    points = []
    for device in sorted({c.hardware for c in cases}):
        own = [c for c in cases if c.hardware == device]
        base = apply_calibration(case_hardware(device), decode_fit)
        matrix = base.matrix.model_copy(update={"efficiency": 1.0, "efficiency_curve": {}})
        base = base.model_copy(update={"compute": {**base.compute, base.matrix_name: matrix}})
        smallest = min(own, key=lambda c: _gemm_macs(c))
        floor = max(0.0, smallest.row.seconds - predict_seconds(smallest, with_launch(base, 0.0), engine))
        at_floor = with_launch(base, floor)
        for case in own:
            e, saturated = solve_efficiency(
                lambda eff: predict_seconds(case, with_efficiencies(at_floor, {"matrix_efficiency": eff}), engine),
                case.row.seconds)
            points.append(_implied(case, base, e, saturated, launch_s=floor, preset_launch=False,
                                   size=_gemm_macs(case)))
    return points


def _gemm_macs(case: Case) -> int:
    m, n, k = (int(g) for g in GEMM_SHAPE.search(case.row.model).groups())
    return m * n * k


def fit_eligible(case: Case) -> bool:
    """Rows the fit may learn from: GEMM kernel timings, and decode / prefill of a standard model
    (the one looped-model anecdote runs an eager reference implementation and would teach the
    wrong runtime)."""
    return case.row.spec.group == "kernel" or not case_model(case.model, case.quant).is_looped


def _implied(case: Case, hardware: HardwareSpec, efficiency: float, saturated: bool, **extra) -> Implied:
    return Implied(case, case.hardware, hardware.device_class, weight_format(case), case.row.spec.group,
                   efficiency, saturated, **extra)


def choose_launch(decode: list[Implied], hardware: dict[str, HardwareSpec]) -> dict[str, float]:
    """Per class, the grid launch under which the class's decode rows imply the most consistent
    DRAM fraction (least squares around the class line, plus the squared shortfall of rows no
    fraction can reproduce), where it beats the presets' own launch values by LAUNCH_MIN_GAIN."""
    def spread(rows: list[Implied]) -> float:
        points = [(_log2_bw(hardware[i.device]), i.needed) for i in rows]
        line = _line(points, allow_slope=True)
        residual = sum((y - line["intercept"] - line["slope"] * x) ** 2 for x, y in points)
        return residual + sum(max(0.0, i.needed) ** 2 for i in rows)

    chosen = {}
    for cls in sorted({i.device_class for i in decode}):
        rows = [i for i in decode if i.device_class == cls]
        own = spread([i for i in rows if i.preset_launch])
        by_launch = {s: spread([i for i in rows if i.launch_s == s])
                     for s in LAUNCH_GRID_S if any(i.launch_s == s for i in rows)}
        best = min(by_launch, key=lambda s: (by_launch[s], s))
        if own - by_launch[best] > LAUNCH_MIN_GAIN:
            chosen[cls] = best
    return chosen


def _log2_bw(hardware: HardwareSpec) -> float:
    return math.log2(hardware.main_memory.bandwidth_bytes_per_s / REFERENCE_BANDWIDTH_BYTES_PER_S)


def fit_calibration(implied: list[Implied], hardware: dict[str, HardwareSpec],
                    exclude: tuple[str, ...] = (), provenance: str = "") -> dict:
    """The calibration document (see hwsim/calibration.py) from implied efficiencies, leaving
    out the devices in `exclude`."""
    rows = [i for i in implied if i.device not in exclude]
    all_decode = [r for r in rows if r.group == "decode"]
    launch = choose_launch(all_decode, hardware)
    used_decode = [i for i in all_decode
                   if (i.launch_s == launch[i.device_class] if i.device_class in launch else i.preset_launch)]
    decode = defaultdict(list)
    for i in used_decode:
        decode[(i.device, i.weight_format)].append(math.log(i.efficiency))
    cell = {key: sum(v) / len(v) for key, v in decode.items()}
    device_effect, format_offset = _additive_fit(cell)
    # A prefill row the solver could only meet at a bound of [MIN_EFFICIENCY, 1] is one the cost
    # model cannot explain (e.g. a runtime's fixed per-prompt cost): fitting the bound would spread
    # that error to every other prompt length, so such rows stay out of the fit (they are still
    # scored).
    prefill = defaultdict(list)
    for i in (r for r in rows if r.group == "prefill" and not r.saturated):
        prefill[i.device].append(math.log(i.efficiency))
    matrix_effect = {d: sum(v) / len(v) for d, v in prefill.items()}
    kernel = defaultdict(list)
    for i in (r for r in rows if r.group == "kernel"):
        kernel[i.device].append(i)

    def log2_bw(device):
        return _log2_bw(hardware[device])

    presets = {}
    for device in sorted(set(device_effect) | set(matrix_effect) | set(kernel)):
        entry: dict = {"class": hardware[device].device_class}
        if device in device_effect:
            u = device_effect[device]
            entry["dram_efficiency"] = clamp_fraction(math.exp(u))
            by_format = {f: clamp_fraction(math.exp(u + g)) for f, g in format_offset.items()}
            by_format.update({f: clamp_fraction(math.exp(v)) for (d, f), v in cell.items() if d == device})
            entry["dram_efficiency_by_format"] = by_format
        if device in matrix_effect:
            entry["prefill_efficiency"] = clamp_fraction(math.exp(matrix_effect[device]))
        if device in kernel:
            entry.update(_kernel_curve(kernel[device]))
        used = [i for i in rows if i.device == device and (i.group != "decode" or i in used_decode)]
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
        if cls in launch:
            entry["launch"] = {"op_launch_s": float(f"{launch[cls]:.4g}"),
                               "devices": sorted({i.device for i in used_decode if i.device_class == cls})}
        if entry:
            classes[cls] = entry
    return {
        "provenance": provenance or f"hwsim calibrate measured, {date.today().isoformat()}",
        "method": "ln dram_eff = a(class) + b(class)*log2(bw/100 GB/s) + g(format); "
                  "ln prefill matrix_eff = a'(class); op_launch(class) where decode pins it; "
                  "kernel rows: a measured matrix efficiency curve by GEMM size; per preset: its own fit",
        "format_offsets": {f: round(g, 4) for f, g in sorted(format_offset.items())},
        "classes": classes,
        "presets": presets,
    }


def _kernel_curve(points: list[Implied]) -> dict:
    """A `macs` efficiency curve from kernel-row points (rows the memory bound saturates say
    nothing about compute and are left out; points within CURVE_BIN_OCTAVES are averaged in log
    space), keyed by the rows' compute dtype, with the harness time per call it was fitted under."""
    usable = sorted((i for i in points if not i.saturated), key=lambda i: i.size)
    bins: list[list[Implied]] = []
    for i in usable:
        if bins and math.log2(i.size / bins[-1][0].size) < CURVE_BIN_OCTAVES:
            bins[-1].append(i)
        else:
            bins.append([i])
    curve = [[float(f"{math.exp(_mean([math.log(i.size) for i in b])):.4g}"),
              clamp_fraction(math.exp(_mean([math.log(i.efficiency) for i in b])))] for b in bins]
    ids = sorted(i.case.row.id for i in points)
    return {"efficiency_curve": {KERNEL_DTYPE: {
                "size": "macs", "points": curve,
                "source": f"hwsim calibrate measured: {len(usable)} of {len(points)} GEMM kernel rows "
                          f"({ids[0]}, ...), harness time per call subtracted"}},
            "kernel_overhead_s": float(f"{points[0].launch_s:.4g}")}


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

