"""Fit efficiencies and launch overheads from measured rows, per device x runtime and per device
class (x runtime), and judge them on devices left out of the fit.

For each row, the figure that makes the simulator reproduce the measurement is solved for
("implied efficiency"): decode rows imply the achievable DRAM-bandwidth fraction (at each
candidate per-op launch overhead; not on a device whose decode pads to its matrix tile, where
they time the matrix pass, HardwareSpec.decode_pads_matrix), prefill rows the matrix-engine fraction the runtime reaches
at prefill sizes (given the decode fit), GEMM kernel rows one point of a measured size-dependent
efficiency curve. A "unit" is one device under one runtime. Then, in log space:

    decode:   ln e(unit, format) = u(unit) + g(format)               (g(q4_0) = 0)
              u(unit)            = a(group) + b(group) * log2(bandwidth / 100 GB/s)
    launch:   op_launch(class x runtime) = the grid value whose implied e are most consistent
    prefill:  ln c(unit)         = v(unit),  v(unit) = a'(group)

with group = class x runtime, class, or all devices (see hwsim/calibration.py for the fallback).
A unit with measurements gets its own u / v. `fit_calibration(..., exclude=(device,))` refits
everything without the device: the launch choice, format offsets and class models, and the
prefill and kernel solves (which depend on the fold's decode fit). Only the decode solves are
shared across folds, since each depends on its own row and the uncalibrated preset alone.
Leave-one-device-out predicts each device from such a fit: that error, not the in-sample one,
says how well the calibration transfers.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Callable

from hwsim.calibration import (MIN_EFFICIENCY, REFERENCE_BANDWIDTH_BYTES_PER_S, Calibration, ClassEntry,
                               DramLine, GroupModel, LaunchFit, MatrixLevel, PresetEntry, PresetFit,
                               RequestFit, apply_calibration, clamp_fraction, efficiencies_for, with_efficiencies)
from hwsim.spec.hardware import HardwareSpec
from hwsim.spec.runtime import Runtime, runtime_peaks
from hwsim.validation.mapping import GEMM_SHAPE, Case
from hwsim.validation.predict import case_hardware, model_for, predict_seconds

REFERENCE_FORMAT = "q4_0"
# A group slope needs this many devices spanning at least a doubling of bandwidth; with fewer,
# the group keeps one intercept (a slope from two points would memorise them). Only a falling
# slope is kept: the slope stands for the per-token costs that do not scale with bandwidth
# (launches, synchronisation), a larger share of a faster memory's step; a rising one is the
# devices' software builds and hosts, not their bandwidth (consumer GPUs: a 2024 llama.cpp on
# the 960 GB/s RTX 6000 Ada, an Ampere Altra host's A4000), and extrapolates them.
MIN_DEVICES_FOR_SLOPE = 3
FIT_GROUPS = ("decode", "prefill", "kernel")
# Candidate per-op launch overheads. The floor, 1 us, is a modelling choice: below it the fit
# would trade launch time against bandwidth on noise (a CUDA-graph or Metal kernel boundary still
# drains one kernel's tail and fills the next).
LAUNCH_GRID_S = tuple(x * 1e-6 for x in (1, 1.5, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 25, 32))
# A group's launch is fitted only where it binds: the best grid value must lower the spread of
# the group's implied ln e (sum of squares) by this much against the presets' own values.
LAUNCH_MIN_GAIN = 0.01
# Candidate fixed times per request (OverheadSpec.request). Only a TTFT is timed per request (a
# llama-bench pp row times the prompt batch alone), so a class x runtime gets one only where it
# has TTFT rows, and only where the best value lowers the spread of its units' implied ln prefill
# fractions (sum of squares, plus the squared shortfall of rows no fraction reproduces) by
# REQUEST_MIN_GAIN against none: a cost that does not grow with the model shows as small models
# implying lower fractions than large ones.
REQUEST_GRID_S = (0.0, 0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3)
REQUEST_METRICS = ("ttft_ms",)
REQUEST_MIN_GAIN = 0.05
# Candidates stop at this share of the cohort's shortest TTFT: above it the time per request
# would stand in for the prompt's own work rather than sit beside it.
REQUEST_MAX_SHARE = 0.5
# Kernel rows time fp16 GEMMs (validation/measured.csv quant column); their curve is keyed so.
KERNEL_DTYPE = "fp16"
# Kernel-curve points within this many octaves of GEMM size are averaged into one.
CURVE_BIN_OCTAVES = 1.0
METHOD = ("ln dram_eff = a(group) + b(group)*log2(bw/100 GB/s) + g(format); ln prefill matrix_eff = a'(group); "
          "op_launch(class x runtime) where decode pins it; request time per class x runtime where TTFT rows pin it; kernel rows: a measured matrix efficiency curve "
          "by GEMM size; per preset x runtime: its own fit; group = class x runtime, else class (where the class has the "
          "runtime), else pooled")


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
    request_s: float = 0.0         # prefill rows: the time per request the fraction was solved under

    @property
    def unit(self) -> tuple[str, Runtime]:
        return self.device, self.case.runtime

    @property
    def cohort(self) -> tuple[str, Runtime]:
        return self.device_class, self.case.runtime

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
    return model_for(case).quant.weight.name


def _at_dram(hardware: HardwareSpec, efficiency: float) -> HardwareSpec:
    return with_efficiencies(hardware, {"dram_efficiency": efficiency, "dram_efficiency_by_format": {}})


def with_launch(hardware: HardwareSpec, launch_s: float) -> HardwareSpec:
    return hardware.model_copy(update={"overhead": hardware.overhead.model_copy(update={"op_launch": launch_s})})


def with_request(hardware: HardwareSpec, request_s: float) -> HardwareSpec:
    return hardware.model_copy(update={"overhead": hardware.overhead.model_copy(update={"request": request_s})})


def fit_cases(cases: list[Case]) -> list[Case]:
    return [c for c in cases if c.row.spec.group in FIT_GROUPS and fit_eligible(c)]


def decode_implied(cases: list[Case], engine: str = "roofline") -> list[Implied]:
    """Solve every decode row for its DRAM fraction at every candidate launch. Each solve uses
    the row and its uncalibrated preset only (as the row's runtime sees it, the peaks its
    predictions run at), so folds may share them without leaking."""
    implied: list[Implied] = []
    for case in (c for c in fit_cases(cases) if c.row.spec.group == "decode"):
        preset = runtime_peaks(case_hardware(case.hardware), case.runtime)
        if preset.decode_pads_matrix:   # its decode rows time the matrix pass, not the DRAM
            continue
        for launch_s in sorted(set(LAUNCH_GRID_S) | {preset.overhead.op_launch_s}):
            hardware = with_launch(preset, launch_s)

            def seconds_at(eff, hardware=hardware, case=case):
                return predict_seconds(case, _at_dram(hardware, eff), engine)

            e, saturated = solve_efficiency(seconds_at, case.row.seconds)
            excess = max(0.0, math.log(seconds_at(1.0) / case.row.seconds)) if saturated and e == 1.0 else 0.0
            implied.append(_implied(case, preset, e, saturated, launch_s=launch_s, excess=excess,
                                    preset_launch=launch_s == preset.overhead.op_launch_s))
    return implied


class Fitter:
    """Fits a Calibration from measured cases, for all devices or without some (a fold).

    Solves that depend on a fold's decode fit (prefill, kernel) are memoised on the row and the
    exact figures it was solved under, so a fold that leaves those figures unchanged reuses the
    solve and one that changes them re-solves: no fold sees a solve made under another fold's fit.
    """

    def __init__(self, cases: list[Case], engine: str = "roofline", decode: list[Implied] | None = None):
        self.cases = fit_cases(cases)
        self.engine = engine
        self.hardware = {c.hardware: case_hardware(c.hardware) for c in cases}
        self.decode = decode if decode is not None else decode_implied(cases, engine)
        self._solves: dict[tuple, Implied] = {}

    def fit(self, exclude: tuple[str, ...] = (), provenance: str = "") -> Calibration:
        decode = [i for i in self.decode if i.device not in exclude]
        decode_fit = fit_calibration(decode, self.hardware, provenance=provenance)
        kept = [c for c in self.cases if c.hardware not in exclude]
        prefill_cases = [c for c in kept if c.row.spec.group == "prefill"]
        request = self.choose_request(prefill_cases, decode_fit)
        prefill = [self._prefill(c, decode_fit, request.get(self._cohort(c), 0.0)) for c in prefill_cases]
        kernel = self._kernel([c for c in kept if c.row.spec.group == "kernel"], decode_fit)
        return fit_calibration(decode + prefill + kernel, self.hardware, provenance=provenance, request=request)

    def _cohort(self, case: Case) -> tuple[str, Runtime]:
        return self.hardware[case.hardware].device_class, case.runtime

    def choose_request(self, cases: list[Case], decode_fit: Calibration) -> dict[tuple[str, Runtime], float]:
        """Per class x runtime with TTFT rows, the grid time per request under which its prefill
        rows imply the most consistent fraction per unit (see REQUEST_GRID_S)."""
        chosen = {}
        for cohort in sorted({self._cohort(c) for c in cases if c.row.metric in REQUEST_METRICS}):
            rows = [c for c in cases if self._cohort(c) == cohort]
            ceiling = REQUEST_MAX_SHARE * min(c.row.seconds for c in rows if c.row.metric in REQUEST_METRICS)

            def spread(request_s: float) -> float:
                by_unit = defaultdict(list)
                for i in (self._prefill(c, decode_fit, request_s) for c in rows):
                    by_unit[i.unit].append(i.needed)
                return sum(sum((y - _mean(v)) ** 2 + max(0.0, y) ** 2 for y in v) for v in by_unit.values())

            by_request = {r: spread(r) for r in REQUEST_GRID_S if r <= ceiling}
            best = min(by_request, key=lambda r: (by_request[r], r))
            if by_request[0.0] - by_request[best] > REQUEST_MIN_GAIN:
                chosen[cohort] = best
        return chosen

    def _key(self, case: Case, calibration: Calibration) -> str:
        figures = efficiencies_for(case_hardware(case.hardware), calibration, case.runtime) or {}
        return json.dumps({k: v for k, v in figures.items() if k != "provenance"}, sort_keys=True, default=str)

    def _prefill(self, case: Case, decode_fit: Calibration, request_s: float = 0.0) -> Implied:
        key = ("prefill", case.row.id, request_s, self._key(case, decode_fit))
        if key not in self._solves:
            base = with_request(apply_calibration(case_hardware(case.hardware), decode_fit, runtime=case.runtime),
                                request_s)

            def seconds_at(eff):
                return predict_seconds(case, with_efficiencies(base, {"prefill_efficiency": eff}), self.engine)

            c_eff, clamped = solve_efficiency(seconds_at, case.row.seconds)
            excess = max(0.0, math.log(seconds_at(1.0) / case.row.seconds)) if clamped and c_eff == 1.0 else 0.0
            self._solves[key] = _implied(case, base, c_eff, clamped, excess=excess, request_s=request_s)
        return self._solves[key]

    def _kernel(self, cases: list[Case], decode_fit: Calibration) -> list[Implied]:
        points = []
        for device in sorted({c.hardware for c in cases}):
            own = [c for c in cases if c.hardware == device]
            key = ("kernel", device, tuple(c.row.id for c in own), self._key(own[0], decode_fit))
            if key not in self._solves:
                self._solves[key] = _kernel_points(own, decode_fit, self.engine)
            points += self._solves[key]
        return points


def _kernel_points(own: list[Case], decode_fit: Calibration, engine: str) -> list[Implied]:
    """Points of a measured efficiency curve from one device's single-GEMM timings. A benchmark
    harness adds a fixed time per call (the smallest GEMMs take ~30 us whatever their size); it is
    taken as the excess of the smallest GEMM over its time at full peak and zero launch, and
    subtracted."""
    base = apply_calibration(case_hardware(own[0].hardware), decode_fit, runtime=own[0].runtime)
    matrix = base.matrix.model_copy(update={"efficiency": 1.0, "efficiency_curve": {}})
    base = base.model_copy(update={"compute": {**base.compute, base.matrix_name: matrix}})
    smallest = min(own, key=_gemm_macs)
    floor = max(0.0, smallest.row.seconds - predict_seconds(smallest, with_launch(base, 0.0), engine))
    at_floor = with_launch(base, floor)
    points = []
    for case in own:
        e, saturated = solve_efficiency(
            lambda eff: predict_seconds(case, with_efficiencies(at_floor, {"matrix_efficiency": eff}), engine),
            case.row.seconds)
        points.append(_implied(case, base, e, saturated, launch_s=floor, preset_launch=False, size=_gemm_macs(case)))
    return points


def _gemm_macs(case: Case) -> int:
    m, n, k = (int(g) for g in GEMM_SHAPE.search(case.row.model).groups())
    return m * n * k


def fit_eligible(case: Case) -> bool:
    """Rows the fit may learn from: GEMM kernel timings, and decode / prefill of a standard model
    (the one looped-model anecdote runs an eager reference implementation and would teach the
    wrong runtime)."""
    return case.row.spec.group == "kernel" or not model_for(case).is_looped


def _implied(case: Case, hardware: HardwareSpec, efficiency: float, saturated: bool, **extra) -> Implied:
    return Implied(case, case.hardware, hardware.device_class, weight_format(case), case.row.spec.group,
                   efficiency, saturated, **extra)


def choose_launch(decode: list[Implied], hardware: dict[str, HardwareSpec]) -> dict[tuple[str, Runtime], float]:
    """Per class x runtime, the grid launch under which its decode rows imply the most consistent
    DRAM fraction (least squares around the group's line, plus the squared shortfall of rows no
    fraction can reproduce), where it beats the presets' own launch values by LAUNCH_MIN_GAIN."""
    def spread(rows: list[Implied]) -> float:
        points = [(_log2_bw(hardware[i.device]), i.needed) for i in rows]
        line = _line(points, allow_slope=True)
        residual = sum((y - line["intercept"] - line["slope"] * x) ** 2 for x, y in points)
        return residual + sum(max(0.0, i.needed) ** 2 for i in rows)

    chosen = {}
    for cohort in sorted({i.cohort for i in decode}):
        rows = [i for i in decode if i.cohort == cohort]
        own = spread([i for i in rows if i.preset_launch])
        by_launch = {s: spread([i for i in rows if i.launch_s == s])
                     for s in LAUNCH_GRID_S if any(i.launch_s == s for i in rows)}
        best = min(by_launch, key=lambda s: (by_launch[s], s))
        if own - by_launch[best] > LAUNCH_MIN_GAIN:
            chosen[cohort] = best
    return chosen


def _log2_bw(hardware: HardwareSpec) -> float:
    return math.log2(hardware.main_memory.bandwidth_bytes_per_s / REFERENCE_BANDWIDTH_BYTES_PER_S)


def fit_calibration(implied: list[Implied], hardware: dict[str, HardwareSpec], provenance: str = "",
                    request: dict[tuple[str, Runtime], float] | None = None) -> Calibration:
    """The calibration (see hwsim/calibration.py) from implied efficiencies: decode rows at every
    candidate launch, and prefill / kernel rows solved under a decode fit of the same devices (and
    under `request`, the time per request chosen per class x runtime, see Fitter.choose_request)."""
    request = request or {}
    all_decode = [r for r in implied if r.group == "decode"]
    launch = choose_launch(all_decode, hardware)
    used_decode = [i for i in all_decode if (i.launch_s == launch[i.cohort] if i.cohort in launch else i.preset_launch)]
    decode = defaultdict(list)
    for i in used_decode:
        decode[(i.unit, i.weight_format)].append(math.log(i.efficiency))
    cell = {key: sum(v) / len(v) for key, v in decode.items()}
    unit_effect, format_offset = _additive_fit(cell)
    # A prefill row the solver could only meet at a bound of [MIN_EFFICIENCY, 1] is one the cost
    # model cannot explain (e.g. a runtime's fixed per-prompt cost): fitting the bound would spread
    # that error to every other prompt length, so such rows stay out of the fit (they are still
    # scored).
    prefill = defaultdict(list)
    for i in (r for r in implied if r.group == "prefill" and not r.saturated):
        prefill[i.unit].append(math.log(i.efficiency))
    matrix_effect = {u: sum(v) / len(v) for u, v in prefill.items()}
    kernel = defaultdict(list)
    for i in (r for r in implied if r.group == "kernel"):
        kernel[i.unit].append(i)

    def cls_of(unit):
        return hardware[unit[0]].device_class

    presets: dict[str, dict[Runtime, PresetFit]] = defaultdict(dict)
    # A unit whose prefill rows all sit at a bound still carries its cohort's time per request.
    request_units = {i.unit for i in implied if i.group == "prefill" and i.cohort in request}
    for unit in sorted(set(unit_effect) | set(matrix_effect) | set(kernel) | request_units):
        device, runtime = unit
        entry: dict = {}
        if unit in unit_effect:
            u = unit_effect[unit]
            entry["dram_efficiency"] = clamp_fraction(math.exp(u))
            by_format = {f: clamp_fraction(math.exp(u + g)) for f, g in format_offset.items()}
            by_format.update({f: clamp_fraction(math.exp(v)) for (un, f), v in cell.items() if un == unit})
            entry["dram_efficiency_by_format"] = by_format
            if (cls_of(unit), runtime) in launch:
                entry["op_launch_s"] = launch[(cls_of(unit), runtime)]
        if unit in matrix_effect:
            entry["prefill_efficiency"] = clamp_fraction(math.exp(matrix_effect[unit]))
        if (cls_of(unit), runtime) in request:
            entry["request_s"] = request[(cls_of(unit), runtime)]
        if unit in kernel:
            entry.update(_kernel_curve(kernel[unit]))
        used = [i for i in implied if i.unit == unit and (i.group != "decode" or i in used_decode)]
        ids = sorted({i.case.row.id for i in used})
        entry.update(rows=len(used), saturated_rows=sum(i.saturated for i in used),
                     provenance=f"{device} x {runtime}: fitted from {len(used)} measured rows ({', '.join(ids[:3])}, ...)")
        presets[device][runtime] = PresetFit(**entry)

    def group(units_dram: list, units_matrix: list, launch_s: float | None, launch_units: list,
              request_s: float | None = None, request_of: list | None = None) -> GroupModel:
        dram = _line([(_log2_bw(hardware[u[0]]), unit_effect[u]) for u in units_dram], allow_slope=True)
        return GroupModel(
            dram=DramLine(**dram, devices=_devices(units_dram)) if dram else None,
            matrix=MatrixLevel(intercept=round(_mean([matrix_effect[u] for u in units_matrix]), 4),
                               devices=_devices(units_matrix)) if units_matrix else None,
            launch=LaunchFit(op_launch_s=float(f"{launch_s:.4g}"), devices=_devices(launch_units))
            if launch_s is not None else None,
            request=RequestFit(request_s=request_s, devices=_devices(request_of or [])) if request_s is not None else None)

    classes = {}
    for cls in sorted({cls_of(u) for u in set(unit_effect) | set(matrix_effect) | request_units}):
        dram_units = [u for u in unit_effect if cls_of(u) == cls]
        matrix_units = [u for u in matrix_effect if cls_of(u) == cls]
        runtimes = {}
        for runtime in sorted({u[1] for u in dram_units + matrix_units}
                              | {runtime for (cls_, runtime) in request if cls_ == cls}):
            cohort_launch = launch.get((cls, runtime))
            runtimes[runtime] = group([u for u in dram_units if u[1] == runtime],
                                      [u for u in matrix_units if u[1] == runtime], cohort_launch,
                                      [i.unit for i in used_decode if i.cohort == (cls, runtime)],
                                      request.get((cls, runtime)),
                                      [u for u in request_units if cls_of(u) == cls and u[1] == runtime])
        whole = group(dram_units, matrix_units, None, [])
        classes[cls] = ClassEntry(dram=whole.dram, matrix=whole.matrix, runtimes=runtimes)
    pooled_dram = _line([(_log2_bw(hardware[u[0]]), e) for u, e in unit_effect.items()], allow_slope=False)
    pooled = GroupModel(
        dram=DramLine(**pooled_dram, devices=_devices(list(unit_effect))) if pooled_dram else None,
        matrix=MatrixLevel(intercept=round(_mean(list(matrix_effect.values())), 4), devices=_devices(list(matrix_effect)))
        if matrix_effect else None)
    return Calibration(
        provenance=provenance or f"hwsim calibrate measured, {date.today().isoformat()}",
        method=METHOD,
        format_offsets={f: round(g, 4) for f, g in sorted(format_offset.items())},
        pooled=pooled, classes=classes,
        presets={d: PresetEntry(device_class=hardware[d].device_class, runtimes=r) for d, r in sorted(presets.items())})


def _devices(units) -> list[str]:
    return sorted({u[0] for u in units})


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
    overhead = {"kernel_overhead_s": float(f"{points[0].launch_s:.4g}")}
    if not curve:
        return overhead
    return {**overhead, "efficiency_curve": {KERNEL_DTYPE: {
                "size": "macs", "points": curve,
                "source": f"hwsim calibrate measured: {len(usable)} of {len(points)} GEMM kernel rows "
                          f"({ids[0]}, ...), harness time per call subtracted"}}}


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
        if slope <= 0:
            return {"intercept": round(my - slope * mx, 4), "slope": round(slope, 4)}
    return {"intercept": round(_mean(ys), 4), "slope": 0.0}


def _mean(values):
    return sum(values) / len(values) if values else None

