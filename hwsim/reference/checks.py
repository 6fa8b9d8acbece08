"""The checks behind `hwsim validate reference`: captured vs built traces, and numerical
identities of the executor. Each check returns a CheckResult; none raises on a failed check.

Tolerances (float32 executor, seeded random weights at the tiny scale):
- KV-cached decode vs full recomputation: max abs logit error < 1e-5;
- a looped model at T = 1 vs the same stack as a standard model: max abs error < 1e-5;
- quantised weights vs float32 weights: relative L2 logit error below the error predicted by
  independent per-weight rounding noise (see check_quantised; at the tiny scale with random
  weights that is about 2-3% for int8 and 30-70% for int4-g128, whose groups span the whole
  64-wide input there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwsim.reference.compare import capture_trace, compare_traces
from hwsim.reference.executor import ExitStats, ReferenceExecutor
from hwsim.reference.recorder import TraceRecorder
from hwsim.reference.weights import ReferenceWeights, random_arrays
from hwsim.spec.loader import validate
from hwsim.spec.model import FINAL_NORM, ModelSpec
from hwsim.spec.variants import configure_model
from hwsim.workload import trace as T
from hwsim.workload.depth import depth_pmf
from hwsim.workload.schedule import expand, loop_repeat

EXACT_TOLERANCE = 1e-5
QUANTISED_FORMATS = ("int8-w8a16", "int4-g128")


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool | None          # None: not applicable to this model
    detail: str


def _tokens(model: ModelSpec, batch: int, length: int, seed: int = 7) -> np.ndarray:
    length = model.task.seq_len if model.task is not None else length
    return np.random.default_rng(seed).integers(0, model.vocab_size, (batch, length))


def check_traces(model: ModelSpec, batch: int = 2, context_len: int = 6) -> list[CheckResult]:
    """Captured vs built trace for each phase the model has."""
    from hwsim.workload.transformer import build_trace

    results = []
    for phase in ("prefill", "decode") if model.has_decode else ("prefill",):
        comparison = compare_traces(capture_trace(model, phase, batch, context_len),
                                    build_trace(model, phase, batch, context_len))
        totals = ", ".join(f"{c} {a:.6g}" for c, (a, _) in comparison.totals.items())
        detail = (f"{comparison.rows_compared} rows exact, {comparison.expert_groups} expert groups; {totals}"
                  if comparison.ok else "; ".join(comparison.mismatches))
        results.append(CheckResult(f"trace {phase} (batch {batch}, context {context_len})", comparison.ok, detail))
    return results


def check_kv_cache(model: ModelSpec, prompt_len: int = 5, steps: int = 2) -> CheckResult:
    """Prefill + cached decode steps give the logits of recomputing the whole sequence."""
    name = "KV-cached decode = full recomputation"
    if not model.has_decode:
        return CheckResult(name, None, "n/a (no decode phase)")
    if model.is_looped and model.loop.kv_policy == "shared":
        return CheckResult(name, None, "n/a (shared KV: earlier iterations read the last iteration's K/V by design)")
    tokens = _tokens(model, 2, prompt_len + steps)
    cached = ReferenceExecutor(model)
    cached.prefill(tokens[:, :prompt_len])
    fresh = ReferenceExecutor(model, cached.weights)
    error = 0.0
    for step in range(steps):
        position = prompt_len + step
        decoded = cached.decode(tokens[:, position])
        recomputed = fresh.prefill(tokens[:, : position + 1])
        error = max(error, float(np.abs(decoded - recomputed).max()))
    return CheckResult(name, error < EXACT_TOLERANCE, f"max abs error {error:.2e} over {steps} steps (< {EXACT_TOLERANCE:g})")


def unrolled_standard(model: ModelSpec) -> ModelSpec:
    """The standard model a looped one is at T = 1: its blocks once, in schedule order, the
    per-iteration norm as the final norm, no exit gate; schedule-level final norms stay."""
    data = model.model_dump(mode="python", by_alias=True)
    order: list[str] = []
    for step in expand(model, 1):
        if step.kind == "layer" and (not order or order[-1] != step.block):
            order.append(step.block)
        elif step.kind == "final_norm":
            order.append(FINAL_NORM)
    repeat = loop_repeat(model)
    data.update(family="decoder", schedule=order, loop={},
                final_norm=model.final_norm or bool(repeat and repeat.final_norm),
                name=f"{model.name} unrolled")
    return validate(ModelSpec, data, f"model {model.name} unrolled")


def check_loop_one(model: ModelSpec) -> CheckResult:
    """A looped model run with one iteration equals the standard model with the same weights."""
    name = "looped T=1 = standard model"
    repeat = loop_repeat(model)
    if repeat is None:
        return CheckResult(name, None, "n/a (no loop)")
    if any(s.kind == "inject" for s in expand(model, 1)):
        return CheckResult(name, None, "n/a (input injection: T=1 still runs the adapter / state add)")
    looped = configure_model(model, loops=1)
    standard = unrolled_standard(looped)
    arrays = random_arrays(looped)
    tokens = _tokens(model, 2, 6)
    a = ReferenceExecutor(looped, ReferenceWeights(looped, arrays)).prefill(tokens)
    b = ReferenceExecutor(standard, ReferenceWeights(standard, arrays)).prefill(tokens)
    error = float(np.abs(a - b).max())
    return CheckResult(name, error < EXACT_TOLERANCE, f"max abs error {error:.2e} (< {EXACT_TOLERANCE:g})")


def check_quantised(model: ModelSpec) -> list[CheckResult]:
    """Quantised weights (dequantised on use) against float32 weights. The stated tolerance is
    the error that independent per-weight rounding predicts: each tensor i stores W + E_i with
    relative noise eps_i = rms(E_i) / rms(W). Without amplification, noise from the GEMMs a
    forward runs adds in quadrature: sqrt(sum_i eps_i^2) over the GEMM applications (plus the
    embedding lookup). A network can amplify it (a weight-tied post-norm recursion with random
    weights, as TRM at the tiny scale, does many-fold), so the tolerance is the larger of that
    and twice the error measured with independent Gaussian noise of the same eps_i added to the
    float32 weights. A dequantisation bug (a lost scale, a wrong group) overshoots both by far.
    MoE models replay the float32 run's expert choices: top-k routing is discontinuous, and one
    flipped expert is not rounding noise."""
    arrays = random_arrays(model)
    tokens = _tokens(model, 2, 6)
    routing: list[np.ndarray] = []

    def run(quant: str, weight_arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, float], list[str]]:
        variant = configure_model(model, quant=quant)
        weights = ReferenceWeights(variant, weight_arrays)
        recorder = TraceRecorder(variant, "prefill")
        executor = ReferenceExecutor(variant, weights)
        executor.replay_routing = list(routing) if routing else None
        logits = executor.prefill(tokens, recorder)
        if not routing:
            routing.extend(executor.routing_log)
        noise = {wid: relative_rounding_noise(param.weight.values(), arrays[wid])
                 for wid, param in weights.params.items() if param.weight.scales is not None}
        return logits, noise, [row[T.WEIGHT_ID] for row in recorder.rows] + ["embed"]

    def relative_error(logits: np.ndarray) -> float:
        return float(np.linalg.norm(logits - reference) / np.linalg.norm(reference))

    reference, _, _ = run("fp32", arrays)
    results = []
    for quant in QUANTISED_FORMATS:
        logits, noise, used = run(quant, arrays)
        predicted = float(np.sqrt(sum(noise.get(wid, 0.0) ** 2 for wid in used)))
        injected = relative_error(run("fp32", _with_noise(arrays, noise))[0])
        tolerance = max(predicted, 2 * injected)
        error = relative_error(logits)
        results.append(CheckResult(f"{quant} weights vs fp32", error <= tolerance,
                                   f"relative L2 logit error {error:.2%} (<= {tolerance:.2%}: rounding noise "
                                   f"predicts {predicted:.2%}, the same noise injected gives {injected:.2%})"))
    return results


def _with_noise(arrays: dict[str, np.ndarray], noise: dict[str, float]) -> dict[str, np.ndarray]:
    """The arrays plus independent Gaussian noise of relative rms `noise[weight_id]`."""
    rng = np.random.default_rng(1)
    out = dict(arrays)
    for wid, eps in noise.items():
        exact = arrays[wid]
        rms = float(np.sqrt(np.mean(exact ** 2)))
        out[wid] = (exact + rng.standard_normal(exact.shape) * eps * rms).astype(exact.dtype)
    return out


def relative_rounding_noise(stored: np.ndarray, exact: np.ndarray) -> float:
    return float(np.sqrt(np.mean((stored - exact) ** 2) / np.mean(exact**2)))


def loop_distribution(stats: ExitStats) -> list[float]:
    """P(a token runs exactly t iterations), t = 1..T, from one call's exit statistics: the
    mean exit-gate probabilities when the model has a gate and runs every iteration, else the
    histogram of the iterations tokens exited at."""
    if stats.exit_probs is not None and (stats.exit_iter == stats.loop_count).all():
        pmf = stats.exit_probs.reshape(-1, stats.loop_count).astype(np.float64).mean(axis=0)
    else:
        pmf = np.bincount(stats.exit_iter.ravel() - 1, minlength=stats.loop_count).astype(np.float64)
    return list(pmf / pmf.sum())


def with_loop_distribution(model: ModelSpec, distribution: list[float]) -> ModelSpec:
    """The model with its per-token loop depth drawn from `distribution` (LoopSpec.distribution)."""
    data = model.model_dump(mode="python", by_alias=True)
    data["loop"].update(distribution=distribution, exit_policy=None)
    return validate(ModelSpec, data, f"model {model.name} with measured exit distribution")


def check_exit_distribution(model: ModelSpec, executor_options: dict | None = None) -> CheckResult:
    """Exit statistics of a real run become the LoopSpec.distribution the simulator uses."""
    name = "exit statistics -> loop distribution"
    if not model.is_looped:
        return CheckResult(name, None, "n/a (no loop)")
    executor = ReferenceExecutor(model, **(executor_options or {}))
    executor.prefill(_tokens(model, 2, 8))
    distribution = loop_distribution(executor.exit_stats)
    variant = with_loop_distribution(model, distribution)
    pmf = depth_pmf(variant)
    ok = bool(np.allclose(pmf, distribution, atol=1e-9)) and abs(sum(distribution) - 1) < 1e-9
    shown = ", ".join(f"{p:.3f}" for p in distribution)
    return CheckResult(name, ok, f"P(depth = 1..{len(distribution)}) = [{shown}]")


def run_reference_checks(model: ModelSpec) -> list[CheckResult]:
    """Every check for one (scaled) model."""
    return [*check_traces(model), check_kv_cache(model), check_loop_one(model), *check_quantised(model),
            check_exit_distribution(model)]
