"""build_trace against published model figures and hand-computed cases."""

import numpy as np
import pandas as pd
import pytest

from hwsim.errors import TraceError
from hwsim.spec import loader
from hwsim.spec.model import ModelSpec
from hwsim.spec.variants import configure_model
from hwsim.workload import trace as T
from hwsim.workload.transformer import build_trace
from hwsim.workload.weights import kv_bytes_per_token, unique_weight_bytes, weight_table

PRESETS = [p.stem for p in loader.list_presets(loader.MODELS_DIR)]
MATMUL_KINDS = [k for k in T.GEMM_KINDS if k not in ("attn_score", "attn_value")]


def matmul_flops(frame):
    return frame.loc[frame[T.OP_KIND].isin(MATMUL_KINDS), T.FLOPS].sum()


def touched_weight_bytes(frame):
    return frame.loc[frame[T.WEIGHT_ID] != "", T.WEIGHT_BYTES].sum()


def unique_bytes(frame, model):
    """Distinct weight ids of the trace, plus embedding tables read by the lookups."""
    used = frame[frame[T.WEIGHT_ID] != ""].drop_duplicates(T.WEIGHT_ID)
    ids = set(used[T.WEIGHT_ID])
    tables = sum(t.bytes(model) for t in weight_table(model).tensors
                 if t.kind == "embedding" and t.weight_id not in ids)
    return used[T.WEIGHT_BYTES].sum() + tables


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_builds_valid_traces(load_model, name):
    model = load_model(name)
    phases = ["prefill", "decode"] if model.has_decode else ["prefill"]
    for phase in phases:
        frame = build_trace(model, phase, batch=2, context_len=8)
        T.validate_trace(frame)
        assert frame[T.OP_ID].tolist() == list(range(len(frame)))
        known = weight_table(model).by_id()
        assert set(frame[T.WEIGHT_ID]) - {""} <= set(known)


# models.md summary table: matmul GFLOP per token (2 x weight elements touched, LM head included)
@pytest.mark.parametrize("name, gflop", [("ouro-1.4b", 10.07), ("ouro-2.6b", 19.93),
                                         ("huginn-0125", 108.6), ("llama-3.2-1b", 2.47),
                                         ("olmoe-1b-7b", 2.36)])
def test_matmul_gflop_per_decode_token(load_model, name, gflop):
    if name not in PRESETS:
        pytest.skip(f"no preset {name}")
    frame = build_trace(load_model(name), "decode", 1, 1)
    assert matmul_flops(frame) / 1e9 == pytest.approx(gflop, rel=0.01)


def test_huginn_matmul_flops_follow_the_recurrence(load_model):
    # models.md: r=4 16.95 G, r=64 213.42 G
    huginn = load_model("huginn-0125")
    assert matmul_flops(build_trace(huginn, "decode", 1, 1, loops=4)) / 1e9 == pytest.approx(16.95, rel=0.005)
    assert matmul_flops(build_trace(huginn, "decode", 1, 1, loops=64)) / 1e9 == pytest.approx(213.42, rel=0.005)


@pytest.mark.parametrize("name", ["ouro-1.4b", "huginn-0125", "llama-3.2-1b", "trm", "albert-base", "gpt2"])
@pytest.mark.parametrize("quant, bits", [("bf16", 16.0), ("int4-g128", 4.125)])
def test_unique_weight_bytes_are_params_at_spec_bits(load_model, name, quant, bits):
    if name not in PRESETS:
        pytest.skip(f"no preset {name}")
    # Head and embeddings stored in the same format (by default they stay 16-bit: test_datapath.py).
    model = configure_model(load_model(name), quant=quant, head_format=quant)
    frame = build_trace(model, "prefill", 1, 4)
    params = weight_table(model).num_params
    assert unique_bytes(frame, model) == pytest.approx(unique_weight_bytes(model), rel=1e-12)
    assert unique_bytes(frame, model) == pytest.approx(params * bits / 8, rel=0.005)


def test_moe_prefill_touches_every_expert(load_model):
    model = load_model("olmoe-1b-7b")
    frame = build_trace(model, "prefill", 1, 512)
    assert unique_bytes(frame, model) == pytest.approx(weight_table(model).num_params * 2, rel=1e-12)


def test_ouro_touches_the_stack_once_per_loop(load_model):
    # models.md: 51,388,416 params per layer, 24 layers; LM head 100,663,296; bf16.
    # Per iteration the loop also reads the final norm (2,048) and the exit gate (2,049).
    frame = build_trace(load_model("ouro-1.4b"), "decode", 1, 1, loops=4)
    per_loop = (24 * 51_388_416 + 2048 + 2049) * 2
    assert touched_weight_bytes(frame) == 4 * per_loop + 100_663_296 * 2
    q_rows = frame[frame[T.WEIGHT_ID] == "core.L5.q"]
    assert q_rows[T.LOOP_ITER].tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("policy, last_k, expected", [
    ("per_loop", None, 2_787_840), ("shared", None, 168_960), ("last_k", 4, 422_400),
    ("exit_only", None, 168_960)])
def test_huginn_kv_written_per_decode_token(load_model, policy, last_k, expected):
    model = configure_model(load_model("huginn-0125"), kv_policy=policy, kv_last_k=last_k)
    frame = build_trace(model, "decode", 1, 100)
    assert frame[T.KV_WRITE_BYTES].sum() == expected == kv_bytes_per_token(model)


@pytest.mark.parametrize("policy, last_k, slots", [("per_loop", None, 96), ("shared", None, 24),
                                                   ("last_k", 2, 48), ("exit_only", None, 24)])
def test_ouro_kv_written_per_decode_token(load_model, policy, last_k, slots):
    model = configure_model(load_model("ouro-1.4b"), kv_policy=policy, kv_last_k=last_k)
    frame = build_trace(model, "decode", 3, 10)
    # models.md: 8,192 B per layer-step (2 x 16 x 128 x 2), per sequence
    assert frame[T.KV_WRITE_BYTES].sum() == 3 * slots * 8192 == 3 * kv_bytes_per_token(model)


def test_one_loop_equals_the_standard_model(load_model):
    ouro = configure_model(load_model("ouro-1.4b"), loops=1)
    data = ouro.model_dump(mode="python")
    data.update(family="decoder", schedule=None, loop={"count": 1})
    standard = ModelSpec.model_validate(data)
    for phase, context in [("decode", 300), ("prefill", 64)]:
        looped = build_trace(ouro, phase, 2, context)
        plain = build_trace(standard, phase, 2, context)
        # the only extra op is Ouro's exit gate; the per-loop norm is the final norm
        looped = looped[looped[T.NAME] != "exit_gate"].reset_index(drop=True)
        columns = [T.M, T.N, T.K, T.FLOPS, T.WEIGHT_ID, T.WEIGHT_BYTES, T.ACT_IN_BYTES,
                   T.ACT_OUT_BYTES, T.KV_READ_BYTES, T.KV_WRITE_BYTES, T.TOKENS_ACTIVE]
        pd.testing.assert_frame_equal(looped[columns], plain[columns])


def test_decode_attention_grows_with_context(load_model):
    llama = load_model("llama-3.2-1b")   # 32 heads, 8 KV heads, head_dim 64, bf16
    frame = build_trace(llama, "decode", 2, 100)
    score = frame[frame[T.OP_KIND] == "attn_score"].iloc[0]
    assert (score[T.M], score[T.N], score[T.K]) == (2 * 32, 101, 64)
    assert score[T.FLOPS] == 2 * 2 * 32 * 101 * 64
    assert score[T.KV_READ_BYTES] == 101 * 8 * 64 * 2 * 2
    k_row = frame[frame[T.WEIGHT_ID] == "stack.L0.k"].iloc[0]
    assert k_row[T.KV_WRITE_BYTES] == 2 * 8 * 64 * 2
    longer = build_trace(llama, "decode", 2, 1000)
    attn = lambda f: f.loc[f[T.OP_KIND].isin(["attn_score", "attn_value"]), T.FLOPS].sum()  # noqa: E731
    assert attn(longer) / attn(frame) == pytest.approx(1001 / 101)


def test_prefill_conventions(load_model):
    llama = load_model("llama-3.2-1b")
    frame = build_trace(llama, "prefill", 2, 10)
    score = frame[frame[T.OP_KIND] == "attn_score"].iloc[0]
    assert (score[T.M], score[T.N], score[T.K]) == (2 * 10 * 32, 10, 64)   # full rectangle
    q_row = frame[frame[T.WEIGHT_ID] == "stack.L3.q"].iloc[0]
    assert (q_row[T.M], q_row[T.N], q_row[T.K]) == (20, 2048, 2048)
    assert frame[frame[T.WEIGHT_ID] == "stack.L3.v"][T.KV_WRITE_BYTES].item() == 20 * 8 * 64 * 2
    head = frame[frame[T.OP_KIND] == "lm_head"]
    assert head[T.M].tolist() == [2] and head[T.WEIGHT_ID].tolist() == ["embed"]   # tied; last token
    embed = frame[frame[T.OP_KIND] == "embed"].iloc[0]
    assert embed[T.WEIGHT_ID] == "" and embed[T.ACT_IN_BYTES] == 20 * 2048 * 2


def test_huginn_adapter_and_shared_core_ids(load_model):
    frame = build_trace(load_model("huginn-0125"), "decode", 1, 10, loops=8)
    adapter = frame[frame[T.OP_KIND] == "adapter"]
    assert len(adapter) == 8 and set(adapter[T.K]) == {2 * 5280} and set(adapter[T.N]) == {5280}
    assert adapter[T.WEIGHT_ID].unique().tolist() == ["loop.adapter"]
    core_q = frame[frame[T.WEIGHT_ID] == "core.L2.q"]
    assert core_q[T.LOOP_ITER].tolist() == list(range(8))
    prelude = frame[frame[T.BLOCK_ID] == "prelude"]
    assert set(prelude[T.LOOP_ITER]) == {-1}


def test_trm_runs_its_nested_recursion_over_the_whole_sequence(load_model):
    trm = load_model("trm")
    frame = build_trace(trm, "prefill", 1, 0)
    layers = frame[frame[T.NAME] == "q"]
    assert len(layers) == 16 * 3 * 7 * 2                     # models.md: 672 per full inference
    assert set(layers[T.M]) == {916}                          # 900 tokens + 16 puzzle prefix
    score = frame[frame[T.OP_KIND] == "attn_score"]
    assert set(score[T.N]) == {916}
    assert frame[T.KV_READ_BYTES].sum() == 0 and frame[T.KV_WRITE_BYTES].sum() == 0
    assert (frame[T.NAME] == "inject_add").sum() == 16 * 3 * 7


def test_olmoe_decode_routes_top_k_experts(load_model):
    frame = build_trace(load_model("olmoe-1b-7b"), "decode", 1, 10)
    layer0 = frame[(frame[T.LAYER] == 0) & (frame[T.OP_KIND] == "expert")]
    assert layer0[T.EXPERT_ID].nunique() == 8 and set(layer0[T.M]) == {1}
    assert frame[frame[T.OP_KIND] == "router"][T.N].unique().tolist() == [64]


def _moe_variant(base, **moe):
    data = base.model_dump(mode="python")
    data["moe"].update(moe)
    return ModelSpec.model_validate(data)


def test_moe_flops_scale_with_k_not_expert_count(load_model):
    olmoe = load_model("olmoe-1b-7b")
    expert_flops = lambda m: (lambda f: f.loc[f[T.OP_KIND] == "expert", T.FLOPS].sum())(  # noqa: E731
        build_trace(m, "prefill", 4, 32))
    base = expert_flops(olmoe)
    assert base == 16 * 128 * 8 * 3 * 2 * 2048 * 1024       # layers x tokens x k x 3 matrices x 2hf
    assert expert_flops(_moe_variant(olmoe, num_experts=128)) == base
    assert expert_flops(_moe_variant(olmoe, top_k=4)) == base / 2


@pytest.mark.parametrize("batch_exit, active, written_slots", [
    ("run_to_max", [4, 4, 4, 4], 4 * 4), ("compact", [4, 3, 2, 1], 4 + 3 + 2 + 1)])
def test_batch_exit_modes(load_model, batch_exit, active, written_slots):
    ouro = load_model("ouro-1.4b")
    loop = ouro.loop.model_copy(update={"distribution": [0.25] * 4, "batch_exit": batch_exit})
    model = ouro.model_copy(update={"loop": loop})    # sequences exit after 1, 2, 3, 4 loops
    frame = build_trace(model, "decode", 4, 10)
    q_rows = frame[frame[T.WEIGHT_ID] == "core.L0.q"]
    assert q_rows[T.TOKENS_ACTIVE].tolist() == active == q_rows[T.M].tolist()
    assert frame[T.KV_WRITE_BYTES].sum() == written_slots * 24 * 8192
    head = frame[frame[T.OP_KIND] == "lm_head"]
    assert head[T.M].item() == 4


def test_exit_only_with_run_to_max_writes_each_sequence_at_its_exit(load_model):
    ouro = configure_model(load_model("ouro-1.4b"), kv_policy="exit_only")
    loop = ouro.loop.model_copy(update={"distribution": [0.25] * 4})
    frame = build_trace(ouro.model_copy(update={"loop": loop}), "decode", 4, 10)
    per_iter = frame[frame[T.WEIGHT_ID] == "core.L0.k"][T.KV_WRITE_BYTES].tolist()
    assert per_iter == [4096.0] * 4            # one sequence exits in each iteration
    assert frame[T.KV_WRITE_BYTES].sum() == 4 * 24 * 8192


@pytest.mark.parametrize("kwargs, message", [
    (dict(phase="decode"), "no decode"), (dict(phase="sample"), "phase"),
    (dict(phase="prefill", batch=0), "batch")])
def test_bad_requests_are_trace_errors(load_model, kwargs, message):
    with pytest.raises(TraceError, match=message):
        build_trace(load_model("trm"), **kwargs)


def test_prefill_needs_a_prompt_and_standard_models_no_loops(load_model):
    llama = load_model("llama-3.2-1b")
    with pytest.raises(TraceError, match="context length"):
        build_trace(llama, "prefill", 1, 0)
    with pytest.raises(TraceError, match="no loop"):
        build_trace(llama, "decode", 1, 10, loops=2)


def test_quantised_weights_and_kv_bits_reach_the_rows(load_model):
    model = configure_model(load_model("llama-3.2-1b"), quant="q4_0")
    frame = build_trace(model, "decode", 1, 10)
    q_row = frame[frame[T.WEIGHT_ID] == "stack.L0.q"].iloc[0]
    assert q_row[T.WEIGHT_BITS] == 4.5 and q_row[T.WEIGHT_BYTES] == 2048 * 2048 * 4.5 / 8
    assert frame[T.OP_KIND].eq("lm_head").sum() == 1
    assert frame.loc[frame[T.OP_KIND] == "lm_head", T.WEIGHT_BITS].item() == 6.5625   # Q6_K output
    assert np.all(frame[T.KV_BITS] == 16.0)


def test_mlc_q4f16_1_quantises_the_head_too_and_computes_in_fp16(load_model):
    """MLC's q4f16_1 has Q4_0's block layout but not llama.cpp's recipe: the LM head stays at
    4.5 bits (quantize_final_fc) and the GEMMs run in fp16, not on int8-quantised activations."""
    model = configure_model(load_model("llama-3.2-1b"), quant="q4f16_1")
    frame = build_trace(model, "decode", 1, 10)
    matmuls = frame[frame[T.OP_KIND].isin(["matmul", "lm_head"])]
    assert set(matmuls[T.WEIGHT_BITS]) == {4.5} and matmuls[T.OP_KIND].eq("lm_head").sum() == 1
    assert model.quant.compute_dtype == "fp16" and model.quant.weight_only


def test_huginn_scales_the_embedding_and_applies_ln_f_twice(load_model):
    model = load_model("huginn-0125")
    frame = build_trace(model, "decode", batch=2, context_len=16, loops=2)
    names = frame[T.NAME].tolist()
    scale = frame[frame[T.NAME] == "embed_scale"].iloc[0]
    assert names.index("embed_scale") == names.index("embed") + 1
    assert scale[T.OP_KIND] == "scale" and scale[T.FLOPS] == 2 * 5280        # one multiply per element
    final = frame[frame[T.NAME] == "final_norm"]
    assert len(final) == 2 and set(final[T.WEIGHT_ID]) == {"final_norm"} and set(final[T.LAYER]) == {-1}
    first_coda = frame.index[frame[T.BLOCK_ID] == "coda"][0]
    last_core = frame.index[frame[T.BLOCK_ID] == "core"][-1]
    assert last_core < final.index[0] < first_coda and final.index[1] > frame.index[frame[T.BLOCK_ID] == "coda"][-1]
    assert final.iloc[0][T.FLOPS] == 4 * 2 * 5280 and final.iloc[0][T.BLOCK_ID] == ""


def test_norm_placement_moves_rows_but_not_their_demand(load_model):
    """Huginn's post-residual norms follow the residual adds; Ouro's sandwich norms precede
    them. The same ops run either way, so every column sum is unchanged."""
    model = load_model("huginn-0125")
    sandwich = model.model_copy(update={"norm_placement": "sandwich"})
    post, pre = (build_trace(m, "decode", 1, 8, loops=1) for m in (model, sandwich))
    one_layer = post[post[T.LAYER] == 0][T.NAME].tolist()
    assert one_layer.index("norm1") == one_layer.index("residual_attn") + 1
    assert one_layer[-1] == "norm3" and one_layer[-2] == "residual_mlp"
    other = pre[pre[T.LAYER] == 0][T.NAME].tolist()
    assert other.index("norm1") == other.index("residual_attn") - 1
    numeric = [T.FLOPS, T.WEIGHT_BYTES, T.ACT_IN_BYTES, T.ACT_OUT_BYTES, T.KV_READ_BYTES, T.KV_WRITE_BYTES]
    assert sorted(one_layer) == sorted(other)
    pd.testing.assert_series_equal(post[numeric].sum(), pre[numeric].sum())


def test_unit_embedding_scale_adds_no_row(load_model):
    frame = build_trace(load_model("llama-3.2-1b"), "decode", 1, 8)
    assert "embed_scale" not in set(frame[T.NAME])
