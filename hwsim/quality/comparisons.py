"""Iso-quality comparison sets (workloads/comparisons/*.yaml): which models are compared at
equal quality, in which comparable group, on which benchmarks.

A member is a model preset (optionally at a loop count: its quality and its cost are both
known) or a `quality_model` without a preset (a published baseline compared on quality only).
"""

from __future__ import annotations

import pandas as pd
from pydantic import Field, model_validator

from hwsim.errors import ConfigError
from hwsim.quality.data import load
from hwsim.quality.model import PREFIX, aggregate_benchmarks, benchmark_key, mean_score, model_quality, quality
from hwsim.spec import loader
from hwsim.spec._base import Spec

COMPARISONS_DIR = loader.REPO_ROOT / "workloads" / "comparisons"


class Member(Spec):
    preset: str | None = None
    loops: int | None = Field(None, ge=1)
    quality_model: str | None = None

    @model_validator(mode="after")
    def _one_kind(self):
        if (self.preset is None) == (self.quality_model is None):
            raise ValueError("give either preset (a model preset) or quality_model (a published baseline)")
        if self.quality_model is not None and self.loops is not None:
            raise ValueError("loops needs a preset")
        return self


class ComparisonSet(Spec):
    name: str = Field(min_length=1)
    question: str = Field(min_length=1)
    quality_group: str
    benchmarks: list[str] = Field(min_length=1)
    members: list[Member] = Field(min_length=2)


def load_comparison(name_or_path: str) -> ComparisonSet:
    """A set by name (workloads/comparisons/) or file; every preset, model and benchmark is
    checked against the presets and the quality data."""
    path = loader.find_preset(name_or_path, COMPARISONS_DIR, "comparison set")
    origin = loader._display(path)
    spec = loader.validate(ComparisonSet, loader.read_document(path), origin)
    data = load()
    if spec.quality_group not in {r.group for r in data.rows}:
        raise ConfigError(f"{origin}: quality_group {spec.quality_group!r} has no score rows")
    known = {r.benchmark for r in data.rows if r.group == spec.quality_group}
    for benchmark in spec.benchmarks:
        if benchmark not in known:
            raise ConfigError(f"{origin}: benchmarks: {benchmark!r} is not in {spec.quality_group}")
    for i, member in enumerate(spec.members):
        name = member.quality_model or loader.load_model(member.preset).name
        if name not in data.config.models:
            raise ConfigError(f"{origin}: members[{i}]: {name} has no entry in configs/quality/models.yaml")
    return spec


def member_model(member: Member):
    """The member's ModelSpec (at its loop count), or None for a quality-only baseline."""
    if member.preset is None:
        return None
    from hwsim.spec.variants import configure_model

    model = loader.load_model(member.preset)
    return configure_model(model, loops=member.loops) if member.loops else model


def member_label(member: Member) -> str:
    model = member_model(member)
    if model is None:
        return member.quality_model
    return f"{model.name} x{model.loop.count}" if model.is_looped else model.name


def quality_table(spec: ComparisonSet) -> pd.DataFrame:
    """One row per member: its unquantised score per benchmark, the group's average and the
    source tag (`quality_source`). Scores are the published rows, NaN where unmeasured."""
    rows = []
    for member in spec.members:
        model = member_model(member)
        if model is not None:
            scores = model_quality(model, spec.quality_group)
            values = {b: scores[f"checkpoint_{PREFIX}{benchmark_key(b)}"] for b in spec.benchmarks}
            average = scores[f"checkpoint_{PREFIX}avg"]
        else:
            values = {b: quality(member.quality_model, b, group=spec.quality_group) for b in spec.benchmarks}
            average = mean_score([quality(member.quality_model, b, group=spec.quality_group)
                                  for b in aggregate_benchmarks(spec.quality_group)])
        row = {"member": member_label(member), "preset": member.preset, "loops": member.loops}
        row.update({b: score.value for b, score in values.items()})
        row["avg"] = average.value
        row["quality_source"] = average.label
        rows.append(row)
    return pd.DataFrame(rows)
