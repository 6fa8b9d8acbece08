"""Apply fitted efficiencies and launch overheads (configs/calibration.yaml) to a hardware preset.

`hwsim calibrate measured` writes the file (schema: `Calibration` below, shared by writer and
reader, so a renamed or unknown key is an error naming the file and field). A run's figures come
from the most specific level that has them, per figure:

    pooled model (all classes)  <  class model  <  class x runtime model  <  preset x runtime fit

The class model counts only where the class has been fitted under the run's runtime: a class's
figures under other stacks carry those stacks (a datacenter class fitted on llama.cpp alone
prefills at llama.cpp's 7-9% of the int8 peak, which says nothing about TensorRT-LLM), and the
pooled model, averaged over every stack, is the less biased guess. Held out, on the seven devices
whose runtime no other device of their class shares, the pooled model is the better fallback on
six (docs/validation.md, "Fallback for a lone runtime").

A model gives the DRAM fraction as a function of the preset's bandwidth (ln e = intercept +
slope * log2(bw / 100 GB/s), the largest chips reaching a smaller fraction at batch 1), plus a
per-weight-format offset; the prefill matrix fraction; the per-op launch overhead where the
decode rows pin it down. A preset x runtime fit has the device's own figures per weight format.
Presets the file does not know and classes with no data fall through to the next level.

The prefill fraction becomes a two-point `rows` efficiency curve on the matrix engine: the
preset's own scalar efficiency at M <= DECODE_ROWS (runtimes decode with GEMV-style kernels
that stay bandwidth-bound) and the fitted fraction at M >= PREFILL_ROWS (tiled GEMM kernels),
linear in log2(M) between. A device whose runtime has no GEMV path (HardwareSpec.
decode_pads_matrix: decode pads to the matrix tile) takes the fitted fraction at every M.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field

from hwsim.spec._base import Spec
from hwsim.spec.documents import REPO_ROOT, _display, read_document, validate
from hwsim.spec.hardware import DeviceClass, EfficiencyCurve, HardwareSpec
from hwsim.spec.runtime import Runtime, default_runtime, parse_runtime, runtime_peaks

CALIBRATION_PATH = REPO_ROOT / "configs" / "calibration.yaml"

# The class model evaluates bandwidth relative to this (keeps the intercept readable).
REFERENCE_BANDWIDTH_BYTES_PER_S = 100e9

# The smallest efficiency a fit may report: below it the cost model, not the device, is wrong.
MIN_EFFICIENCY = 0.01
# Rows (M) up to which a GEMM counts as decode-like, and from which as prefill-like. llama.cpp's
# CUDA backend switches from its vector kernels to tiled matrix kernels at a batch of about 8
# (ggml-cuda mul_mat dispatch); 16 is above that switch. By 64 rows a tiled kernel fills its row
# tile (64-row tiles in ggml-cuda's mmq and CUTLASS; NPUs tile by 16-32), so a prompt of 64 tokens
# or more (the QNN and RKLLM TTFT rows time 77-128-token prompts) runs at the prefill fraction.
DECODE_ROWS = 16
PREFILL_ROWS = 64
# Figures the calibration can set; `written` (see apply_calibration) names them.
FIGURES = ("dram_efficiency", "dram_efficiency_by_format", "matrix_efficiency", "op_launch", "request")


class DramLine(Spec):
    """ln dram_eff = intercept + slope * log2(bandwidth / 100 GB/s) (+ the format's offset)."""

    intercept: float
    slope: float = 0.0
    devices: list[str] = Field(default_factory=list)


class MatrixLevel(Spec):
    """ln prefill matrix_eff = intercept."""

    intercept: float
    devices: list[str] = Field(default_factory=list)


class LaunchFit(Spec):
    op_launch_s: float = Field(gt=0)
    devices: list[str] = Field(default_factory=list)


class RequestFit(Spec):
    """A runtime's fixed time per request (see OverheadSpec.request), fitted on its TTFT rows."""

    request_s: float = Field(ge=0)
    devices: list[str] = Field(default_factory=list)


class GroupModel(Spec):
    """The model of a group of devices (all of them, a class, or a class under one runtime)."""

    dram: DramLine | None = None
    matrix: MatrixLevel | None = None
    launch: LaunchFit | None = None
    request: RequestFit | None = None


class ClassEntry(GroupModel):
    runtimes: dict[Runtime, GroupModel] = Field(default_factory=dict)


class PresetFit(Spec):
    """One preset's own figures under one runtime."""

    dram_efficiency: float | None = Field(None, gt=0, le=1)
    dram_efficiency_by_format: dict[str, float] = Field(default_factory=dict)
    prefill_efficiency: float | None = Field(None, gt=0, le=1)
    efficiency_curve: dict[str, EfficiencyCurve] = Field(default_factory=dict)
    op_launch_s: float | None = Field(None, gt=0, description="the launch its efficiencies were solved under")
    kernel_overhead_s: float | None = Field(None, ge=0, description="benchmark harness time per GEMM call")
    request_s: float | None = Field(None, ge=0, description="the runtime's fixed time per request its prefill "
                                    "fraction was solved under")
    rows: int = 0
    saturated_rows: int = 0
    provenance: str = ""


class PresetEntry(Spec):
    device_class: DeviceClass = Field(alias="class")
    runtimes: dict[Runtime, PresetFit] = Field(default_factory=dict)


class Calibration(Spec):
    """configs/calibration.yaml."""

    provenance: str = ""
    method: str = ""
    format_offsets: dict[str, float] = Field(default_factory=dict)
    pooled: GroupModel = GroupModel()
    classes: dict[DeviceClass, ClassEntry] = Field(default_factory=dict)
    presets: dict[str, PresetEntry] = Field(default_factory=dict)

    def preset_fit(self, name: str, runtime: Runtime) -> PresetFit | None:
        entry = self.presets.get(name)
        return entry.runtimes.get(runtime) if entry else None

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.model_dump(mode="json", by_alias=True, exclude_none=True,
                                              exclude_defaults=False), sort_keys=False, width=110)


def load_calibration(path: Path | str = CALIBRATION_PATH) -> Calibration:
    """The calibration file, validated (an empty Calibration when none has been generated).
    Parsed once per file version, however many presets load it."""
    path = Path(path)
    if not path.exists():
        return Calibration()
    return _load_cached(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _load_cached(path: str, _mtime_ns: int) -> Calibration:
    return validate(Calibration, read_document(path), _display(Path(path)))


def as_calibration(calibration: Calibration | dict | None) -> Calibration:
    """A Calibration from a document (validated) or the tracked file when None."""
    if calibration is None:
        return load_calibration()
    if isinstance(calibration, Calibration):
        return calibration
    return validate(Calibration, calibration, "calibration")


def efficiencies_for(hardware: HardwareSpec, calibration: Calibration,
                     runtime: Runtime) -> dict[str, Any] | None:
    """{dram_efficiency, dram_efficiency_by_format, prefill_efficiency, efficiency_curve,
    op_launch, provenance} for this preset under `runtime`, each figure from the most specific
    level that has it (see the module doc), or None when no level has any."""
    bandwidth = hardware.main_memory.bandwidth_bytes_per_s
    cls = hardware.device_class
    levels: list[tuple[str, GroupModel]] = [("pooled model", calibration.pooled)]
    entry = calibration.classes.get(cls)
    if entry is not None and runtime in entry.runtimes:
        # The class's figures fill what its runtime's model lacks; a class fitted only under
        # other runtimes says nothing about this one (module doc), so then the pooled model holds.
        levels.append((f"class {cls}", entry))
        levels.append((f"class {cls} x {runtime}", entry.runtimes[runtime]))
    figures: dict[str, Any] = {}
    provenance = ""
    for label, model in levels:
        found = group_figures(model, calibration.format_offsets, bandwidth)
        if found:
            figures.update(found)
            provenance = label
    own = calibration.preset_fit(hardware.name, runtime)
    if own is not None:
        if own.dram_efficiency is not None:
            figures["dram_efficiency"] = own.dram_efficiency
            figures["dram_efficiency_by_format"] = dict(own.dram_efficiency_by_format)
        if own.prefill_efficiency is not None:
            figures["prefill_efficiency"] = own.prefill_efficiency
        if own.efficiency_curve:
            figures["efficiency_curve"] = dict(own.efficiency_curve)
        if own.op_launch_s is not None:
            figures["op_launch"] = own.op_launch_s
        if own.request_s is not None:
            figures["request"] = own.request_s
        provenance = own.provenance or f"{hardware.name} x {runtime} fit"
    if not figures:
        return None
    if hardware.decode_pads_matrix and "dram_efficiency_by_format" in figures:
        # Its decode rows time the matrix pass: no row of its own pins a format's DRAM fraction,
        # and another runtime's per-format offsets would make a narrower format slower on the
        # same bytes (the head and activations) once the pass binds. One fraction for all.
        figures["dram_efficiency_by_format"] = {}
    figures["provenance"] = f"{provenance} (runtime {runtime})"
    return figures


def group_figures(model: GroupModel, format_offsets: dict[str, float], bandwidth_bytes_per_s: float) -> dict[str, Any]:
    """Evaluate a group model at a bandwidth: ln(dram eff) = intercept + slope * log2(bw / 100 GB/s)
    + offset(format); the prefill matrix fraction exp(matrix.intercept); the op launch."""
    result: dict[str, Any] = {}
    if model.dram is not None:
        base = model.dram.intercept + model.dram.slope * math.log2(
            bandwidth_bytes_per_s / REFERENCE_BANDWIDTH_BYTES_PER_S)
        result["dram_efficiency"] = clamp_fraction(math.exp(base))
        result["dram_efficiency_by_format"] = {fmt: clamp_fraction(math.exp(base + off))
                                               for fmt, off in format_offsets.items()}
    if model.matrix is not None:
        result["prefill_efficiency"] = clamp_fraction(math.exp(model.matrix.intercept))
    if model.launch is not None:
        result["op_launch"] = model.launch.op_launch_s
    if model.request is not None:
        result["request"] = model.request.request_s
    return result


def clamp_fraction(value: float) -> float:
    """An efficiency as stored: within [MIN_EFFICIENCY, 1], rounded to 4 digits."""
    return round(min(1.0, max(MIN_EFFICIENCY, value)), 4)


def prefill_curve(decode_efficiency: float, prefill_efficiency: float) -> EfficiencyCurve:
    """The `rows` curve of a runtime with separate decode and prefill kernels (see module doc)."""
    return EfficiencyCurve(size="rows", points=[(DECODE_ROWS, decode_efficiency), (PREFILL_ROWS, prefill_efficiency)],
                           source="hwsim calibrate measured: prefill fraction fitted on measured rows")


def with_efficiencies(hardware: HardwareSpec, figures: dict[str, Any]) -> HardwareSpec:
    """A copy of `hardware` with the given figures (a missing or None figure is left as it is):
    dram_efficiency, dram_efficiency_by_format, matrix_efficiency (scalar), prefill_efficiency
    (becomes the matrix engine's `any` rows curve), efficiency_curve ({dtype: curve document},
    added to it), op_launch and request (seconds), provenance."""
    memory = dict(hardware.memory)
    main_name = hardware.main_memory_name
    if figures.get("dram_efficiency") is not None:
        memory[main_name] = memory[main_name].model_copy(update={"efficiency": figures["dram_efficiency"]})
    compute = dict(hardware.compute)
    matrix_name = hardware.matrix_name
    matrix = compute[matrix_name]
    if figures.get("matrix_efficiency") is not None:
        matrix = matrix.model_copy(update={"efficiency": figures["matrix_efficiency"]})
    curves = dict(matrix.efficiency_curve)
    if figures.get("prefill_efficiency") is not None:
        # A runtime without GEMV kernels decodes with the prefill's tiled ones: one fraction.
        decode = figures["prefill_efficiency"] if hardware.decode_pads_matrix else matrix.efficiency
        curves["any"] = prefill_curve(decode, figures["prefill_efficiency"])
    for dtype, curve in (figures.get("efficiency_curve") or {}).items():
        curves[dtype] = curve if isinstance(curve, EfficiencyCurve) else EfficiencyCurve.model_validate(curve)
    compute[matrix_name] = matrix.model_copy(update={"efficiency_curve": curves})
    update: dict[str, Any] = {"memory": memory, "compute": compute}
    if "dram_efficiency_by_format" in figures:
        update["dram_efficiency_by_format"] = dict(figures["dram_efficiency_by_format"])
    overhead = {key: float(figures[key]) for key in ("op_launch", "request") if figures.get(key) is not None}
    if overhead:
        update["overhead"] = hardware.overhead.model_copy(
            update={**overhead, "source": f"{' and '.join(overhead)} fitted by hwsim calibrate measured "
                                          f"({figures.get('provenance', '')})"})
    if figures.get("provenance"):
        update["calibration"] = figures["provenance"]
    return hardware.model_copy(update=update)


def apply_calibration(hardware: HardwareSpec, calibration: Calibration | dict | None = None,
                      written: set[str] = frozenset(), runtime: Runtime | str | None = None) -> HardwareSpec:
    """`hardware` as `runtime` sees it (hwsim.spec.runtime.runtime_peaks) with the figures of
    configs/calibration.yaml (or of `calibration`) for `runtime` (default: the class's, see
    hwsim.spec.runtime), except those named in `written`
    (stated by the preset itself, so they win; see FIGURES: `matrix_efficiency` covers the
    scalar, the prefill fraction and the curves)."""
    runtime = parse_runtime(runtime) if runtime is not None else default_runtime(hardware.device_class)
    hardware = runtime_peaks(hardware, runtime)
    figures = efficiencies_for(hardware, as_calibration(calibration), runtime)
    if figures is None:
        return hardware
    blocked = set(written) | ({"prefill_efficiency", "efficiency_curve"} if "matrix_efficiency" in written else set())
    figures = {key: value for key, value in figures.items() if key not in blocked}
    if not any(key != "provenance" and value is not None for key, value in figures.items()):
        return hardware
    return with_efficiencies(hardware, figures)
