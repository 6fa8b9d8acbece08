"""Capture from transformers model code on the meta device: hand-computed rows, parameter
identity (tied head, looped stacks), and the comparison with build_trace, which a wrong
schedule (loop count off by one, tied head untied) must fail."""

import pytest

pytest.importorskip("torch", reason="capture needs the `capture` extra (pip install torch==2.13.0 -e '.[capture]')")
pytest.importorskip("transformers", reason="capture needs the `capture` extra (pip install -e '.[capture]')")

from hwsim.capture.compare import compare  # noqa: E402
from hwsim.capture.record import capture  # noqa: E402
from hwsim.spec.hf import model_dict_from_hf_config  # noqa: E402
from hwsim.spec.loader import validate  # noqa: E402
from hwsim.spec.model import ModelSpec  # noqa: E402

H, HEADS, KV_HEADS, HEAD_DIM, FF, VOCAB = 64, 4, 2, 16, 128, 256
LLAMA = {"model_type": "llama", "hidden_size": H, "intermediate_size": FF, "num_hidden_layers": 2,
         "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS, "vocab_size": VOCAB,
         "max_position_embeddings": 512, "tie_word_embeddings": True}
HRM = {"model_type": "hrm_text", "hidden_size": H, "intermediate_size": FF, "num_hidden_layers": 2,
       "num_attention_heads": HEADS, "head_dim": HEAD_DIM, "vocab_size": VOCAB, "H_cycles": 2, "L_cycles": 3}
MIXTRAL = {"model_type": "mixtral", "hidden_size": H, "intermediate_size": FF, "num_hidden_layers": 2,
           "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS, "vocab_size": VOCAB,
           "max_position_embeddings": 512, "num_local_experts": 4, "num_experts_per_tok": 2}
ALBERT = {"model_type": "albert", "hidden_size": H, "embedding_size": 32, "intermediate_size": FF,
          "num_hidden_layers": 3, "num_attention_heads": HEADS, "vocab_size": VOCAB,
          "max_position_embeddings": 32}


def spec(config, **changes) -> ModelSpec:
    data = model_dict_from_hf_config(config, "tiny.json") | changes
    return validate(ModelSpec, data, "tiny.json")


def test_decode_rows_by_hand():
    cap = capture(LLAMA, "decode", batch=1, context_len=10)
    q = [op for op in cap.ops if op.weight_id == "model.layers.0.self_attn.q_proj.weight"]
    assert [(op.m, op.n, op.k, op.flops) for op in q] == [(1, HEADS * HEAD_DIM, H, 2.0 * HEADS * HEAD_DIM * H)]
    head = [op for op in cap.ops if op.kind == "lm_head"]
    assert [op.weight_id for op in head] == ["model.embed_tokens.weight"]     # tied: one identity
    assert head[0].weight_bytes == VOCAB * H * 2
    score = [op for op in cap.ops if op.kind == "attn_score" and op.layer == 0][0]
    kv_row = KV_HEADS * HEAD_DIM * 2                                           # bf16 bytes per token
    assert score.kv_write_bytes == 2 * kv_row                                  # K and V of the new token
    assert score.kv_read_bytes == 11 * kv_row                                  # K of 10 cached + 1 new
    assert (score.m, score.n, score.k) == (HEADS, 11, HEAD_DIM)
    assert cap.applications == [0, 1] and cap.kv_slots == {0, 1}


def test_looped_stacks_reuse_their_weights():
    cap = capture(HRM, "decode", batch=1, context_len=4)
    uses = [op.weight_id for op in cap.ops if op.weight_id]
    assert uses.count("model.L_module.layers.0.self_attn.q_proj.weight") == 2 * 3
    assert uses.count("model.H_module.layers.1.mlp.down_proj.weight") == 2
    assert uses.count("model.L_module.layers.0.self_attn.gate_proj.weight") == 2 * 3   # the output gate
    assert cap.applications == [0, 1] * 3 + [2, 3] + [0, 1] * 3 + [2, 3]
    assert len(cap.kv_slots) == 2 * 2 * (3 + 1)        # one slot per attention invocation


@pytest.mark.parametrize("config", [LLAMA, HRM, MIXTRAL, ALBERT], ids=lambda c: c["model_type"])
def test_capture_agrees_with_build_trace(config):
    model = spec(config)
    for phase in ("prefill", "decode") if model.has_decode else ("prefill",):
        result = compare(model, config, phase, context_len=8)
        assert result.ok, result.problems
        assert result.captured["matmul_flops"] > 0 and result.captured["attn_flops"] > 0


@pytest.mark.parametrize("config, loops", [(HRM, 3), (HRM, 1), (ALBERT, 4)], ids=["hrm+1", "hrm-1", "albert+1"])
def test_loop_count_off_by_one_fails(config, loops):
    model = spec(config)
    wrong = model.model_copy(update={"loop": model.loop.model_copy(update={"count": loops})})
    result = compare(wrong, config, "prefill", context_len=8)
    assert not result.ok
    assert "schedule" in result.problems[0]


def test_tied_head_untied_fails():
    result = compare(spec(LLAMA, tied_embeddings=False), LLAMA, "decode", context_len=8)
    assert not result.ok
    assert any(p.startswith("unique_weight_bytes") for p in result.problems)


def test_wrong_layer_order_fails():
    """HRM with H before L in the schedule: same counts, different order."""
    model = spec(HRM)
    body = model.schedule[0].body
    swapped = model.schedule[0].model_copy(update={"body": [body[1], body[0]]})
    result = compare(model.model_copy(update={"schedule": [swapped]}), HRM, "prefill", context_len=8)
    assert not result.ok and "first difference at application 0" in result.problems[0]
