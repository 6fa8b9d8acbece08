"""The parametric looped model: traces (hyper-connections, window / linear attention, KV
policies) against hand-computed figures, quality and dense peers, and sweeping it."""

import pytest

from hwsim.errors import ConfigError
from hwsim.scaling import parametric
from hwsim.scaling.parametric import ParametricSpec
from hwsim.scaling.presets import preset_model
from hwsim.spec import loader
from hwsim.workload import trace as T
from hwsim.workload.transformer import build_trace
from hwsim.workload.weights import kv_cache_bytes

BASE = dict(begin_layers=1, middle_layers=2, end_layers=1, loops=3, hidden_size=256, num_heads=4,
            vocab_size=1000)


def model(**changes):
    return parametric.build(ParametricSpec(**{**BASE, **changes}), "t", "test")


def test_hyper_connection_flops_per_loop():
    # Hyperloop small (C = 1024, n = 4): per loop and token, a GEMM to 3n = 12 coefficients from
    # the flattened n x C state (2 * 12 * 4096 FLOPs) and the stream mix (6 * 4096):
    # 122,880 FLOPs, the 0.12 MFLOP of the compiled Hyperloop note.
    trace = build_trace(preset_model("hyperloop-small"), "decode", 1, 100)
    hc = trace[trace[T.NAME].isin(["hc_coeff", "hc_mix"])]
    assert len(hc) == 6
    assert hc[T.FLOPS].sum() == 3 * (2 * 12 * 4096 + 6 * 4096)
    mix = hc[hc[T.NAME] == "hc_mix"]
    assert (mix[T.ACT_IN_BYTES] == 4 * 1024 * 2).all()          # n x C bf16 state in, same out
    assert set(hc[T.WEIGHT_ID].dropna()) >= {"loop.hc0", "loop.hc1", "loop.hc2"}


def test_sliding_window_reads_and_keeps_only_the_window():
    m = model(attention="sliding_window", window=64)
    trace = build_trace(m, "decode", 1, 1000)
    scores = trace[trace[T.OP_KIND] == "attn_score"]
    assert (scores[T.N] == 64).all()
    # cache: 1 + 2*3 + 1 = 8 attention applications per token (per-loop KV), 2 x 256 bf16 each
    assert kv_cache_bytes(m, 1000) == 64 * 8 * 2 * 256 * 2
    assert kv_cache_bytes(m, 10) == 10 * 8 * 2 * 256 * 2


def test_linear_mixer_state_does_not_grow_with_context():
    m = model(attention="linear")
    short, long = (build_trace(m, "decode", 1, c) for c in (100, 5000))
    assert short[T.KV_READ_BYTES].sum() == long[T.KV_READ_BYTES].sum()
    # state per KV head: 64 x 64 bf16; 4 heads; read once per application (8 applications)
    assert short[T.KV_READ_BYTES].sum() == 8 * 4 * 64 * 64 * 2
    assert kv_cache_bytes(m, 5000) == 8 * 4 * 64 * 64 * 2


def test_first_loop_kv_policy_writes_only_in_the_first_iteration():
    trace = build_trace(model(kv_policy="first_loop"), "decode", 1, 100)
    looped = trace[(trace[T.LOOP_ITER] >= 0) & (trace[T.KV_WRITE_BYTES] > 0)]
    assert set(looped[T.LOOP_ITER]) == {0}


def test_quality_and_dense_peer():
    spec = ParametricSpec(**{**BASE, "hidden_size": 1024, "num_heads": 16, "begin_layers": 2,
                             "middle_layers": 4, "end_layers": 2, "loops": 4, "vocab_size": 32000})
    n_once, n_rec = parametric.law_params(spec)
    d = 1024
    per_layer = 4 * d * d + 3 * d * 2816 + 2 * d           # q k v o, SwiGLU 2.75 d, two norms
    assert n_rec == 4 * per_layer
    assert n_once == 4 * per_layer + d                      # begin + end layers and the final norm
    est = parametric.quality(spec)
    assert est.quality_source == "scaling law (phi=0.459)"
    assert est.extrapolation == []                                        # 2 + 4x4 + 2 = 20 layers
    three = spec.model_copy(update={"loops": 3})
    assert parametric.quality(three).extrapolation == ["16 effective layers (fit: 20)"]
    peer = parametric.dense_peer(spec)
    assert (peer.loops, peer.streams, peer.hidden_size) == (1, 1, 1024)
    assert peer.middle_layers == round(4 + 4 ** 0.459 * 4)                 # 11.6 -> 12 layers
    assert parametric.dense_peer(spec, "equal_depth_recipe").middle_layers == 20


def test_parametric_yaml_sweeps_like_hardware():
    from hwsim.sweep.spec import SweepSpec, resolve_points

    spec = SweepSpec(name="p", model="workloads/parametric/looped-edge.yaml", hardware="edge-npu",
                     axes={"model.parametric.loops": [2, 4], "model.parametric.streams": [1, 4]},
                     objectives={"tpot_s": "min"})
    points = resolve_points(spec).points
    assert [p.model.loop.count for p in points] == [2, 2, 4, 4]
    assert [p.model.schedule[1].streams for p in points] == [1, 4, 1, 4]


def test_bad_parametric_field_is_one_clean_line():
    with pytest.raises(ConfigError, match="parametric: loops"):
        loader.load_model("workloads/parametric/looped-edge.yaml", {"parametric.loops": 0})


def test_first_loop_kv_plus_window():
    # PLT-style: later loops attend the first loop's KV (1000 + 1 keys) plus their own last 32.
    m = model(kv_policy="first_loop_window", kv_window=32)
    trace = build_trace(m, "decode", 1, 1000)
    scores = trace[trace[T.OP_KIND] == "attn_score"]
    assert set(scores[scores[T.LOOP_ITER] >= 1][T.N]) == {1001 + 32}
    assert set(scores[scores[T.LOOP_ITER] <= 0][T.N]) == {1001}
    # cache: 1 + 2 + 1 = 4 full slots of 1000 tokens, plus 2 looped layers x 2 later loops x 32
    per_token_slot = 2 * 256 * 2
    assert kv_cache_bytes(m, 1000) == (4 * 1000 + 2 * 2 * 32) * per_token_slot


def test_reference_executor_refuses_what_it_does_not_implement():
    from hwsim.reference.executor import _check_supported

    with pytest.raises(ConfigError, match="linear attention.*|hyper-connection"):
        _check_supported(model(attention="linear", streams=4), "none", None)


def test_model_quality_of_a_preset_looped_model():
    # Huginn: prelude 2 + core 4 (looped behind the adapter) + coda 2 -> the core and the adapter
    # are recurrent; at r = 32 it is far outside the fitted range (r <= 8, 20 layers).
    huginn = loader.load_model("huginn-0125")
    n_once, n_rec = parametric.model_law_params(huginn)
    assert n_rec == pytest.approx(n_once + 2 * huginn.hidden_size ** 2, rel=0.01)   # 4 + 4 layers
    est = parametric.model_quality(huginn, 800e9)
    assert est.quality_source == "scaling law (phi=0.459)"
    assert any("r=32" in reason for reason in est.extrapolation)
