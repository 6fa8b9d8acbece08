"""Apply fitted efficiencies and launch overheads (configs/calibration.yaml) to a hardware preset.

`hwsim calibrate measured` writes the file: per preset, the DRAM-bandwidth fraction per weight
format, the matrix-engine fraction the runtime reaches in prefill, and (where kernel timings
exist) a measured size-dependent efficiency curve; per device class, a default for presets with
no measurements (DRAM fraction as a function of the preset's bandwidth, since the largest chips
reach a smaller fraction of peak at batch 1), the prefill matrix fraction, and the per-op launch
overhead where the class's decode rows pin it down. Presets the file does not know and classes
with no data are returned unchanged.

The prefill fraction becomes a two-point `rows` efficiency curve on the matrix engine: the
preset's own scalar efficiency at M <= DECODE_ROWS (llama.cpp decodes with GEMV-style kernels
that stay bandwidth-bound) and the fitted fraction at M >= PREFILL_ROWS (tiled GEMM kernels),
linear in log2(M) between.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from hwsim.spec.hardware import EfficiencyCurve, HardwareSpec
from hwsim.spec.loader import REPO_ROOT, read_document

CALIBRATION_PATH = REPO_ROOT / "configs" / "calibration.yaml"

# The class model evaluates bandwidth relative to this (keeps the intercept readable).
REFERENCE_BANDWIDTH_BYTES_PER_S = 100e9

# The smallest efficiency a fit may report: below it the cost model, not the device, is wrong.
MIN_EFFICIENCY = 0.01
# Rows (M) up to which a GEMM counts as decode-like, and from which as prefill-like. llama.cpp's
# CUDA backend switches from its vector kernels to tiled matrix kernels at a batch of about 8
# (ggml-cuda mul_mat dispatch); 16 and 256 bracket that switch with room either side.
DECODE_ROWS = 16
PREFILL_ROWS = 256
# Figures the calibration can set; `written` (see apply_calibration) names them.
FIGURES = ("dram_efficiency", "dram_efficiency_by_format", "matrix_efficiency", "op_launch")


def load_calibration(path: Path | str = CALIBRATION_PATH) -> dict[str, Any]:
    """The calibration document, or an empty one when no calibration has been generated."""
    path = Path(path)
    if not path.exists():
        return {}
    return read_document(path)


def efficiencies_for(hardware: HardwareSpec, calibration: dict[str, Any]) -> dict[str, Any] | None:
    """{dram_efficiency, dram_efficiency_by_format, prefill_efficiency, efficiency_curve,
    op_launch, provenance} for this preset: its own fit, completed by its class default, else
    None when neither exists."""
    own = (calibration.get("presets") or {}).get(hardware.name)
    cls = (calibration.get("classes") or {}).get(hardware.device_class)
    if not own and not cls:
        return None
    figures = (class_efficiencies(cls, calibration.get("format_offsets") or {},
                                  hardware.main_memory.bandwidth_bytes_per_s,
                                  f"class default {hardware.device_class}")
               if cls else {"provenance": "fitted"})
    if own:
        if own.get("dram_efficiency") is not None:
            figures["dram_efficiency"] = own["dram_efficiency"]
            figures["dram_efficiency_by_format"] = dict(own.get("dram_efficiency_by_format") or {})
        for key in ("prefill_efficiency", "efficiency_curve"):
            if own.get(key) is not None:
                figures[key] = own[key]
        figures["provenance"] = own.get("provenance", "fitted")
    return figures


def class_efficiencies(cls: dict[str, Any], format_offsets: dict[str, float], bandwidth_bytes_per_s: float,
                       provenance: str) -> dict[str, Any]:
    """Evaluate a class model: ln(dram eff) = intercept + slope * log2(bw / 100 GB/s) + offset(format);
    the prefill matrix fraction exp(matrix.intercept); the op launch where the class fitted one."""
    dram = cls.get("dram") or {}
    result: dict[str, Any] = {"provenance": provenance}
    if dram:
        base = dram["intercept"] + dram.get("slope", 0.0) * math.log2(
            bandwidth_bytes_per_s / REFERENCE_BANDWIDTH_BYTES_PER_S)
        result["dram_efficiency"] = clamp_fraction(math.exp(base))
        result["dram_efficiency_by_format"] = {fmt: clamp_fraction(math.exp(base + off))
                                               for fmt, off in format_offsets.items()}
    if cls.get("matrix"):
        result["prefill_efficiency"] = clamp_fraction(math.exp(cls["matrix"]["intercept"]))
    if (cls.get("launch") or {}).get("op_launch_s") is not None:
        result["op_launch"] = cls["launch"]["op_launch_s"]
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
    added to it), op_launch (seconds), provenance."""
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
        curves["any"] = prefill_curve(matrix.efficiency, figures["prefill_efficiency"])
    for dtype, curve in (figures.get("efficiency_curve") or {}).items():
        curves[dtype] = curve if isinstance(curve, EfficiencyCurve) else EfficiencyCurve.model_validate(curve)
    compute[matrix_name] = matrix.model_copy(update={"efficiency_curve": curves})
    update: dict[str, Any] = {"memory": memory, "compute": compute}
    if "dram_efficiency_by_format" in figures:
        update["dram_efficiency_by_format"] = dict(figures["dram_efficiency_by_format"])
    if figures.get("op_launch") is not None:
        update["overhead"] = hardware.overhead.model_copy(
            update={"op_launch": float(figures["op_launch"]),
                    "source": f"op_launch fitted by hwsim calibrate measured ({figures.get('provenance', '')})"})
    if figures.get("provenance"):
        update["calibration"] = figures["provenance"]
    return hardware.model_copy(update=update)


def apply_calibration(hardware: HardwareSpec, calibration: dict[str, Any] | None = None,
                      written: set[str] = frozenset()) -> HardwareSpec:
    """`hardware` with the figures of configs/calibration.yaml (or of `calibration`), except
    those named in `written` (stated by the preset itself, so they win; see FIGURES:
    `matrix_efficiency` covers the scalar, the prefill fraction and the curves)."""
    if calibration is None:
        calibration = load_calibration()
    figures = efficiencies_for(hardware, calibration)
    if figures is None:
        return hardware
    blocked = set(written) | ({"prefill_efficiency", "efficiency_curve"} if "matrix_efficiency" in written else set())
    figures = {key: value for key, value in figures.items() if key not in blocked}
    if not any(key != "provenance" and value is not None for key, value in figures.items()):
        return hardware
    return with_efficiencies(hardware, figures)
