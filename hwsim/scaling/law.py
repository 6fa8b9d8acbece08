"""Quality of a hypothetical looped model from the iso-depth recurrence scaling law.

Schwethelm, Rueckert, Kaissis, "How Much Is One Recurrence Worth? Iso-Depth Scaling Laws for
Looped Language Models", arXiv 2604.21106v3, Eq. 3:

    L = E + A (N_once + r^phi N_rec)^-alpha + B D^-beta      (nats per token)

N_once: unshared non-embedding parameters, N_rec: the looped block's (injection included),
r: loops, D: training tokens. A looped model is worth a dense model of N_once + r^phi N_rec
non-embedding parameters trained on the same tokens, while it computes like N_once + r N_rec.
phi is recipe dependent (the paper's own warning, section 6), so it is always a named choice
and every estimate carries its label; estimates are kept apart from published scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hwsim.errors import ConfigError

# Joint fit with free phi. E, alpha, beta, phi: Table 2 of 2604.21106v3 (precise values from the
# authors' project page, FIT constant); A and B appear only on the project page (the paper omits
# them as "only loosely identified").
E_NATS = 1.56773
A_COEF = 28.027
ALPHA = 0.19924
B_COEF = 915.82
BETA = 0.36863

# Named phi choices. 2604.21106v3: baseline Table 2 (95% CI 0.41-0.53); truncated backprop
# (r_bwd = ceil(r/2)) and hyper-connections (K = 2 lanes) Table 3. Only phi is swapped for the
# variants: their refits' A and B are unpublished, so a variant is an approximation.
# `equal_depth_recipe` (phi = 1) is not a fit: it is the value the Hyperloop (2604.21254,
# Table 1) and MoR (2507.10524, Table 10) results imply under this law form when looping matches
# unique layers at equal depth and tokens (a derived upper bracket, see docs/scaling.md).
PHI = {
    "baseline": 0.459,
    "truncated_bptt": 0.380,
    "hyper_connections": 0.646,
    "equal_depth_recipe": 1.0,
}
DEFAULT_PHI = "baseline"

# The fitted range (2604.21106v3 section 3.1, Table 6): 20 effective layers with prelude/coda
# (2, 2), r in {1, 2, 4, 8}, 10.9M-1.14B unique non-embedding parameters.
FIT_EFFECTIVE_LAYERS = 20
FIT_MAX_LOOPS = 8
FIT_MAX_UNIQUE_PARAMS = 1.14e9

# Loss -> average zero-shot accuracy: a fit derived from Hyperloop's 12 models (2604.21254
# Table 1, Llama-2 tokenizer, FineWeb-Edu; the tokenizer and data family of the law):
# acc% = 101.50 - 22.53 loss, looped models about +1.2 pp at equal loss; valid 2.14-2.70 nats.
ACC_INTERCEPT_PCT = 101.50
ACC_SLOPE_PCT_PER_NAT = 22.53
ACC_LOOPED_BONUS_PCT = 1.2
ACC_VALID_LOSS_NATS = (2.14, 2.70)


def phi_value(phi: str | float) -> float:
    """A named phi (PHI) or a number; unknown names are a clean error."""
    if isinstance(phi, str):
        if phi not in PHI:
            raise ConfigError(f"phi: unknown variant {phi!r}; known: {', '.join(PHI)} (or a number)")
        return PHI[phi]
    if not 0 <= phi <= 2:
        raise ConfigError(f"phi: {phi} is outside 0..2")
    return float(phi)


def phi_label(phi: str | float) -> str:
    """The quality-source label of an estimate: 'scaling law (phi=0.459)'."""
    return f"scaling law (phi={phi_value(phi):.3g})"


def effective_params(n_once: float, n_rec: float, loops: int, phi: str | float = DEFAULT_PHI) -> float:
    """N_once + r^phi N_rec: the dense non-embedding parameter count of equal loss at equal tokens."""
    if n_once < 0 or n_rec < 0 or loops < 1:
        raise ConfigError(f"scaling law: need n_once, n_rec >= 0 and loops >= 1 (got {n_once}, {n_rec}, {loops})")
    return n_once + loops ** phi_value(phi) * n_rec


def loss_nats(n_once: float, n_rec: float, loops: int, tokens: float, phi: str | float = DEFAULT_PHI) -> float:
    """Validation loss (nats per token) predicted by Eq. 3."""
    if tokens <= 0:
        raise ConfigError(f"scaling law: training tokens must be > 0, got {tokens}")
    n_eff = effective_params(n_once, n_rec, loops, phi)
    if n_eff <= 0:
        raise ConfigError("scaling law: the model has no non-embedding parameters")
    return E_NATS + A_COEF * n_eff ** -ALPHA + B_COEF * tokens ** -BETA


def dense_params_for_loss(loss: float, tokens: float) -> float:
    """The dense non-embedding parameter count whose Eq. 3 loss at `tokens` is `loss`."""
    rest = loss - E_NATS - B_COEF * tokens ** -BETA
    if rest <= 0:
        raise ConfigError(f"scaling law: loss {loss:.3f} nats is not reachable at {tokens:.3g} tokens")
    return (rest / A_COEF) ** (-1 / ALPHA)


def accuracy_pct(loss: float, looped: bool) -> float | None:
    """Average zero-shot accuracy (%) on Hyperloop's 11-task suite, or None outside the loss
    range the mapping was fitted on."""
    low, high = ACC_VALID_LOSS_NATS
    if not low <= loss <= high:
        return None
    return ACC_INTERCEPT_PCT - ACC_SLOPE_PCT_PER_NAT * loss + (ACC_LOOPED_BONUS_PCT if looped else 0.0)


def outside_fit(n_once: float, n_rec: float, loops: int, effective_layers: int | None) -> list[str]:
    """Why an estimate extrapolates the fitted range (empty when inside)."""
    reasons = []
    if effective_layers is not None and effective_layers != FIT_EFFECTIVE_LAYERS:
        reasons.append(f"{effective_layers} effective layers (fit: {FIT_EFFECTIVE_LAYERS})")
    if loops > FIT_MAX_LOOPS:
        reasons.append(f"r={loops} > {FIT_MAX_LOOPS}")
    if n_once + n_rec > FIT_MAX_UNIQUE_PARAMS:
        reasons.append(f"{(n_once + n_rec) / 1e9:.2f}B unique params > 1.14B")
    return reasons


@dataclass(frozen=True)
class QualityEstimate:
    """A scaling-law estimate; `quality_source` says so, `extrapolation` lists why it is outside the fit."""

    loss_nats: float
    dense_equivalent_params: float
    accuracy_pct: float | None
    phi: float
    quality_source: str
    extrapolation: list[str] = field(default_factory=list)

    @property
    def is_extrapolation(self) -> bool:
        return bool(self.extrapolation)


def estimate(n_once: float, n_rec: float, loops: int, tokens: float, phi: str | float = DEFAULT_PHI,
             effective_layers: int | None = None) -> QualityEstimate:
    """Loss, equal-quality dense size and (where mapped) accuracy of a (possibly looped) model."""
    loss = loss_nats(n_once, n_rec, loops, tokens, phi)
    return QualityEstimate(
        loss_nats=loss,
        dense_equivalent_params=effective_params(n_once, n_rec, loops, phi),
        accuracy_pct=accuracy_pct(loss, looped=loops > 1 and n_rec > 0),
        phi=phi_value(phi), quality_source=phi_label(phi),
        extrapolation=outside_fit(n_once, n_rec, loops, effective_layers))


# ----------------------------------------------------------------------------- compute-optimal
# The paper's sweep (section 3.1 and its repo's estimate_flops): width d, 2 prelude + 2 coda
# layers of 12 d^2, a recurrent block of (16/r) layers plus a 2 d^2 injection, vocab 32064,
# sequence 2048, training FLOPs per token 6 (N_once + d V) + 6 r N_rec + 12 * 20 * d * T.
SWEEP_VOCAB = 32064
SWEEP_SEQ = 2048


def sweep_params(d_model: float, loops: int) -> tuple[float, float]:
    """(N_once, N_rec) of the paper's 20-effective-layer model at width d (section 3.2)."""
    n_b = 12 * d_model ** 2
    n_once = 4 * n_b
    n_rec = (16 / loops) * n_b + (2 * d_model ** 2 if loops > 1 else 0.0)
    return n_once, n_rec


def sweep_train_flops_per_token(d_model: float, loops: int) -> float:
    n_once, n_rec = sweep_params(d_model, loops)
    return (6 * (n_once + d_model * SWEEP_VOCAB) + 6 * loops * n_rec
            + 12 * FIT_EFFECTIVE_LAYERS * d_model * SWEEP_SEQ)


def compute_optimal_loss(flops: float, loops: int, phi: str | float = DEFAULT_PHI) -> tuple[float, float]:
    """(loss, width) minimising Eq. 3 over width at a training budget of `flops` (tokens = C / F)."""
    import numpy as np

    widths = np.geomspace(64, 16384, 4000)
    best = (float("inf"), 0.0)
    for d in widths:
        n_once, n_rec = sweep_params(d, loops)
        tokens = flops / sweep_train_flops_per_token(d, loops)
        loss = loss_nats(n_once, n_rec, loops, tokens, phi)
        if loss < best[0]:
            best = (loss, float(d))
    return best
