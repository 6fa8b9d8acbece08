"""quality(model, loops, benchmark): a configuration's benchmark score from published rows only.

Rules (configs/quality/models.yaml says which rows stand for which preset):
- a published depth gives its row; a depth past the trained one is still the published row but
  labelled "beyond trained depth" (Ouro publishes T=5..8, where the 1.4B model degrades);
- a depth between two published depths is interpolated linearly in the loop count between its
  two neighbours (labelled "interpolated"); a depth outside the published ones is "unmeasured"
  (NaN), never extrapolated;
- a KV policy other than per-loop uses the row measured with it (Ouro Table 14, at T=4 only),
  otherwise "unmeasured"; a per-token exit policy or depth distribution is "unmeasured";
- a weight format below 16 bits applies a published quantisation delta (quantised row minus its
  bf16 row, same benchmark name, e.g. the Llama 3.2 card's SpinQuant rows) and says from which
  group it comes; without one the score is "unknown" (NaN), never the unquantised score;
- a model with no rows in the group asks the registered estimators (`register_estimator`, e.g.
  a scaling-law estimate), whose Score carries its own `source` label; else "unmeasured".
`quality_columns` turns this into result columns: `quality.<benchmark>` (the configuration),
`checkpoint_quality.<benchmark>` (the unquantised checkpoint at that depth and KV policy),
`quality.avg` (mean of the group's aggregate benchmarks), `quality_source` (the label of
quality.avg), `checkpoint_quality_source` (of checkpoint_quality.avg), `quality_group`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from hwsim.errors import ConfigError
from hwsim.quality.data import ModelQuality, QualityData, RowRef, ScoreRow, load
from hwsim.quality.tasks import recursion

PUBLISHED, BEYOND, INTERPOLATED, UNMEASURED, UNKNOWN, ESTIMATED = (
    "published", "published beyond trained depth", "interpolated", "unmeasured", "unknown", "estimated")
# Worst first: the status of a mean is the worst status of its parts.
_STATUS_ORDER = (UNKNOWN, UNMEASURED, ESTIMATED, INTERPOLATED, BEYOND, PUBLISHED)
NAN = float("nan")
PREFIX, CHECKPOINT_PREFIX = "quality.", "checkpoint_quality."
AVERAGE = "avg"
FULL_PRECISION_BITS = 16.0


@dataclass(frozen=True)
class Score:
    """One quality number and where it comes from. `value` is NaN unless measured/derived."""

    value: float
    status: str
    group: str | None
    source: str = ""
    note: str = ""
    rows: tuple[ScoreRow, ...] = ()

    @property
    def known(self) -> bool:
        return not math.isnan(self.value)

    @property
    def label(self) -> str:
        """`published: ouro_base_lmeval`, `scaling law (phi=0.459)`, ... (the quality_source tag)."""
        if self.status == ESTIMATED:
            return self.source
        return f"{self.status}: {self.group}" if self.group else self.status


Estimator = Callable[..., "Score | None"]
ESTIMATORS: list[Estimator] = []


def register_estimator(estimator: Estimator) -> None:
    """Add an estimate for models without published rows: `estimator(model, loops, benchmark,
    group)` returns a Score with status ESTIMATED and a `source` naming the method, or None."""
    ESTIMATORS.append(estimator)


def benchmark_key(benchmark: str) -> str:
    """Column-safe benchmark name: `ARC-C` -> `arc_c`, `HumanEval+` -> `humaneval_plus`."""
    text = benchmark.lower().replace("+", "_plus")
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def _unmeasured(group: str | None, note: str, status: str = UNMEASURED) -> Score:
    return Score(NAN, status, group, note=note)


def _entry(data: QualityData, model_name: str) -> ModelQuality | None:
    return data.config.models.get(model_name)


def default_group(model_name: str, data: QualityData | None = None) -> str | None:
    """The first comparable group the model's rows are listed under (None: no published rows)."""
    entry = _entry(data or load(), model_name)
    return entry.rows[0].group if entry else None


def trained_loops(model_name: str, data: QualityData | None = None) -> int | None:
    """The loop depth the model was trained at (configs/quality/models.yaml), None if not given."""
    entry = _entry(data or load(), model_name)
    return entry.trained_loops if entry else None


def _ref(entry: ModelQuality, group: str) -> RowRef | None:
    return next((r for r in entry.rows if r.group == group), None)


def checkpoint_score(model_name: str, benchmark: str, group: str, loops: int | None = None,
                     kv_policy: str = "per_loop", exit_policy: bool = False, recursion: str | None = None,
                     data: QualityData | None = None) -> Score:
    """The unquantised checkpoint's score at `loops` (see module doc); `recursion` is a TRM/HRM
    model's `T=..;n=..;Nsup=..` (hwsim.quality.tasks.recursion), which its rows must match."""
    data = data or load()
    entry = _entry(data, model_name)
    ref = _ref(entry, group) if entry else None
    if ref is None:
        return _unmeasured(group, f"no published {group} rows for {model_name}")
    if exit_policy:
        return _unmeasured(group, "per-token early exit: no published per-benchmark scores")
    rows = [r for r in data.rows_of(group, ref.model, ref.variant) if r.benchmark == benchmark]
    if not rows:
        return _unmeasured(group, f"{ref.model} has no {benchmark} row in {group}")
    if entry.recursion:
        match = [r for r in rows if r.configuration == recursion]
        if not match:
            published = ", ".join(dict.fromkeys(r.configuration for r in rows))
            return _unmeasured(group, f"{benchmark} is published at {published}, not {recursion}")
        return _from_row(match[0])
    if entry.kv_policies is not None and kv_policy != "per_loop":
        variant = getattr(entry.kv_policies, kv_policy, None)
        row = data.find(entry.kv_policies.group, ref.model, variant, str(loops), benchmark) if variant else None
        if row is None:
            return _unmeasured(group, f"no published {benchmark} score with KV policy {kv_policy} at {loops} loops")
        return _from_row(row, note=f"KV policy {kv_policy}: {variant}")
    if kv_policy != "per_loop":
        return _unmeasured(group, f"no published score of {model_name} with KV policy {kv_policy}")
    by_depth: dict[int, ScoreRow] = {}
    for row in rows:
        if row.depth is not None:
            by_depth.setdefault(row.depth, row)
    if not by_depth:  # a standard model: one row, loops blank
        return _from_row(rows[0])
    if loops is None:
        return _unmeasured(group, "a looped model needs a loop count")
    trained = entry.trained_loops
    if loops in by_depth:
        row = by_depth[loops]
        score = _from_row(row)
        if trained is not None and loops > trained:
            score = replace(score, status=BEYOND, note=f"trained depth {trained}")
        return score
    below = [d for d in by_depth if d < loops]
    above = [d for d in by_depth if d > loops]
    if not below or not above:
        return _unmeasured(group, f"{benchmark} is published only at loops {', '.join(map(str, sorted(by_depth)))}")
    lo, hi = by_depth[max(below)], by_depth[min(above)]
    weight = (loops - lo.depth) / (hi.depth - lo.depth)
    value = lo.score + weight * (hi.score - lo.score)
    return Score(value, INTERPOLATED, group, f"{lo.source}; {hi.source}",
                 f"linear in loops between {lo.depth} ({lo.score:g}) and {hi.depth} ({hi.score:g})", (lo, hi))


def _from_row(row: ScoreRow, note: str = "") -> Score:
    return Score(row.score, PUBLISHED, row.group, row.source, note, (row,))


def quality(model_name: str, benchmark: str, loops: int | None = None, group: str | None = None,
            quant: str = "bf16", weight_bits: float = FULL_PRECISION_BITS, kv_policy: str = "per_loop",
            exit_policy: bool = False, recursion: str | None = None, data: QualityData | None = None) -> Score:
    """A configuration's score: the checkpoint's, plus a published quantisation delta below 16 bits."""
    data = data or load()
    group = group or default_group(model_name, data)
    entry = _entry(data, model_name)
    if entry is not None and group is not None and _ref(entry, group) is not None:
        base = checkpoint_score(model_name, benchmark, group, loops, kv_policy, exit_policy, recursion, data)
    else:
        base = _unmeasured(group, f"no published {group or 'quality'} rows for {model_name}")
        for estimator in ESTIMATORS:
            estimate = estimator(model_name, loops, benchmark, group)
            if estimate is not None:
                base = estimate
                break
    if weight_bits >= FULL_PRECISION_BITS or not base.known:
        return base
    return _quantised(data, model_name, benchmark, quant, base)


def _quantised(data: QualityData, model_name: str, benchmark: str, quant: str, base: Score) -> Score:
    entry = _entry(data, model_name)
    for penalty in entry.quant_penalties if entry else ():
        if quant not in penalty.quants:
            continue
        quantised = data.find(penalty.group, penalty.model, penalty.variant, "", benchmark)
        reference = data.find(penalty.group, penalty.model, penalty.reference, "", benchmark)
        if quantised is None or reference is None:
            break
        delta = quantised.score - reference.score
        return Score(base.value + delta, base.status, base.group, f"{base.source}; {quantised.source}",
                     f"{quant}: {delta:+.2f} from {penalty.variant} vs {penalty.reference} ({penalty.group})",
                     base.rows + (reference, quantised))
    return Score(NAN, UNKNOWN, base.group, note=f"no published {benchmark} score of {model_name} at {quant}")


def group_benchmarks(group: str, data: QualityData | None = None) -> list[str]:
    """Every benchmark of a comparable group, in file order."""
    data = data or load()
    return list(dict.fromkeys(r.benchmark for r in data.rows if r.group == group))


def aggregate_benchmarks(group: str, data: QualityData | None = None) -> list[str]:
    data = data or load()
    spec = data.config.groups.get(group)
    if spec is None:
        raise ConfigError(f"quality group {group!r}: no aggregate defined; known: {', '.join(data.config.groups)}")
    return list(spec.aggregate)


def mean_score(scores: list[Score]) -> Score:
    """The mean of a group's aggregate scores: NaN unless every one is known; the worst status."""
    status = min((s.status for s in scores), key=_STATUS_ORDER.index)
    values = [s.value for s in scores]
    value = sum(values) / len(values) if all(not math.isnan(v) for v in values) else NAN
    return Score(value, status, scores[0].group, "; ".join(dict.fromkeys(s.source for s in scores if s.source)),
                 rows=tuple(r for s in scores for r in s.rows))


def _kv_equivalent(loop) -> str:
    """The KV policy a quality row was measured with that keeps the same caches: `last_k` with
    k = 1 keeps the last step's (as `shared`), with k >= the loop count every step's (`per_loop`)."""
    if loop.kv_policy == "last_k":
        if loop.kv_last_k == 1:
            return "shared"
        if loop.kv_last_k >= loop.count:
            return "per_loop"
    return loop.kv_policy


def model_quality(model, group: str | None = None, data: QualityData | None = None) -> dict[str, Score]:
    """{benchmark key: Score} of a ModelSpec's configuration in `group` (default: its first), with
    the checkpoint scores under `checkpoint_quality.` keys and the aggregate under `avg`."""
    data = data or load()
    group = group or default_group(model.name, data)
    if group is None:
        return {}
    looped = bool(model.is_looped)
    loop = model.loop if looped else None
    settings = dict(loops=int(loop.count) if looped else None, group=group,
                    kv_policy=_kv_equivalent(loop) if looped else "per_loop",
                    exit_policy=looped and (loop.exit_policy is not None or loop.distribution is not None),
                    recursion=recursion(model), data=data)
    bits = float(model.quant.weight.effective_bits)
    scores: dict[str, Score] = {}
    for benchmark in group_benchmarks(group, data):
        key = benchmark_key(benchmark)
        scores[PREFIX + key] = quality(model.name, benchmark, quant=model.quant.name, weight_bits=bits, **settings)
        scores[CHECKPOINT_PREFIX + key] = quality(model.name, benchmark, **settings)
    if group in data.config.groups:
        for prefix in (PREFIX, CHECKPOINT_PREFIX):
            parts = [scores[prefix + benchmark_key(b)] for b in aggregate_benchmarks(group, data)]
            scores[prefix + AVERAGE] = mean_score(parts)
    return scores


def quality_columns(model, group: str | None = None) -> dict[str, Any]:
    """Result columns for one configuration: every `quality.*` / `checkpoint_quality.*` value,
    `quality_group`, and `quality_source` (the label of quality.avg, else of the first score)."""
    scores = model_quality(model, group)
    if not scores and model.training_tokens is not None:
        return _law_columns(model)
    if not scores:
        return {"quality_group": group, "quality_source": f"unmeasured: no published rows for {model.name}"}
    columns: dict[str, Any] = {key: score.value for key, score in scores.items()}
    headline = scores.get(PREFIX + AVERAGE) or next(iter(scores.values()))
    columns["quality_group"] = headline.group
    columns["quality_source"] = headline.label
    checkpoint = scores.get(CHECKPOINT_PREFIX + AVERAGE)
    columns["checkpoint_quality_source"] = checkpoint.label if checkpoint else headline.label
    return columns


def _law_columns(model) -> dict[str, Any]:
    """A model without published scores but with a training budget (a hypothetical design): the
    recurrence scaling law's average accuracy (NaN outside the loss range the accuracy map
    covers), labelled with the law and exponent, and kept apart from published scores
    (quality_group None). An estimate outside the law's fitted range says so in its label."""
    from hwsim.scaling.parametric import model_quality as law_quality

    estimate = law_quality(model, model.training_tokens)
    label = estimate.quality_source + (" (extrapolation)" if estimate.is_extrapolation else "")
    accuracy = NAN if estimate.accuracy_pct is None else float(estimate.accuracy_pct)
    # The law says nothing of quantisation: below 16 bits the configuration's score is unknown.
    quantised = float(model.quant.weight.effective_bits) < FULL_PRECISION_BITS
    return {PREFIX + AVERAGE: NAN if quantised else accuracy, CHECKPOINT_PREFIX + AVERAGE: accuracy,
            "quality_group": None, "quality_source": f"{UNKNOWN}: {model.quant.name} ({label})" if quantised else label,
            "checkpoint_quality_source": label}


def is_quality_key(name: str) -> bool:
    """`quality.<benchmark>` or `checkpoint_quality.<benchmark>`: a quality result column."""
    for prefix in (PREFIX, CHECKPOINT_PREFIX):
        if name.startswith(prefix) and re.fullmatch(r"[a-z0-9_]+", name[len(prefix):]):
            return True
    return False
