"""Apply fitted efficiencies (configs/calibration.yaml) to a hardware preset.

`hwsim calibrate measured` writes the file: per preset, the DRAM-bandwidth fraction per weight
format and the matrix-engine fraction fitted from measured rows; per device class, a default
for presets with no measurements (DRAM fraction as a function of the preset's bandwidth, since
the largest chips reach a smaller fraction of peak at batch 1). Presets the file does not know
and classes with no data are returned unchanged.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from hwsim.spec.hardware import HardwareSpec
from hwsim.spec.loader import REPO_ROOT, read_document

CALIBRATION_PATH = REPO_ROOT / "configs" / "calibration.yaml"

# The class model evaluates bandwidth relative to this (keeps the intercept readable).
REFERENCE_BANDWIDTH_BYTES_PER_S = 100e9


def load_calibration(path: Path | str = CALIBRATION_PATH) -> dict[str, Any]:
    """The calibration document, or an empty one when no calibration has been generated."""
    path = Path(path)
    if not path.exists():
        return {}
    return read_document(path)


def efficiencies_for(hardware: HardwareSpec, calibration: dict[str, Any]) -> dict[str, Any] | None:
    """{dram_efficiency, dram_efficiency_by_format, matrix_efficiency, provenance} for this
    preset: its own fit, else its class default evaluated at its bandwidth, else None."""
    own = (calibration.get("presets") or {}).get(hardware.name)
    if own:
        return {"dram_efficiency": own["dram_efficiency"],
                "dram_efficiency_by_format": dict(own.get("dram_efficiency_by_format") or {}),
                "matrix_efficiency": own.get("matrix_efficiency"),
                "provenance": own.get("provenance", "fitted")}
    cls = (calibration.get("classes") or {}).get(hardware.device_class)
    if not cls:
        return None
    offsets = (calibration.get("format_offsets") or {})
    return class_efficiencies(cls, offsets, hardware.main_memory.bandwidth_bytes_per_s,
                              f"class default {hardware.device_class}")


def class_efficiencies(cls: dict[str, Any], format_offsets: dict[str, float], bandwidth_bytes_per_s: float,
                       provenance: str) -> dict[str, Any]:
    """Evaluate a class model: ln(dram eff) = intercept + slope * log2(bw / 100 GB/s) + offset(format)."""
    dram = cls.get("dram") or {}
    result: dict[str, Any] = {"dram_efficiency": None, "dram_efficiency_by_format": {},
                              "matrix_efficiency": None, "provenance": provenance}
    if dram:
        base = dram["intercept"] + dram.get("slope", 0.0) * math.log2(
            bandwidth_bytes_per_s / REFERENCE_BANDWIDTH_BYTES_PER_S)
        result["dram_efficiency"] = _fraction(math.exp(base))
        result["dram_efficiency_by_format"] = {fmt: _fraction(math.exp(base + off))
                                               for fmt, off in format_offsets.items()}
    if cls.get("matrix"):
        result["matrix_efficiency"] = _fraction(math.exp(cls["matrix"]["intercept"]))
    return result


def _fraction(value: float) -> float:
    return round(min(1.0, max(0.01, value)), 4)


def with_efficiencies(hardware: HardwareSpec, figures: dict[str, Any]) -> HardwareSpec:
    """A copy of `hardware` with the given efficiencies (None leaves a figure as it is)."""
    memory = dict(hardware.memory)
    main_name = next(n for n, m in memory.items() if m is hardware.main_memory)
    if figures.get("dram_efficiency") is not None:
        memory[main_name] = memory[main_name].model_copy(update={"efficiency": figures["dram_efficiency"]})
    compute = dict(hardware.compute)
    if figures.get("matrix_efficiency") is not None:
        matrix_name = next(n for n, e in compute.items() if e is hardware.matrix)
        compute[matrix_name] = compute[matrix_name].model_copy(
            update={"efficiency": figures["matrix_efficiency"]})
    update: dict[str, Any] = {"memory": memory, "compute": compute}
    if "dram_efficiency_by_format" in figures:
        update["dram_efficiency_by_format"] = dict(figures["dram_efficiency_by_format"])
    if figures.get("provenance"):
        update["calibration"] = figures["provenance"]
    return hardware.model_copy(update=update)


def apply_calibration(hardware: HardwareSpec, calibration: dict[str, Any] | None = None,
                      written: set[str] = frozenset()) -> HardwareSpec:
    """`hardware` with the efficiencies of configs/calibration.yaml (or of `calibration`),
    except the figures named in `written` (stated by the preset itself, so they win)."""
    if calibration is None:
        calibration = load_calibration()
    figures = efficiencies_for(hardware, calibration)
    if figures is None:
        return hardware
    figures = {key: value for key, value in figures.items() if key not in written}
    if not any(key != "provenance" for key in figures):
        return hardware
    return with_efficiencies(hardware, figures)
