"""Layers of one shape are built once and relabelled (transformer._Builder.layer_columns): the
trace must be exactly the one built layer by layer."""

import pandas as pd
import pytest

from hwsim.cost.op_cost import columns_demand
from hwsim.spec import loader
from hwsim.spec.variants import configure_model
from hwsim.workload import trace as T
from hwsim.workload import transformer
from hwsim.workload.transformer import build_columns, build_decode_sum_columns, build_sum_columns, build_trace
from hwsim.workload.weights import unique_weight_bytes

PRESETS = [p.stem for p in loader.list_presets(loader.MODELS_DIR)]


def layer_by_layer(monkeypatch):
    """Make every layer a shape of its own, so each layer's rows are built from scratch."""
    monkeypatch.setattr(transformer._Builder, "layer_shape", lambda self, block, layer: (block, layer))


@pytest.mark.parametrize("name", PRESETS)
def test_relabelled_layers_equal_layers_built_one_by_one(load_model, monkeypatch, name):
    model = load_model(name)
    runs = [("prefill", 6)] + ([("decode", 9)] if model.has_decode else [])
    shared = [build_trace(model, phase, 2, context, compress_loops=True) for phase, context in runs]
    layer_by_layer(monkeypatch)
    for frame, (phase, context) in zip(shared, runs):
        pd.testing.assert_frame_equal(frame, build_trace(model, phase, 2, context, compress_loops=True))


def test_mixed_precision_layers_are_shapes_of_their_own(load_model, monkeypatch):
    """q4_k_m keeps attn_v and mlp_down of some layers at 6 bits: those layers differ in bytes,
    so they cannot share rows with the 4-bit ones, and the trace still matches."""
    model = configure_model(load_model("llama-3.2-1b"), quant="q4_k_m")
    built = []
    monkeypatch.setattr(transformer._Builder, "layer_rows",
                        lambda self, block, layer, *a, _rows=transformer._Builder.layer_rows:
                        built.append(layer) or _rows(self, block, layer, *a))
    shared = build_trace(model, "decode", 1, 4)
    assert 1 < len(set(built)) < sum(b.num_layers for b in model.blocks)   # 6-bit layers apart
    layer_by_layer(monkeypatch)
    pd.testing.assert_frame_equal(shared, build_trace(model, "decode", 1, 4))


@pytest.mark.parametrize("name", PRESETS)
def test_merged_layers_keep_every_sum_and_the_distinct_weights(load_model, name):
    """build_sum_columns writes a shape's layers once with their count as repeat: every repeat-
    weighted sum, the largest op and the distinct weight bytes are the full trace's."""
    model = load_model(name)
    runs = [("prefill", 6, {})] + ([("decode", 9, dict(token_step=1, num_steps=3))] if model.has_decode else [])
    for phase, context, steps in runs:
        full = build_columns(model, phase, 2, context, compress_loops=True, **steps)
        merged, weight_bytes = build_sum_columns(model, phase, 2, context, **steps)
        assert len(merged[T.FLOPS]) <= len(full[T.FLOPS])
        for column in (T.FLOPS, T.WEIGHT_BYTES, T.ACT_IN_BYTES, T.ACT_OUT_BYTES, T.KV_READ_BYTES, T.KV_WRITE_BYTES):
            assert merged[column] @ merged[T.REPEAT] == pytest.approx(full[column] @ full[T.REPEAT], rel=1e-12)
            assert merged[column].max() == full[column].max()
        assert merged[T.REPEAT].sum() == full[T.REPEAT].sum()
        assert weight_bytes() == pytest.approx(columns_demand(full).unique_weight_bytes, rel=1e-12)


def test_a_merged_llama_decode_is_one_layer_long(load_model):
    merged, weight_bytes = build_sum_columns(load_model("llama-3.2-1b"), "decode", 1, 4)
    full = build_columns(load_model("llama-3.2-1b"), "decode", 1, 4)
    layer_rows = (full[T.LAYER] == 0).sum()
    assert len(merged[T.FLOPS]) == len(full[T.FLOPS]) - 15 * layer_rows      # 16 alike layers, one written
    assert weight_bytes() == unique_weight_bytes(load_model("llama-3.2-1b"))   # every tensor (tied head: the table)


LOOPED = dict(begin_layers=1, middle_layers=2, end_layers=1, loops=3, hidden_size=256, num_heads=4, vocab_size=1000)


@pytest.mark.parametrize("name", ["llama-3.2-1b", "huginn-0125", "ouro-1.4b", "olmoe-1b-7b", "gemma-3-1b",
                                  "sliding_window", "first_loop_window", "linear"])
def test_a_decode_built_at_several_contexts_is_each_context_built_alone(load_model, name):
    """Only the layers' rows are made again at each further context: every column is exact."""
    from hwsim.scaling import parametric
    from hwsim.scaling.parametric import ParametricSpec

    variants = {"sliding_window": dict(attention="sliding_window", window=64),
                "first_loop_window": dict(kv_policy="first_loop_window", kv_window=32), "linear": dict(attention="linear")}
    model = (parametric.build(ParametricSpec(**LOOPED, **variants[name]), "t", "test") if name in variants
             else load_model(name))
    contexts = (0, 1, 700)
    together, weight_bytes = build_decode_sum_columns(model, 3, contexts, token_step=2, num_steps=5)
    for i, context in enumerate(contexts):
        alone, alone_bytes = build_sum_columns(model, "decode", 3, context, token_step=2, num_steps=5)
        assert together.keys() == alone.keys()
        rows = slice(i * len(alone[T.OP_ID]), (i + 1) * len(alone[T.OP_ID]))   # stacked: each context in turn
        for column in alone:
            assert together[column].dtype == alone[column].dtype
            assert together[column][rows].tolist() == alone[column].tolist(), column
        assert len(together[T.OP_ID]) == len(contexts) * len(alone[T.OP_ID])
        assert weight_bytes() == alone_bytes()
