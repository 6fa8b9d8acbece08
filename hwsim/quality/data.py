"""The published scores the quality model reads: configs/quality/scores.csv (rows copied verbatim
from the project's quality data set, each with its source and comparable_group) and
configs/quality/models.yaml (which rows stand for which model preset).

A row is keyed by (comparable_group, model, variant, loops, benchmark). Where a table prints a
score twice under one key (Huginn's strict / flexible GSM8K pairs, Ouro's Table 7 vs Table 10 at
T=4), the first row in file order is the one used; the others stay in the file as printed.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field

from hwsim.errors import ConfigError
from hwsim.spec import loader
from hwsim.spec._base import Spec

QUALITY_DIR = loader.REPO_ROOT / "configs" / "quality"
SCORES_FILE = QUALITY_DIR / "scores.csv"
MODELS_FILE = QUALITY_DIR / "models.yaml"
COLUMNS = ("model", "variant", "loops", "benchmark", "setting", "score", "source", "comparable_group", "notes")


@dataclass(frozen=True)
class ScoreRow:
    """One published score, as printed (`score` in percent unless its setting says otherwise)."""

    model: str
    variant: str
    loops: str
    benchmark: str
    setting: str
    score: float
    source: str
    group: str
    line: int            # line in scores.csv, for messages

    @property
    def depth(self) -> int | None:
        """The integer loop depth of an LLM row (`4`), None for a standard model or a TRM/HRM
        recursion string (`T=3;n=6;Nsup=16`, see `configuration`)."""
        return int(self.loops) if self.loops.isdigit() else None

    @property
    def configuration(self) -> str:
        """The leading `T=..;n=..;Nsup=..` of a recursion row (comments after it dropped)."""
        match = re.match(r"\s*(T=\d+;n=\d+;Nsup=\d+)", self.loops)
        return match[1] if match else self.loops


class RowRef(Spec):
    group: str
    model: str
    variant: str


class QuantPenaltyRef(Spec):
    group: str
    model: str
    reference: str                  # variant of the unquantised row
    variant: str                    # variant of the quantised row
    quants: list[str] = Field(min_length=1)
    note: str = ""


class KVPolicyRef(Spec):
    group: str
    per_loop: str | None = None
    shared: str | None = None
    last_k: str | None = None
    exit_only: str | None = None


class ModelQuality(Spec):
    rows: list[RowRef] = Field(min_length=1)
    trained_loops: int | None = Field(None, ge=1)
    trained_loops_source: str = ""
    recursion: bool = False                 # TRM/HRM: rows match the model's `T=..;n=..;Nsup=..`
    kv_policies: KVPolicyRef | None = None
    quant_penalties: list[QuantPenaltyRef] = Field(default_factory=list)


class GroupSpec(Spec):
    aggregate: list[str] = Field(min_length=1)


class QualityConfig(Spec):
    groups: dict[str, GroupSpec]
    models: dict[str, ModelQuality]


def read_rows(path: Path = SCORES_FILE) -> list[ScoreRow]:
    """Every row of a scores file; a malformed row is a ConfigError naming file and line."""
    where = loader._display(path)
    try:
        with open(path, newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if tuple(header or ()) != COLUMNS:
                raise ConfigError(f"{where}: expected the columns {', '.join(COLUMNS)}")
            rows = []
            for line, cells in enumerate(reader, start=2):
                if len(cells) != len(COLUMNS):
                    raise ConfigError(f"{where}:{line}: expected {len(COLUMNS)} cells, got {len(cells)}")
                record = dict(zip(COLUMNS, cells))
                try:
                    score = float(record["score"])
                except ValueError:
                    raise ConfigError(f"{where}:{line}: score {record['score']!r} is not a number") from None
                if not math.isfinite(score):
                    raise ConfigError(f"{where}:{line}: score must be finite")
                rows.append(ScoreRow(record["model"], record["variant"], record["loops"], record["benchmark"],
                                     record["setting"], score, record["source"], record["comparable_group"], line))
            return rows
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read ({exc.strerror})") from None


@dataclass(frozen=True)
class QualityData:
    rows: list[ScoreRow]
    config: QualityConfig
    index: dict[tuple[str, str, str, str, str], ScoreRow]   # first row per key

    def find(self, group: str, model: str, variant: str, loops: str, benchmark: str) -> ScoreRow | None:
        return self.index.get((group, model, variant, loops, benchmark))

    def rows_of(self, group: str, model: str, variant: str) -> list[ScoreRow]:
        return [r for r in self.rows if (r.group, r.model, r.variant) == (group, model, variant)]


def build(rows: list[ScoreRow], config: QualityConfig, origin: str = "configs/quality") -> QualityData:
    """Index the rows and check every reference in the config names rows that exist."""
    index: dict[tuple[str, str, str, str, str], ScoreRow] = {}
    for row in rows:
        index.setdefault((row.group, row.model, row.variant, row.loops, row.benchmark), row)
    present = {(r.group, r.model, r.variant) for r in rows}
    groups = {r.group for r in rows}
    for name in config.groups:
        if name not in groups:
            raise ConfigError(f"{origin}: groups.{name}: no score rows in that comparable group")
    for name, entry in config.models.items():
        refs = [(r.group, r.model, r.variant) for r in entry.rows]
        for penalty in entry.quant_penalties:
            refs += [(penalty.group, penalty.model, penalty.reference), (penalty.group, penalty.model, penalty.variant)]
        if entry.kv_policies is not None:
            kv = entry.kv_policies
            refs += [(kv.group, entry.rows[0].model, v) for v in (kv.per_loop, kv.shared, kv.last_k, kv.exit_only) if v]
        for ref in refs:
            if ref not in present:
                raise ConfigError(f"{origin}: models.{name}: no rows for group {ref[0]!r}, model {ref[1]!r}, "
                                  f"variant {ref[2]!r}")
    return QualityData(rows, config, index)


@lru_cache(maxsize=4)
def load(directory: Path = QUALITY_DIR) -> QualityData:
    """The project's quality data (cached: it is read once per process)."""
    config_path = directory / MODELS_FILE.name
    raw: Any = loader.read_document(config_path)
    config = loader.validate(QualityConfig, raw, loader._display(config_path))
    return build(read_rows(directory / SCORES_FILE.name), config, loader._display(directory))
