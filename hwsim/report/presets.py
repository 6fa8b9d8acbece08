"""Built-in report presets (workloads/reports/*.yaml): the sweeps a report runs and what it
compares.

A preset names its question, the objective that picks the winner, the Pareto objectives, the
sweeps that produce the design points (each a sweep spec without name and objectives), the
`focus` point drawn in the roofline and timeline figures, and the SRAM sizes of the residency
curve. Sweep entries are validated as `SweepSpec`s, so a preset accepts exactly what
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

REPORTS_DIR = builtin_dir("report")
NUMERIC_TOTALS = tuple(k for k in TOTAL_KEYS if k not in ("fits", "bound"))


class ResidencySpec(Spec):
    """The SRAM-size curve: the focus point re-simulated (decode) at each SRAM capacity, one
    line per loop count (looped models)."""

    sram: list[str] = Field(min_length=2)
    loops: list[int] = Field(default_factory=list)
    gen_len: int = Field(64, ge=1)
    policy: Literal["lru", "stream", "belady", "pin"] = "lru"


class ReportSpec(Spec):
    name: str = Field(min_length=1)
    title: str = Field(min_length=1)
    question: str = Field(min_length=1)
    objective: dict[str, Literal["min", "max"]] = Field(min_length=1, max_length=1)
    pareto: dict[str, Literal["min", "max"]] = Field(min_length=2)
    engine: Literal["des", "roofline"] = "des"
    run: RunSpec = Field(default_factory=RunSpec)
    sweeps: dict[str, dict[str, Any]] = Field(min_length=1)
    focus: dict[str, Any] = Field(min_length=1)
    residency: ResidencySpec | None = None

    @field_validator("objective", "pareto")
    @classmethod
    def _numeric(cls, value: dict[str, str]):
        for name in value:
            if name not in NUMERIC_TOTALS:
                raise ValueError(f"{name}: not a numeric result total; known: {', '.join(NUMERIC_TOTALS)}")
        return value

    @property
    def objective_metric(self) -> tuple[str, str]:
        return next(iter(self.objective.items()))

    def sweep_specs(self, origin: str) -> dict[str, SweepSpec]:
        """Each sweep entry as a validated SweepSpec, with the report's run settings as defaults."""
        specs = {}
        for key, body in self.sweeps.items():
            if "name" in body or "objectives" in body:
                raise ConfigError(f"{origin}: sweeps.{key}: name and objectives come from the report")
            data = {**self.run.model_dump(), **body, "name": f"{self.name}-{key}", "objectives": self.pareto}
            specs[key] = loader.validate(SweepSpec, data, f"{origin}: sweeps.{key}")
        return specs


def load_report(name_or_path: str) -> tuple[ReportSpec, str]:
    """A preset name (workloads/reports/) or a YAML/JSON file -> (spec, origin for messages)."""
    path = loader.find_preset(name_or_path, REPORTS_DIR, "report")
    origin = loader._display(Path(path))
    spec = loader.validate(ReportSpec, loader.read_document(path), origin)
    spec.sweep_specs(origin)  # every sweep validated before any work
    return spec, origin
