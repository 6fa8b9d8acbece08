"""Load specs from YAML / JSON files and presets, collecting every error before failing.

Order of checks: the file must parse; duplicate keys are collected while parsing; then the
pydantic model validates the whole document and reports every bad field at once. All problems
go into one ConfigError whose message names the file and each field:

    configs/hardware/x.yaml: 2 problems: memory.dram.bandwidth: '68 GB' is a size, expected a
    data rate like '68 GB/s'; power.tdp: field required
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from hwsim import resources
from hwsim.errors import ConfigError
from hwsim.spec.hardware import HardwareSpec
from hwsim.spec.model import ModelSpec
from hwsim.spec.quant import QUANT_PRESETS, QuantSpec, quant_preset

SpecT = TypeVar("SpecT", bound=BaseModel)

# The shipped data tree (configs/, workloads/, validation/ as in the repository), read through
# importlib.resources so a wheel install finds it too; see hwsim.resources.
DATA_ROOT = resources.DATA_ROOT
REPO_ROOT = DATA_ROOT  # the old name: the same layout, also inside an installed package
HARDWARE_DIR = resources.builtin_dir("hardware")
ENERGY_DIR = DATA_ROOT / "configs" / "energy"
MODELS_DIR = resources.builtin_dir("model")
SWEEPS_DIR = resources.builtin_dir("sweep")
_KIND_OF_DIR = {HARDWARE_DIR: "hardware", MODELS_DIR: "model", SWEEPS_DIR: "sweep",
                resources.builtin_dir("report"): "report"}


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that records duplicate mapping keys instead of silently keeping the last."""

    def __init__(self, stream):
        super().__init__(stream)
        self.duplicates: list[str] = []


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, Hashable):  # `? [a, b]` keys: rejected, as SafeLoader does
            raise yaml.constructor.ConstructorError(
                None, None, f"a {type(key).__name__} cannot be a mapping key", key_node.start_mark)
        if key in mapping:
            loader.duplicates.append(f"duplicate key {key!r} (line {key_node.start_mark.line + 1})")
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_document(path: Path | str) -> dict[str, Any]:
    """Parse a YAML or JSON file into a dict; raise ConfigError on syntax or duplicate keys."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a UTF-8 text file (byte {exc.object[exc.start]:#04x} at offset "
                          f"{exc.start})") from None
    if path.suffix == ".json":
        duplicates: list[str] = []

        def pairs_hook(pairs):
            seen: dict[str, Any] = {}
            for key, value in pairs:
                if key in seen:
                    duplicates.append(f"duplicate key {key!r}")
                seen[key] = value
            return seen

        try:
            data = json.loads(text, object_pairs_hook=pairs_hook)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    else:
        loader = _StrictLoader(text)
        try:
            data = loader.get_single_data()
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
        finally:
            loader.dispose()
        duplicates = loader.duplicates
    if duplicates:
        raise ConfigError(f"{path}: {'; '.join(duplicates)}")
    if data is None:
        raise ConfigError(f"{path}: the file is empty; expected a mapping of fields")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def format_validation_error(exc: ValidationError, cls: type[BaseModel] | None = None) -> list[str]:
    """One 'field.path: problem' string per pydantic error; with `cls`, an unknown field
    suggests the close field names."""
    problems = []
    for error in exc.errors(include_url=False):
        location = ".".join(str(part) if str(part).isprintable() else repr(part)  # keeps it one line
                            for part in error["loc"] if not _is_union_tag(part))
        message = error["msg"]
        for prefix in ("Value error, ", "Assertion failed, "):
            message = message.removeprefix(prefix)
        if error["type"] == "extra_forbidden":
            known = _field_names(cls, error["loc"][:-1]) if cls is not None else []
            message = "unknown field" + resources.did_you_mean(str(error["loc"][-1]), known)
        elif error["type"] == "missing":
            message = "required field is missing"
        problems.append(f"{location or '(top level)'}: {message}")
    return list(dict.fromkeys(problems))


def _field_names(cls: type[BaseModel], loc: tuple) -> list[str]:
    """Field names (and aliases) of the spec section at `loc` below `cls`, for suggestions."""
    node: Any = cls
    for part in loc:
        node = _unwrap(node)
        if isinstance(node, type) and issubclass(node, BaseModel):
            field = next((f for name, f in node.model_fields.items() if part in (name, f.alias)), None)
            if field is None:
                return []
            node = field.annotation
        elif get_origin(node) in (dict, list):
            node = get_args(node)[-1]
        else:
            return []
    node = _unwrap(node)
    if not (isinstance(node, type) and issubclass(node, BaseModel)):
        return []
    return [f.alias or name for name, f in node.model_fields.items()]


def _unwrap(node: Any) -> Any:
    """The spec type inside Optional[...], unions and Annotated[...]."""
    while get_origin(node) in (Union, UnionType, Annotated):
        args = [a for a in get_args(node) if a is not type(None)]
        node = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)
                     or get_origin(a) in (dict, list)), args[0])
    return node


def _is_union_tag(part) -> bool:
    # pydantic adds the union member's type name to the location ('int', 'str', 'RepeatSpec').
    return isinstance(part, str) and (part in ("int", "str", "float", "RepeatSpec")
                                      or part.startswith(("literal[", "function-")))


def validate(cls: type[SpecT], data: dict[str, Any], source: str) -> SpecT:
    """Validate `data` as `cls`, raising one ConfigError that lists every problem."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        problems = format_validation_error(exc, cls)
        head = f"{source}: " + (f"{len(problems)} problems: " if len(problems) > 1 else "")
        raise ConfigError(head + "; ".join(problems)) from None


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
        return "memory" in data or "compute" in data
    key = name_or_path.strip().lower()
    hardware = _preset_index(HARDWARE_DIR)
    models = _preset_index(MODELS_DIR)
    if key not in hardware and key not in models and path.suffix not in (".yaml", ".yml", ".json"):
        raise ConfigError(resources.unknown_name("model or hardware", name_or_path, [*models, *hardware],
                                                 "hwsim list models` / `hwsim list hardware"))
    return key in hardware and key not in models


def load_hardware(name_or_path: str, overrides: dict[str, Any] | None = None, *,
                  calibrated: bool = True) -> HardwareSpec:
    """A hardware preset name or YAML file. With `calibrated`, efficiencies the file leaves open
    are filled from configs/calibration.yaml (fitted on measured benchmarks); a figure written
    in the file or given as an override always wins."""
    path = find_preset(name_or_path, HARDWARE_DIR, "hardware")
    data = read_document(path)
    if overrides:
        data = apply_overrides(data, overrides, str(path))
    hardware = validate(HardwareSpec, data, _display(path))
    if not calibrated:
        return hardware
    from hwsim.calibration import apply_calibration  # calibration reads files through this module

    written = _written_efficiencies(data, hardware)
    if overrides:  # an override is a stated figure even where the file's source says "estimate"
        written |= _written_efficiencies(apply_overrides({}, overrides, str(path)), hardware)
    return apply_calibration(hardware, written=written)


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
    return validate(ModelSpec, data, _display(path))


def load_quant(name_or_path: str) -> QuantSpec:
    if name_or_path.lower() in QUANT_PRESETS or not Path(name_or_path).exists():
        try:
            return quant_preset(name_or_path)
        except ValueError as exc:
            raise ConfigError(f"--quant: {exc}") from None
    path = Path(name_or_path)
    return validate(QuantSpec, read_document(path), _display(path))


def _display(path: Path) -> str:
    """Shipped files are shown relative to the data tree (`configs/hardware/x.yaml`), so
    messages carry no machine path."""
    resolved = Path(path).resolve()
    for top, target in _DATA_DIRS:
        if resolved.is_relative_to(target):
            return str(Path(top, resolved.relative_to(target)))
    return str(path)


# (name, resolved directory) of each top-level data directory (links in a checkout).
_DATA_DIRS = [(sub.name, sub.resolve()) for sub in sorted(DATA_ROOT.iterdir())] if DATA_ROOT.is_dir() else []
