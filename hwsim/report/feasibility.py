"""Edge-deployment feasibility: does one configuration meet the targets, by what margin, which
target binds, and what is the cheapest configuration that meets them all.

Targets are strict one-comparison strings, `METRIC OP VALUE`: METRIC a numeric SimResult total
(or `memory_bytes`, short for memory_footprint_bytes), a hardware budget figure of
hwsim.chip.budget (`area_mm2`, `tdp_w`, `idle_w`: "area_mm2<=50", "tdp_w<=15 W") or a quality column of hwsim.quality
(`quality.gsm8k`, `quality.avg`, `checkpoint_quality.mmlu`: published scores in percent; an
unmeasured or unknown score never passes), OP one of <= >= < >, VALUE a number or a
quantity in the metric's unit ("8 GB", "500 mJ", "15 W", "1 s"). The margin is relative slack:
(actual - limit) / |limit| for a lower limit, (limit - actual) / |limit| for an upper one;
negative means the target is missed. The binding target is the one with the smallest margin.

"Cheapest" orders passing configurations by, in turn: fewest effective weight bits, fewest
loop iterations, smallest memory footprint (then the search order). The loop depth is kept as
asked (a shallower loop is a different, weaker model) unless the search may change it
(`allow_depth_change`); when nothing passes, `SearchResult.why` says what each candidate missed. The search runs the grid
through the sweep machinery on the roofline floor (a true lower bound on the simulator's times
under every residency policy), drops points whose floor already misses a target the floor
decides (a time ceiling, a tokens/s minimum, the footprint) or that do not fit, and simulates
the survivors with the DES in cheapness order until one passes.
"""

from __future__ import annotations

import math
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwsim import units
from hwsim.chip.budget import HARDWARE_TOTALS
from hwsim.errors import ConfigError
from hwsim.quality import is_quality_key
from hwsim.result import TOTAL_KEYS

ALIASES = {"memory_bytes": "memory_footprint_bytes"}
METRICS = tuple(k for k in TOTAL_KEYS if k not in ("fits", "bound")) + HARDWARE_TOTALS
_AREA_UNIT = re.compile(r"\s*(mm2|mm\^2|mm²)$")
_PATTERN = re.compile(r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_+-]+)?)\s*(?P<op><=|>=|<|>)\s*(?P<value>\S(?:.*\S)?)\s*$")


def metric_dimension(metric: str) -> str | None:
    """The hwsim.units dimension of a total, from its name's unit suffix (None: a bare number,
    as for tokens_per_s and compute_utilization)."""
    if "_bytes" in metric:
        return "bytes"
    if metric.endswith("_j"):
        return "j"
    if metric.endswith("_w"):
        return "w"
    if metric.endswith("_s") and not metric.endswith("_per_s"):
        return "s"
    return None


@dataclass(frozen=True)
class Target:
    text: str
    metric: str          # a SimResult totals key
    op: str
    limit: float         # SI units

    @property
    def lower(self) -> bool:
        """True for a floor (>=, >), False for a ceiling."""
        return self.op in (">=", ">")

    def margin(self, actual: float) -> float:
        """Relative slack; -inf for an unknown (NaN) actual value, which binds first."""
        if actual is None or not math.isfinite(actual):
            return -math.inf
        slack = actual - self.limit if self.lower else self.limit - actual
        return slack / abs(self.limit) if self.limit else slack

    def passes(self, actual: float) -> bool:
        if actual is None or not math.isfinite(actual):
            return False
        return {">=": actual >= self.limit, ">": actual > self.limit,
                "<=": actual <= self.limit, "<": actual < self.limit}[self.op]

    @property
    def constraint(self) -> str:
        """The same test as a sweep constraint (SI literal)."""
        return f"{self.metric} {self.op} {self.limit!r}"


def parse_target(text: str) -> Target:
    """`"tokens_per_s>=10"`, `"memory_bytes<=8 GB"` -> Target; ConfigError naming the problem."""
    match = _PATTERN.match(text) if isinstance(text, str) else None
    if not match:
        raise ConfigError(f"--target {text!r}: expected METRIC OP VALUE with OP one of <= >= < >, "
                          "e.g. 'tokens_per_s>=10' or 'memory_bytes<=8 GB'")
    name = match["metric"]
    metric = ALIASES.get(name, name)
    if "." in metric:
        from hwsim.quality import benchmark_key

        prefix, _, benchmark = metric.partition(".")
        metric = f"{prefix}.{benchmark_key(benchmark)}"
    if metric not in METRICS and not is_quality_key(metric):
        from hwsim.resources import unknown_name

        raise ConfigError(f"--target {text!r}: {unknown_name('metric', name, [*ALIASES, *METRICS])} "
                          "(or quality.<benchmark>)")
    raw = match["value"]
    if metric == "area_mm2":   # "50 mm2" as well as "50"
        raw = _AREA_UNIT.sub("", raw)
    dimension = metric_dimension(metric)
    try:
        limit = float(raw)
    except ValueError:
        if dimension is None:
            raise ConfigError(f"--target {text!r}: {metric} is a bare number, got {raw!r}") from None
        try:
            limit = units.parse(raw, dimension)
        except ValueError as exc:
            raise ConfigError(f"--target {text!r}: {exc}") from None
    if not math.isfinite(limit):
        raise ConfigError(f"--target {text!r}: the limit must be a finite number")
    return Target(text=text.strip(), metric=metric, op=match["op"], limit=limit)


@dataclass(frozen=True)
class TargetResult:
    target: Target
    actual: float
    passed: bool
    margin: float


@dataclass(frozen=True)
class Verdict:
    results: list[TargetResult]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def binding(self) -> TargetResult:
        """The target with the least slack (the most missed one when something fails)."""
        return min(self.results, key=lambda r: r.margin)


def check(totals: dict[str, Any], targets: list[Target]) -> Verdict:
    if not targets:
        raise ConfigError("give at least one --target")
    results = []
    for target in targets:
        actual = float(totals.get(target.metric, math.nan))
        results.append(TargetResult(target, actual, target.passes(actual), target.margin(actual)))
    return Verdict(results)


# ----------------------------------------------------------------------------- search


@dataclass(frozen=True)
class SearchSpace:
    quants: list[str]
    loops: list[int] = field(default_factory=list)          # empty: not a looped model
    kv_policies: list[str] = field(default_factory=list)
    batches: list[int] = field(default_factory=lambda: [1])
    contexts: list[int] = field(default_factory=lambda: [512])


DEFAULT_QUANTS = ("int4-g128", "int8", "bf16")


def default_space(model, quant: str | None, loops: int | None, batch: int, prompt_len: int,
                  allow_depth_change: bool = False) -> SearchSpace:
    """Edge quantisations (plus the one asked for), every KV policy, the asked batch and context,
    and the asked loop count (default: the model's); with `allow_depth_change`, loop counts
    1, 2, 4, ... up to the larger of the model's and the asked count."""
    from hwsim.spec.variants import KV_POLICIES

    quants = list(dict.fromkeys([*DEFAULT_QUANTS, *([quant] if quant else [])]))
    if not model.is_looped:
        return SearchSpace(quants, batches=[batch], contexts=[prompt_len])
    top = max(loops or 1, int(model.loop.count or 1))
    if not allow_depth_change:
        return SearchSpace(quants, [loops or int(model.loop.count)], list(KV_POLICIES), [batch], [prompt_len])
    counts = sorted({2 ** i for i in range(int(math.log2(top)) + 1)} | {top})
    return SearchSpace(quants, counts, list(KV_POLICIES), [batch], [prompt_len])


def _floor_totals(point, engine: str) -> dict[str, Any]:
    """The sweep evaluation the search prunes with: the roofline floor, whatever the engine."""
    from hwsim.sweep.run import PRUNE_ENGINE, simulate_totals

    return simulate_totals(point, PRUNE_ENGINE)


@dataclass
class SearchResult:
    best: dict[str, Any] | None          # axis labels of the cheapest passing point
    totals: dict[str, Any] | None        # its DES totals
    points: int                           # grid size
    pruned: int                           # dropped on the roofline floor
    simulated: int                        # DES runs until the answer
    why: list[str] = field(default_factory=list)   # what each candidate missed (when none passes)


def _bits(quant: str) -> float:
    from hwsim.spec.quant import quant_preset

    return quant_preset(quant).weight.effective_bits


def cheapest(model: str, hardware: str, targets: list[Target], space: SearchSpace, *, gen_len: int = 128,
             policy: str = "lru", hardware_sets: dict[str, Any] | None = None, jobs: int | None = 1,
             out_dir: Path | None = None, quality_group: str | None = None, runtime: str | None = None) -> SearchResult:
    """Search `space` for the cheapest configuration meeting every target (see module doc)."""
    from hwsim.spec import loader
    from hwsim.sweep import SweepSpec, resolve_points, run_sweep
    from hwsim.sweep.constraints import parse_constraint
    from hwsim.sweep.run import simulate_totals

    axes: dict[str, list] = {"model.quant": list(space.quants)}
    if space.loops:
        axes["model.loop.count"] = list(space.loops)
    if space.kv_policies:
        axes["model.loop.kv_policy"] = list(space.kv_policies)
    axes["batch"] = list(space.batches)
    axes["prompt_len"] = list(space.contexts)
    data = {"name": "feasibility", "model": model, "hardware": hardware, "gen_len": gen_len, "policy": policy,
            "set": {f"hardware.{k}": v for k, v in (hardware_sets or {}).items()}, "axes": axes,
            "objectives": {"memory_footprint_bytes": "min", "tpot_s": "min"}, "quality_group": quality_group}
    if runtime is not None:
        data["runtime"] = runtime
    spec = loader.validate(SweepSpec, data, "feasibility search")
    plan = resolve_points(spec)
    with tempfile.TemporaryDirectory() as scratch:
        frame = run_sweep(spec, out_dir or Path(scratch), jobs=jobs, engine="roofline", progress=False,
                          evaluate=_floor_totals)
    decided = [t for t in targets if parse_constraint(t.constraint).prunable]
    candidates = []
    pruned = 0
    why = []
    for point, (_, row) in zip(plan.points, frame.iterrows()):
        if row["status"] != "ok":
            why.append(f"{_describe(point)}: {row['error']}")
            continue
        missed = [t for t in decided if not t.passes(float(row.get(t.metric, math.nan)))]
        if missed or not bool(row["fits"]):
            pruned += 1
            why.append(f"{_describe(point)}: " + _missed(point, missed, dict(row), "at best (roofline bound)")
                       if missed else f"{_describe(point)}: does not fit memory")
            continue
        loops = int(point.model.loop.count) if point.model.is_looped else 1
        key = (_bits(point.labels["model.quant"]), loops, float(row["memory_footprint_bytes"]), point.index)
        candidates.append((key, point))
    simulated = 0
    for _, point in sorted(candidates, key=lambda item: item[0]):
        totals = {**simulate_totals(point, "des"), **point.quality}
        simulated += 1
        verdict = check(totals, targets)
        if verdict.passed and totals["fits"]:
            return SearchResult(dict(point.labels), totals, len(plan.points), pruned, simulated)
        missed = [r.target for r in verdict.results if not r.passed]
        why.append(f"{_describe(point)}: " + (_missed(point, missed, totals, "(event simulation)") if missed
                                               else "does not fit memory"))
    if any("is unknown" in line for line in why):
        why.append("quality is unknown where no source publishes the score at that format, depth or KV policy; a "
                   "checkpoint_quality.<benchmark> target accepts the unquantised checkpoint's published score instead")
    return SearchResult(None, None, len(plan.points), pruned, simulated, why)


def _describe(point) -> str:
    return ", ".join(f"{k.removeprefix('model.')}={v}" for k, v in point.labels.items())


def _missed(point, targets: list[Target], totals: dict[str, Any], how: str) -> str:
    """`tokens_per_s 6.1 at best (roofline bound) misses >= 10`, or for a quality target the
    reason its score is unknown."""
    from hwsim.quality import model_quality

    parts = []
    for target in targets:
        actual = float(totals.get(target.metric, math.nan))
        if not math.isfinite(actual) and target.metric in HARDWARE_TOTALS:
            parts.append(f"{target.metric} is unknown (the hardware's process node has no chip cost figures)")
        elif math.isfinite(actual):
            shown = how if not is_quality_key(target.metric) else "(published)"
            parts.append(f"{target.metric} {actual:.4g} {shown} misses {target.op} {target.limit:g}")
        else:
            score = model_quality(point.model, point.quality.get("quality_group")).get(target.metric)
            parts.append(f"{target.metric} is unknown ({score.note if score is not None else 'no published rows'})")
    return "; ".join(parts)
