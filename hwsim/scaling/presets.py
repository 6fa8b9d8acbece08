"""Published looped configurations as parametric designs, with the parameter counts their papers
report (under each paper's counting convention; tests/scaling/test_presets.py checks them).

- Hyperloop (Zeitoun, Torroba-Hennigen, Kim, arXiv 2604.21254, Table 1): three scales, each with
  the depth-matched Transformer, a plain looped model and Hyperloop (n = 4 streams, one
  hyper-connection per loop); Table 3's 4- and 6-loop variants at the same unrolled depth. The
  mHC baselines (hyper-connections in every layer) are not modelled. SwiGLU ff = 2.75 d, MHA 16 heads, Llama-2 vocab 32000, untied.
- MoR (Bae et al., arXiv 2507.10524v3, Tables 3, 6, 10): the 360M family on the SmolLM-360M
  config (d 960, 15 / 5 heads, head 64, ff 2560, vocab 49152, tied), Middle-Cycle sharing
  1 + (layers x N_r) + 1 with expert-choice routing and recursion-wise KV caching.
- LT2 (Deng et al., arXiv 2605.20670v1, README): 1.3B, d 2048, 20 unique layers x T = 4 with a
  linear mixer. Heads and FFN width are not in the text read, so this preset's shape is an
  assumption (16 heads of 128, ff 2.75 d, Llama-3 vocab 128256, tied: 1.29B in all, near the
  reported 1.3B) and no count is asserted.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwsim.scaling.parametric import ParametricSpec, RoutingSpec

HYPERLOOP = "Zeitoun, Torroba-Hennigen, Kim, Hyperloop Transformers, arXiv 2604.21254, Table 1"
MOR = "Bae et al., Mixture-of-Recursions, arXiv 2507.10524v3, Tables 3, 6, 10"
LT2 = "Deng et al., LT2: Linear-Time Looped Transformers, arXiv 2605.20670v1 (README configuration)"


@dataclass(frozen=True)
class Preset:
    spec: ParametricSpec
    source: str
    convention: str            # parametric.param_count convention of the paper
    reported_params: float | None
    reported_digits: float     # half a unit of the figure's last printed digit (parameters)


def _hyperloop(d, begin, middle, end, loops, streams, tokens):
    return ParametricSpec(begin_layers=begin, middle_layers=middle, end_layers=end, loops=loops,
                          hidden_size=d, num_heads=16, ffn_mult=2.75, vocab_size=32000,
                          streams=streams, training_tokens=tokens,
                          phi="hyper_connections" if streams > 1 else "baseline")


def _mor(begin, middle, end, loops, routed):
    return ParametricSpec(begin_layers=begin, middle_layers=middle, end_layers=end, loops=loops,
                          hidden_size=960, num_heads=15, num_kv_heads=5, head_dim=64,
                          intermediate_size=2560, vocab_size=49152, tied_embeddings=True,
                          training_tokens=20e9,
                          routing=RoutingSpec() if routed else None,
                          kv_policy="recursion_wise" if routed else "per_loop")


def _presets() -> dict[str, Preset]:
    out: dict[str, Preset] = {}
    # (scale, width, dense depth, (begin, middle, end), tokens, reported M: TF, looped, hyperloop)
    for scale, d, depth, (b, m, e), tokens, reported, digits in [
        ("small", 1024, 16, (2, 4, 2), 12.5e9, (238e6, 135.5e6, 135.7e6), (0.5e6, 0.05e6, 0.05e6)),
        ("medium", 2048, 18, (3, 4, 3), 50e9, (990.5e6, 579.4e6, 579.7e6), (0.05e6,) * 3),
        ("large", 2048, 38, (4, 10, 4), 100e9, (2018e6, 990.5e6, 990.8e6), (0.5e6, 0.05e6, 0.05e6)),
    ]:
        out[f"hyperloop-{scale}-transformer"] = Preset(_hyperloop(d, 0, depth, 0, 1, 1, tokens), HYPERLOOP,
                                                       "hyperloop", reported[0], digits[0])
        out[f"hyperloop-{scale}-looped"] = Preset(_hyperloop(d, b, m, e, 3, 1, tokens), HYPERLOOP,
                                                  "hyperloop", reported[1], digits[1])
        out[f"hyperloop-{scale}"] = Preset(_hyperloop(d, b, m, e, 3, 4, tokens), HYPERLOOP,
                                           "hyperloop", reported[2], digits[2])
    # Table 3: fixed unrolled depth, more loops over a smaller middle block (looped and Hyperloop
    # print the same rounded count).
    for name, d, (b, m, e), loops, tokens, reported in [
        ("small-3x4", 1024, (2, 3, 2), 4, 12.5e9, 123e6), ("small-2x6", 1024, (2, 2, 2), 6, 12.5e9, 110e6),
        ("medium-3x4", 2048, (3, 3, 3), 4, 50e9, 528e6), ("medium-2x6", 2048, (3, 2, 3), 6, 50e9, 477e6),
    ]:
        out[f"hyperloop-{name}-looped"] = Preset(_hyperloop(d, b, m, e, loops, 1, tokens), HYPERLOOP + " and 3",
                                                 "hyperloop", reported, 0.5e6)
        out[f"hyperloop-{name}"] = Preset(_hyperloop(d, b, m, e, loops, 4, tokens), HYPERLOOP + " and 3",
                                          "hyperloop", reported, 0.5e6)
    # Table 6 / Table 3: vanilla 315M non-embedding (32 layers); Middle-Cycle N_r = 2, 3, 4
    # -> 1 + 15x2 + 1 (167M), 1 + 10x3 + 1 (118M), 1 + 8x4 + 1 (98M).
    out["mor-360m-vanilla"] = Preset(_mor(0, 32, 0, 1, False), MOR, "non_embedding", 315e6, 0.5e6)
    for loops, middle, reported in [(2, 15, 167e6), (3, 10, 118e6), (4, 8, 98e6)]:
        out[f"mor-360m-nr{loops}"] = Preset(_mor(1, middle, 1, loops, True), MOR, "non_embedding", reported, 0.5e6)
        out[f"mor-360m-recursive-nr{loops}"] = Preset(_mor(1, middle, 1, loops, False), MOR, "non_embedding",
                                                      reported, 0.5e6)
    # Table 10 Cycle sharing (whole stack looped): 16 x 2 (157M), 10 x 3 (98M)
    out["mor-360m-cycle-nr2"] = Preset(_mor(0, 16, 0, 2, False), MOR, "non_embedding", 157e6, 0.5e6)
    out["mor-360m-cycle-nr3"] = Preset(_mor(0, 10, 0, 3, False), MOR, "non_embedding", 98e6, 0.5e6)
    out["lt2-1.3b"] = Preset(ParametricSpec(begin_layers=0, middle_layers=20, end_layers=0, loops=4,
                                            hidden_size=2048, num_heads=16, ffn_mult=2.75, vocab_size=128256,
                                            tied_embeddings=True,
                                            attention="linear", training_tokens=100e9),
                             LT2, "total", None, 0)
    return out


PRESETS = _presets()


def preset_model(name: str, quant=None):
    """The ModelSpec of a published looped configuration."""
    from hwsim.errors import ConfigError
    from hwsim.scaling.parametric import build

    if name not in PRESETS:
        raise ConfigError(f"unknown looped preset {name!r}; known: {', '.join(PRESETS)}")
    preset = PRESETS[name]
    return build(preset.spec, name, preset.source, quant)
