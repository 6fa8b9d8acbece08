"""Load specs from YAML / JSON files and presets, collecting every error before failing.

Order of checks: the file must parse; duplicate keys are collected while parsing; then the
pydantic model validates the whole document and reports every bad field at once. All problems
go into one ConfigError whose message names the file and each field:

    configs/hardware/x.yaml: 2 problems: memory.dram.bandwidth: '68 GB' is a size, expected a
    data rate like '68 GB/s'; power.tdp: field required
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hwsim import resources
from hwsim.calibration import apply_calibration
from hwsim.errors import ConfigError
from hwsim.spec.documents import (REPO_ROOT, _display, format_validation_error, read_document,  # noqa: F401
                                  validate)
from hwsim.spec.hardware import HardwareSpec
from hwsim.spec.model import ModelSpec
from hwsim.spec.quant import QUANT_PRESETS, QuantSpec, quant_preset

DATA_ROOT = resources.DATA_ROOT
HARDWARE_DIR = resources.builtin_dir("hardware")
ENERGY_DIR = DATA_ROOT / "configs" / "energy"
MODELS_DIR = resources.builtin_dir("model")
SWEEPS_DIR = resources.builtin_dir("sweep")
_KIND_OF_DIR = {HARDWARE_DIR: "hardware", MODELS_DIR: "model", SWEEPS_DIR: "sweep",
                resources.builtin_dir("report"): "report"}


def _resolve_quant(data: dict[str, Any], source: str) -> dict[str, Any]:
    """Allow `quant: q4_0` (a preset name) where a full QuantSpec mapping is also accepted."""
    quant = data.get("quant")
    if isinstance(quant, str):
        try:
            data = {**data, "quant": quant_preset(quant).model_dump(mode="python")}
        except ValueError as exc:
            raise ConfigError(f"{source}: quant: {exc}") from None
    return data


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any], source: str) -> dict[str, Any]:
    """Return a copy of `data` with dotted-path overrides set (`memory.sram.capacity` ->
    "8 MiB"). A path through a missing mapping is an error naming it; the result is validated
    again by the caller, so a value of the wrong kind is caught there."""
    result = _deep_copy(data)
    for path, value in overrides.items():
        parts = path.split(".")
        node = result
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part) if isinstance(node, dict) else None
            if child is None and isinstance(node, dict):
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"{source}: {path}: {'.'.join(parts[:depth + 1])} is not a mapping")
            node = child
        node[parts[-1]] = value
    return result


def _deep_copy(value):
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def _preset_index(directory: Path) -> dict[str, Path]:
    """Preset name (file stem, lower-case) -> file: the shipped directory of a preset kind
    together with the user directories (HWSIM_PATH, --presets), or any other directory alone."""
    kind = _KIND_OF_DIR.get(directory)
    if kind is not None:
        return resources.preset_index(kind)
    return {path.stem.lower(): path for path in sorted(directory.glob("*.yaml"))}


_LISTING = {"model": "hwsim list models", "hardware": "hwsim list hardware", "sweep": "hwsim list sweeps",
            "report": "hwsim list reports"}


def find_preset(name_or_path: str, directory: Path, kind: str) -> Path:
    """A file path, or a preset name looked up case-insensitively in `directory` (and the user
    preset directories); an unknown name suggests the close ones."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml", ".json") and candidate.is_file():
        return candidate
    index = _preset_index(directory)
    key = name_or_path.strip().lower()
    if key in index:
        return index[key]
    if candidate.suffix in (".yaml", ".yml", ".json"):
        raise ConfigError(f"{name_or_path}: no such file")
    if not index:
        raise ConfigError(f"no {kind} presets found in {_display(directory)}: the installation is incomplete")
    raise ConfigError(resources.unknown_name(kind, name_or_path, list(index), _LISTING.get(kind, "")))


def list_presets(directory: Path) -> list[Path]:
    """Every preset file of `directory` (with the user presets of its kind), sorted by name;
    an empty set is an error, never a silently empty listing."""
    index = _preset_index(directory)
    if not index:
        raise ConfigError(f"no presets found in {_display(directory)}: the installation is incomplete")
    return [index[name] for name in sorted(index)]


def is_hardware_document(name_or_path: str) -> bool:
    """Whether a name or file denotes hardware (a hardware preset name, or a file with a
    `memory` or `compute` section) rather than a model. A name of neither kind is an error that
    suggests the close names of both."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml", ".json") and path.exists():
        data = read_document(path)
        from hwsim.chip.params import is_chip_document

        return "memory" in data or "compute" in data or is_chip_document(data)
    key = name_or_path.strip().lower()
    hardware = _preset_index(HARDWARE_DIR)
    models = _preset_index(MODELS_DIR)
    if key not in hardware and key not in models and path.suffix not in (".yaml", ".yml", ".json"):
        raise ConfigError(resources.unknown_name("model or hardware", name_or_path, [*models, *hardware],
                                                 "hwsim list models` / `hwsim list hardware"))
    return key in hardware and key not in models


def load_hardware(name_or_path: str, overrides: dict[str, Any] | None = None, *,
                  calibrated: bool = True, runtime: str | None = None) -> HardwareSpec:
    """A hardware preset name or YAML file. With `calibrated`, efficiencies the file leaves open
    are filled from configs/calibration.yaml (fitted on measured benchmarks) for `runtime` (a
    name from hwsim.spec.runtime; default: the class's runtime); a figure written in the file or
    given as an override always wins."""
    path = find_preset(name_or_path, HARDWARE_DIR, "hardware")
    data = read_document(path)
    from hwsim.chip.params import is_chip_document

    if is_chip_document(data):   # chip design parameters (hwsim.chip): priced and built into hardware
        from hwsim.chip.model import hardware_from_document

        hardware = hardware_from_document(data, overrides or {}, _display(path))
        return apply_calibration(hardware, runtime=runtime) if calibrated else hardware
    if overrides:
        data = apply_overrides(data, overrides, str(path))
    hardware = validate(HardwareSpec, data, _display(path))
    if not calibrated:
        return hardware
    written = _written_efficiencies(data, hardware)
    if overrides:  # an override is a stated figure even where the file's source says "estimate"
        written |= _written_efficiencies(apply_overrides({}, overrides, str(path)), hardware)
    return apply_calibration(hardware, written=written, runtime=runtime)


def _written_efficiencies(data: dict[str, Any], hardware: HardwareSpec) -> set[str]:
    """Which calibratable figures the document states itself (names as in
    hwsim.calibration.FIGURES): dram_efficiency (main memory), dram_efficiency_by_format,
    matrix_efficiency (a stated `efficiency` or `efficiency_curve` of the matrix engine), and
    op_launch unless the overhead section's source marks it as an estimate awaiting calibration."""
    written = set()
    main, matrix = hardware.main_memory_name, hardware.matrix_name
    if "efficiency" in (data.get("memory") or {}).get(main, {}):
        # A stated bandwidth efficiency covers every weight format too.
        written |= {"dram_efficiency", "dram_efficiency_by_format"}
    if {"efficiency", "efficiency_curve"} & set((data.get("compute") or {}).get(matrix, {})):
        written.add("matrix_efficiency")
    if "dram_efficiency_by_format" in data:
        written.add("dram_efficiency_by_format")
    overhead = data.get("overhead") or {}
    if "op_launch" in overhead and not str(overhead.get("source", "")).lower().startswith("estimate"):
        written.add("op_launch")
    if "request" in overhead:
        written.add("request")
    return written


def load_model(name_or_path: str, overrides: dict[str, Any] | None = None) -> ModelSpec:
    """A model preset name, a model YAML, or a Hugging Face config.json."""
    path = find_preset(name_or_path, MODELS_DIR, "model")
    data = read_document(path)
    if path.suffix == ".json":
        from hwsim.spec.hf import model_dict_from_hf_config  # HF mapping only when asked for

        data = model_dict_from_hf_config(data, source=str(path))
    data = _resolve_quant(data, str(path))
    if overrides:
        data = apply_overrides(data, overrides, str(path))
        data = _resolve_quant(data, str(path))
    if "parametric" in data:   # begin/middle/end looped design (hwsim.scaling.parametric)
        from hwsim.scaling.parametric import from_document

        return from_document(data, _display(path))
    return validate(ModelSpec, data, _display(path))


def load_quant(name_or_path: str) -> QuantSpec:
    if name_or_path.lower() in QUANT_PRESETS or not Path(name_or_path).exists():
        try:
            return quant_preset(name_or_path)
        except ValueError as exc:
            raise ConfigError(f"--quant: {exc}") from None
    path = Path(name_or_path)
    return validate(QuantSpec, read_document(path), _display(path))
