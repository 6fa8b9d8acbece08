"""Built-in report presets (workloads/reports/*.yaml): the sweeps a report runs and what it
compares.

A preset names its question, the objective that picks the winner, the Pareto objectives, the
sweeps that produce the design points (each a sweep spec without name and objectives), the
`focus` point drawn in the roofline and timeline figures, and the SRAM sizes of the residency
curve. An equal-quality report adds `iso_quality` (a comparison set), `context` (decode speed
against context length), `sensitivity` (the parameters that flip the answer) and
`uncertainty` (the measured error per hardware class that bands every speed). Sweep entries are validated as `SweepSpec`s, so a preset accepts exactly what
`hwsim sweep` accepts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from hwsim.errors import ConfigError
from hwsim.resources import builtin_dir
from hwsim.spec import loader
from hwsim.spec._base import Spec
from hwsim.result import TOTAL_KEYS
from hwsim.sweep.spec import RunSpec, SweepSpec
from hwsim.vocab import Engine, ResidencyPolicy

REPORTS_DIR = builtin_dir("report")
# Reports computed by a module instead of a YAML of sweeps: name -> module whose
# write(out_dir, command=...) writes CODE_PRESET_FILES and returns the conclusion's paragraphs.
CODE_PRESETS = {"hypothetical-looped-edge": "hwsim.report.hypothetical",
                "chip-codesign-edge": "hwsim.chip.report"}
CODE_PRESET_FILES = ("report.md", "results.csv", "manifest.json")


NUMERIC_TOTALS = tuple(k for k in TOTAL_KEYS if k not in ("fits", "bound"))


class ResidencySpec(Spec):
    """The SRAM-size curve: the focus point re-simulated (decode) at each SRAM capacity, one
    line per loop count (looped models)."""

    sram: list[str] = Field(min_length=2)
    loops: list[int] = Field(default_factory=list)
    gen_len: int = Field(64, ge=1)
    policy: ResidencyPolicy = "lru"


class IsoQualitySpec(Spec):
    """Compare at equal quality: the comparison set (workloads/comparisons/), the quality column
    on the figures (the unquantised checkpoint's published average by default: a quantisation
    penalty is unknown for most models), the format of the iso-quality table, and how many
    points of quality count as equal."""

    set: str
    quality: str = "checkpoint_quality.avg"
    quant: str = "int4-g128"
    tolerance: float = Field(1.0, ge=0)


class ContextSpec(Spec):
    """Decode speed against context length for the comparison's members on one chip."""

    hardware: str
    prompt_len: list[int] = Field(min_length=2)
    gen_len: int = Field(16, ge=1)


class KnobSpec(Spec):
    """One parameter of the sensitivity study: a sweep path and its values (`looped_only`: a
    loop setting such as the KV policy, applied to the looped member alone)."""

    label: str
    path: str
    values: list[Any] = Field(min_length=2)
    looped_only: bool = False


class SensitivitySpec(Spec):
    """Which parameters flip the answer: the looped member against each standard member on
    one chip, one knob at a time."""

    hardware: str
    knobs: list[KnobSpec] = Field(min_length=1)
    gen_len: int = Field(16, ge=1)


class UncertaintySpec(Spec):
    """Measured error of the simulator's decode speed per hardware class (relative), and where
    it was measured."""

    source: str
    decode_error: dict[str, float]


class ReportSpec(Spec):
    name: str = Field(min_length=1)
    title: str = Field(min_length=1)
    question: str = Field(min_length=1)
    objective: dict[str, Literal["min", "max"]] = Field(min_length=1, max_length=1)
    pareto: dict[str, Literal["min", "max"]] = Field(min_length=2)
    engine: Engine = "des"
    run: RunSpec = Field(default_factory=RunSpec)
    sweeps: dict[str, dict[str, Any]] = Field(min_length=1)
    focus: dict[str, Any] = Field(min_length=1)
    residency: ResidencySpec | None = None
    iso_quality: IsoQualitySpec | None = None
    context: ContextSpec | None = None
    sensitivity: SensitivitySpec | None = None
    uncertainty: UncertaintySpec | None = None

    @field_validator("objective", "pareto")
    @classmethod
    def _numeric(cls, value: dict[str, str]):
        from hwsim.quality import is_quality_key

        for name in value:
            if name not in NUMERIC_TOTALS and not is_quality_key(name):
                raise ValueError(f"{name}: not a numeric result total; known: {', '.join(NUMERIC_TOTALS)}")
        return value

    @property
    def objective_metric(self) -> tuple[str, str]:
        return next(iter(self.objective.items()))

    def comparison(self):
        """The iso_quality comparison set (None without one)."""
        from hwsim.quality.comparisons import load_comparison

        return load_comparison(self.iso_quality.set) if self.iso_quality is not None else None

    def sweep_specs(self, origin: str) -> dict[str, SweepSpec]:
        """Each sweep entry as a validated SweepSpec, with the report's run settings as defaults."""
        specs = {}
        for key, body in self.sweeps.items():
            if "name" in body or "objectives" in body:
                raise ConfigError(f"{origin}: sweeps.{key}: name and objectives come from the report")
            data = {**self.run.model_dump(), **body, "name": f"{self.name}-{key}", "objectives": self.pareto}
            if self.iso_quality is not None:
                data.setdefault("quality_group", self.comparison().quality_group)
            specs[key] = loader.validate(SweepSpec, data, f"{origin}: sweeps.{key}")
        return specs


def load_report(name_or_path: str) -> tuple[ReportSpec, str]:
    """A preset name (workloads/reports/) or a YAML/JSON file -> (spec, origin for messages)."""
    path = loader.find_preset(name_or_path, REPORTS_DIR, "report")
    origin = loader._display(Path(path))
    spec = loader.validate(ReportSpec, loader.read_document(path), origin)
    spec.sweep_specs(origin)  # every sweep validated before any work
    if spec.iso_quality is None and (spec.context is not None or spec.sensitivity is not None):
        raise ConfigError(f"{origin}: context and sensitivity compare the iso_quality set's members: give iso_quality")
    return spec, origin
