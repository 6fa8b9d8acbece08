"""SweepSpec: a design space as data, and its expansion into validated points.

A sweep names a base model and hardware (presets or files), fixed overrides (`set`), and axes:
dotted paths with a list of values or a range. Points are the cartesian product of the axes.

    model: ouro-1.4b
    hardware: jetson-orin-nano
    axes:
      model.loop.count: [1, 2, 4, 8]                # through configure_model (checks the loop)
      model.quant: [bf16, int8, int4-g128]          # quantisation preset names
      hardware.memory.sram.capacity: {start: "1 MiB", stop: "64 MiB", num: 7, scale: log}
      batch: [1, 4]
    constraints: ["fits == True"]
    objectives: {tpot_s: min, energy_per_token_j: min}
    quality_group: ouro_base_lmeval                 # optional: which published scores

Every point carries the quality columns of its model configuration (hwsim.quality:
`quality.<benchmark>`, `checkpoint_quality.<benchmark>`, `quality.avg`, `quality_source`), so
constraints and objectives may name them (`quality.gsm8k >= 72.86`, `quality.avg: max`).

Axis roots: `model` / `hardware` (a list of presets), `model.<path>` / `hardware.<path>` (a field
of the spec, applied to the raw YAML like `--set`), and the run settings `phase`, `batch`,
`prompt_len`, `gen_len`, `policy`. Every point's specs are built and validated before any work,
so a bad path or value fails at once with one line naming the point and the field.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from hwsim import units
from hwsim.errors import ConfigError
from hwsim.quality import is_quality_key, quality_columns
from hwsim.result import TOTAL_KEYS
from hwsim.spec import loader
from hwsim.spec._base import Spec
from hwsim.spec.hardware import HardwareSpec
from hwsim.spec.model import ModelSpec
from hwsim.spec.quant import FORMATS, quant_preset
from hwsim.spec.variants import configure_model
from hwsim.sweep.constraints import Constraint, parse_constraint
from hwsim.vocab import ResidencyPolicy

RUN_AXES = ("phase", "batch", "prompt_len", "gen_len", "policy")
# The inference runtime: chooses the hardware's calibration (hwsim/spec/runtime.py), so it is
# applied when the hardware is loaded, not passed to `simulate`.
RUNTIME_AXIS = "runtime"
# Model fields that go through configure_model, so e.g. a loop count on a model without a
# loop is refused instead of silently ignored.
VARIANT_AXES = {"model.loop.count": "loops", "model.loop.kv_policy": "kv_policy",
                "model.loop.kv_last_k": "kv_last_k"}
_QUANT_FORMAT_PATHS = ("model.quant.weight", "model.quant.act", "model.quant.kv")
_NUMBER_UNIT = re.compile(r"^\s*(?P<number>[-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?)\s*(?P<unit>\S.*?)\s*$")


class RangeSpec(Spec):
    """`{start, stop, num | step, scale}`. Quantities carry units (`"1 MiB"`); values come back
    in the start's unit. A log range with `step` multiplies (1, 2, 4, 8 for step 2)."""

    start: str | int | float
    stop: str | int | float
    num: int | None = Field(None, ge=1)
    step: int | float | None = Field(None, gt=0)
    scale: Literal["linear", "log"] = "linear"

    @model_validator(mode="after")
    def _one_spacing(self):
        if (self.num is None) == (self.step is None):
            raise ValueError("give exactly one of num or step")
        if self.scale == "log" and self.step is not None and self.step <= 1:
            raise ValueError("a log range with step multiplies by it: step must be > 1")
        return self


class RunSpec(Spec):
    """The per-point arguments of `simulate` besides the specs."""

    phase: Literal["e2e", "prefill", "decode"] = "e2e"
    batch: int = Field(1, ge=1)
    prompt_len: int = Field(512, ge=1)
    gen_len: int = Field(128, ge=1)
    policy: ResidencyPolicy = "lru"


class SweepSpec(Spec):
    name: str = Field(min_length=1)
    description: str = ""
    model: str | None = None
    hardware: str | None = None
    phase: Literal["e2e", "prefill", "decode"] = "e2e"
    batch: int = Field(1, ge=1)
    prompt_len: int = Field(512, ge=1)
    gen_len: int = Field(128, ge=1)
    policy: ResidencyPolicy = "lru"
    runtime: str | None = Field(None, description="inference runtime (default: the hardware class's)")
    fixed: dict[str, Any] = Field(default_factory=dict, alias="set",
                                  description="overrides applied to every point (same paths as axes)")
    axes: dict[str, list[Any] | RangeSpec] = Field(min_length=1)
    constraints: list[str] = Field(default_factory=list)
    objectives: dict[str, Literal["min", "max"]] = Field(min_length=1)
    quality_group: str | None = Field(None, description="comparable group of the quality columns "
                                                         "(default: each model's first; see configs/quality)")

    _origin: str | None = PrivateAttr(None)

    @field_validator("axes", "fixed")
    @classmethod
    def _known_roots(cls, value: dict[str, Any]):
        for path in value:
            _check_path(path)
        return value

    @field_validator("axes")
    @classmethod
    def _non_empty_lists(cls, axes: dict[str, Any]):
        for path, values in axes.items():
            if isinstance(values, list) and not values:
                raise ValueError(f"{path}: an axis needs at least one value")
        return axes

    @field_validator("constraints")
    @classmethod
    def _parse_constraints(cls, texts: list[str]):
        for text in texts:
            parse_constraint(text)
        return texts

    @field_validator("objectives")
    @classmethod
    def _numeric_objectives(cls, objectives: dict[str, str]):
        from hwsim.chip.budget import HARDWARE_TOTALS  # area_mm2, tdp_w, idle_w: hardware budget axes

        for name in objectives:
            if name in HARDWARE_TOTALS or is_quality_key(name):
                continue
            if name not in TOTAL_KEYS or name in ("fits", "bound"):
                from hwsim.resources import unknown_name

                numeric = [k for k in TOTAL_KEYS if k not in ("fits", "bound")]
                raise ValueError(f"{name}: not a numeric result total; {unknown_name('total', name, numeric)}")
        return objectives

    @model_validator(mode="after")
    def _has_model_and_hardware(self):
        if self.model is None and "model" not in self.axes:
            raise ValueError("give a base `model` or a `model` axis")
        if self.hardware is None and "hardware" not in self.axes:
            raise ValueError("give a base `hardware` or a `hardware` axis")
        return self

    @property
    def origin(self) -> str:
        """Where the spec came from (file shown relative to the repository), for messages."""
        return self._origin or f"sweep {self.name}"

    @property
    def parsed_constraints(self) -> list[Constraint]:
        return [parse_constraint(text) for text in self.constraints]


def _check_path(path: str) -> None:
    root, _, rest = path.partition(".")
    if path in RUN_AXES or path == RUNTIME_AXIS or (root in ("model", "hardware") and (rest or path == root)):
        if rest and not all(part for part in rest.split(".")):
            raise ValueError(f"{path}: empty part in the dotted path")
        return
    raise ValueError(f"unknown axis {path!r}: use model, hardware, model.<field path>, "
                     f"hardware.<field path> or one of {', '.join(RUN_AXES + (RUNTIME_AXIS,))}")


def load_sweep(name_or_path: str) -> SweepSpec:
    """A sweep preset name (workloads/sweeps/) or a YAML/JSON file."""
    path = loader.find_preset(name_or_path, loader.SWEEPS_DIR, "sweep")
    origin = loader._display(path)
    spec = loader.validate(SweepSpec, loader.read_document(path), origin)
    spec._origin = origin
    return spec


# ----------------------------------------------------------------------------- axis values


@dataclass(frozen=True)
class AxisValue:
    """One value of an axis: `label` as shown in keys and tables, `value` as passed to the
    override, `si` the value in SI base units when it is a quantity."""

    label: Any
    value: Any
    si: float | None = None


def axis_values(path: str, values: list[Any] | RangeSpec, origin: str) -> list[AxisValue]:
    """Expand a list or range into AxisValues, resolving quantisation names; errors name the axis."""
    where = f"{origin}: axes.{path}"
    try:
        raw = _expand_range(values) if isinstance(values, RangeSpec) else list(values)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    dimension = _common_dimension(raw)
    result = []
    for item in raw:
        try:
            value = _resolve_named(path, item)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        si = units.parse(item, dimension) if dimension else None
        result.append(AxisValue(label=_label(item), value=value, si=si))
    labels = [json.dumps(v.label, sort_keys=True, default=str) for v in result]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise ConfigError(f"{where}: duplicate values {', '.join(duplicates)}")
    return result


def quantity_dimension(path: str, values: list[AxisValue]) -> str | None:
    """The unit dimension of an axis whose values are all quantities (for its SI column)."""
    return _common_dimension([v.label for v in values]) if all(v.si is not None for v in values) else None


def _resolve_named(path: str, value: Any) -> Any:
    """`model.quant: int8` -> the preset's fields; `model.quant.kv: fp8` -> the format's fields.
    Done here (not by the loader) so a named quant composes with `model.quant.kv` overrides."""
    if path == "model.quant" and isinstance(value, str):
        return quant_preset(value).model_dump(mode="python")
    if path in _QUANT_FORMAT_PATHS and isinstance(value, str):
        if value not in FORMATS:
            raise ValueError(f"unknown format {value!r}; known: {', '.join(sorted(FORMATS))}")
        return FORMATS[value].model_dump(mode="python")
    return value


def _label(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return value


def _dimension_of(text: Any) -> str | None:
    if not isinstance(text, str):
        return None
    for dimension in units.DIMENSIONS:
        try:
            units.parse(text, dimension)
            return dimension
        except ValueError:
            continue
    return None


def _common_dimension(values: list[Any]) -> str | None:
    dimensions = {_dimension_of(v) for v in values}
    return dimensions.pop() if len(dimensions) == 1 and None not in dimensions else None


def _expand_range(spec: RangeSpec) -> list[Any]:
    quantity = isinstance(spec.start, str) or isinstance(spec.stop, str)
    if quantity:
        dimension = _dimension_of(spec.start)
        match = _NUMBER_UNIT.match(spec.start) if isinstance(spec.start, str) else None
        if dimension is None or match is None:
            raise ValueError(f"start {spec.start!r}: expected a quantity like '1 MiB' or a number")
        if _dimension_of(spec.stop) != dimension:
            raise ValueError(f"stop {spec.stop!r}: expected the same kind of quantity as start {spec.start!r}")
        start, stop = units.parse(spec.start, dimension), units.parse(spec.stop, dimension)
    else:
        start, stop = float(spec.start), float(spec.stop)
    if stop < start:
        raise ValueError(f"stop ({spec.stop}) is below start ({spec.start})")
    if spec.scale == "log" and start <= 0:
        raise ValueError("a log range needs start > 0")
    numbers = _spaced(start, stop, spec)
    if quantity:
        unit = match["unit"]
        unit_size = units.parse(f"1 {unit}", dimension)
        if dimension == "bytes":
            numbers = [float(round(x)) for x in numbers]
        return _dedupe([_quantity_text(x, unit, unit_size, dimension) for x in numbers])
    if all(isinstance(x, int) for x in (spec.start, spec.stop, spec.step or 1)):
        return _dedupe([int(round(x)) for x in numbers])
    return _dedupe(numbers)


def _spaced(start: float, stop: float, spec: RangeSpec) -> list[float]:
    if spec.num is not None:
        if spec.num == 1:
            return [start]
        if spec.scale == "log":
            ratio = (stop / start) ** (1 / (spec.num - 1))
            return [start * ratio ** i for i in range(spec.num - 1)] + [stop]
        return [start + (stop - start) * i / (spec.num - 1) for i in range(spec.num)]
    values, i = [], 0
    while True:
        x = start * spec.step ** i if spec.scale == "log" else start + spec.step * i
        if x > stop * (1 + 1e-12):
            return values
        values.append(x)
        i += 1


def _quantity_text(value: float, unit: str, unit_size: float, dimension: str) -> str:
    """`2097152` in MiB -> "2 MiB" when that reads back exactly, else the exact SI form."""
    text = f"{value / unit_size:.12g} {unit}"
    return text if units.parse(text, dimension) == value else units.format_si(value, dimension)


def _dedupe(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


# ----------------------------------------------------------------------------- points


@dataclass(frozen=True)
class Point:
    """One design point: its index in the product, readable key, axis labels, and the
    validated inputs of `simulate`."""

    index: int
    key: str
    labels: dict[str, Any]
    model: ModelSpec
    hardware: HardwareSpec
    run: RunSpec
    si: dict[str, float] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)   # hwsim.quality columns of the model


@dataclass(frozen=True)
class SweepPlan:
    """Every point of a sweep, built and validated; `fingerprint` identifies the resolved
    design space (spec plus the presets it read), so a resume into a changed sweep is refused."""

    spec: SweepSpec
    points: list[Point]
    axes: list[str]
    si_columns: dict[str, str]
    fingerprint: str


def resolve_points(spec: SweepSpec, on_point: Callable[[int, int], None] | None = None) -> SweepPlan:
    """Build and validate the specs of every point before any simulation runs; `on_point(done,
    total)` follows the progress (a large sweep takes a while to check)."""
    origin = spec.origin
    fixed = {path: AxisValue(label=_label(v), value=_resolve_fixed(path, v, origin)) for path, v in spec.fixed.items()}
    expanded = {path: axis_values(path, values, origin) for path, values in spec.axes.items()}
    si_columns = {}
    for path, values in expanded.items():
        dimension = quantity_dimension(path, values)
        if dimension:
            si_columns[path] = f"{path}_{dimension}"
    builder = _SpecBuilder(spec)
    qualities: dict[int, dict[str, Any]] = {}
    points = []
    total = math.prod(len(values) for values in expanded.values())
    for index, combo in enumerate(itertools.product(*expanded.values())):
        chosen = dict(zip(expanded, combo))
        key = ", ".join(f"{path}={value.label}" for path, value in chosen.items())
        try:
            model, hardware, run = builder.build({**fixed, **chosen})
        except ConfigError as exc:
            raise ConfigError(f"{origin}: point [{key}]: {exc}") from None
        if id(model) not in qualities:
            qualities[id(model)] = quality_columns(model, spec.quality_group)
        points.append(Point(index=index, key=key, labels={p: v.label for p, v in chosen.items()},
                            model=model, hardware=hardware, run=run,
                            si={si_columns[p]: v.si for p, v in chosen.items() if p in si_columns},
                            quality=qualities[id(model)]))
        if on_point is not None:
            on_point(index + 1, total)
    return SweepPlan(spec=spec, points=points, axes=list(expanded), si_columns=si_columns,
                     fingerprint=builder.fingerprint())


def _resolve_fixed(path: str, value: Any, origin: str) -> Any:
    try:
        return _resolve_named(path, value)
    except ValueError as exc:
        raise ConfigError(f"{origin}: set.{path}: {exc}") from None


class _SpecBuilder:
    """Builds each distinct model / hardware variant once (many points share them)."""

    def __init__(self, spec: SweepSpec):
        self.spec = spec
        self.models: dict[str, ModelSpec] = {}
        self.hardware: dict[str, HardwareSpec] = {}

    def build(self, chosen: dict[str, AxisValue]) -> tuple[ModelSpec, HardwareSpec, RunSpec]:
        values = {path: v.value for path, v in chosen.items()}
        run = {name: getattr(self.spec, name) for name in RUN_AXES}
        run.update({path: value for path, value in values.items() if path in RUN_AXES})
        run_spec = loader.validate(RunSpec, run, "run settings")
        model_name = values.get("model", self.spec.model)
        hardware_name = values.get("hardware", self.spec.hardware)
        variant = {VARIANT_AXES[p]: v for p, v in values.items() if p in VARIANT_AXES}
        model_overrides = _sub_overrides(values, "model", exclude=VARIANT_AXES)
        hardware_overrides = _sub_overrides(values, "hardware")
        runtime = values.get(RUNTIME_AXIS, self.spec.runtime)
        model = self._memo(self.models, (model_name, model_overrides, variant),
                           lambda: self._model(model_name, model_overrides, variant))
        hardware_key = (hardware_name, hardware_overrides) + ((runtime,) if runtime is not None else ())
        hardware = self._memo(self.hardware, hardware_key,
                              lambda: loader.load_hardware(_text(hardware_name, "hardware"), hardware_overrides or None,
                                                           runtime=runtime))
        return model, hardware, run_spec

    def _model(self, name: Any, overrides: dict[str, Any], variant: dict[str, Any]) -> ModelSpec:
        model = loader.load_model(_text(name, "model"), overrides or None)
        return configure_model(model, **variant) if variant else model

    @staticmethod
    def _memo(cache: dict, key: Any, make):
        text = json.dumps(key, sort_keys=True, default=str)
        if text not in cache:
            cache[text] = make()
        return cache[text]

    def fingerprint(self) -> str:
        digest = hashlib.sha256(self.spec.model_dump_json(by_alias=True).encode())
        for cache in (self.models, self.hardware):
            for key in sorted(cache):
                digest.update(key.encode())
                digest.update(cache[key].model_dump_json().encode())
        return digest.hexdigest()[:16]


def _sub_overrides(values: dict[str, Any], root: str, exclude=()) -> dict[str, Any]:
    """`model.quant.kv` -> `quant.kv`, parents before children so a whole `quant` mapping is
    set before one of its fields is overridden."""
    prefix = root + "."
    paths = sorted((p for p in values if p.startswith(prefix) and p not in exclude), key=lambda p: p.count("."))
    return {p[len(prefix):]: values[p] for p in paths}


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{what}: expected a preset name or file, got {value!r}")
    return value
