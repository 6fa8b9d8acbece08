"""Per-sequence loop depths for one decode step (or one prefill), chosen deterministically.

A trace must be reproducible, so a depth distribution is not sampled: sequence `b` of step `s`
(of `num_steps` steps at batch `B`) takes the quantile q = ((s*B + b) + 0.5) / (num_steps*B) of
the per-token depth distribution, i.e. the smallest depth t with CDF(t) >= q. Over all steps and
sequences the depths then follow the distribution as closely as integers allow.
"""

from __future__ import annotations

import numpy as np

from hwsim.errors import TraceError
from hwsim.spec.model import ModelSpec


def depth_pmf(model: ModelSpec) -> np.ndarray:
    """P(a token runs exactly t iterations), t = 1..count, from the LoopSpec.

    - fixed: all mass on `count`;
    - `distribution`: as given (padded with zeros up to `count`);
    - exit policy `geometric`: after each iteration a token exits with probability p (not before
      `min_count`); the last iteration takes the remaining mass (Ouro's p_t rule);
    - exit policy `threshold`: exit at the first iteration whose cumulative exit probability from
      the per-iteration gate values `gate_probs` reaches `threshold` (Ouro's exit_threshold q);
      a single depth, so all mass on it. Without gate values no token exits early.
    """
    loop = model.loop
    count = loop.count
    pmf = np.zeros(count)
    if loop.distribution is not None:
        pmf[: len(loop.distribution)] = loop.distribution
        return pmf / pmf.sum()
    policy = loop.exit_policy
    if policy is None:
        pmf[-1] = 1.0
        return pmf
    first = min(policy.min_count, count)
    if policy.kind == "geometric":
        survive = 1.0
        for t in range(first, count):
            pmf[t - 1] = survive * policy.p
            survive *= 1.0 - policy.p
        pmf[count - 1] += survive
        return pmf
    depth = count
    if policy.gate_probs:
        survive, cumulative = 1.0, 0.0
        for t, gate in enumerate(policy.gate_probs[:count], start=1):
            cumulative += survive * gate
            survive *= 1.0 - gate
            if t >= first and cumulative >= policy.threshold - 1e-12:
                depth = t
                break
    pmf[depth - 1] = 1.0
    return pmf


def loop_depths(model: ModelSpec, batch: int, token_step: int = 0, num_steps: int = 1) -> list[int]:
    """Loop depth of each of the `batch` sequences at decode step `token_step` of `num_steps`
    (quantiles of `depth_pmf`, see the module docstring). Models without a loop return 1s."""
    if batch < 1 or num_steps < 1 or not 0 <= token_step < num_steps:
        raise TraceError(f"loop depths need batch >= 1 and 0 <= token_step < num_steps "
                         f"(got batch={batch}, token_step={token_step}, num_steps={num_steps})")
    if not model.is_looped:
        return [1] * batch
    cdf = np.cumsum(depth_pmf(model))
    quantiles = (token_step * batch + np.arange(batch) + 0.5) / (num_steps * batch)
    index = np.searchsorted(cdf, quantiles - 1e-12, side="left")
    return [int(i) + 1 for i in np.minimum(index, len(cdf) - 1)]


def depth_groups(model: ModelSpec, batch: int, steps: int) -> list[tuple[int, int]]:
    """Contiguous [first, end) ranges of decode steps that share per-sequence loop depths (depth
    quantiles rise with the step, so equal depths are contiguous). One range for fixed depth."""
    if np.count_nonzero(depth_pmf(model)) <= 1:
        return [(0, steps)]
    depths = [tuple(loop_depths(model, batch, s, steps)) for s in range(steps)]
    starts = [s for s in range(steps) if s == 0 or depths[s] != depths[s - 1]]
    return list(zip(starts, starts[1:] + [steps]))
