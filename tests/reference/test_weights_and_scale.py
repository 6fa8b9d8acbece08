"""Scaled specs keep their structure; weights are one array per weight_id; quantisation is
within half a step of the float weights; safetensors files round-trip."""

import numpy as np
import pytest

from hwsim.errors import ConfigError
from hwsim.reference.executor import ReferenceExecutor
from hwsim.reference.weights import ReferenceWeights, load_safetensors, random_arrays, save_safetensors, store
from hwsim.spec.quant import FORMATS
from hwsim.spec.variants import configure_model
from hwsim.workload.schedule import expand
from hwsim.workload.weights import weight_table

from .conftest import PRESETS


@pytest.mark.parametrize("name", PRESETS)
def test_scaled_model_keeps_structure(load_model, tiny, name):
    full, small = load_model(name), tiny(name)
    assert small.hidden_size == 64
    assert small.family == full.family and small.schedule == full.schedule
    assert [b.name for b in small.blocks] == [b.name for b in full.blocks]
    assert (small.attention.num_heads > small.attention.num_kv_heads) == (
        full.attention.num_heads > full.attention.num_kv_heads)
    assert small.tied_embeddings == full.tied_embeddings and small.quant == full.quant
    assert {s.kind for s in expand(small, 2)} == {s.kind for s in expand(full, 2)}


def test_unknown_scale_is_a_config_error(load_model):
    from hwsim.reference.scale import scale_model

    with pytest.raises(ConfigError, match="scale: unknown 'huge'"):
        scale_model(load_model("llama-3.2-1b"), "huge")


@pytest.mark.parametrize("name", PRESETS)
def test_one_array_per_weight_id_with_table_sizes(tiny, name):
    model = tiny(name)
    weights = ReferenceWeights(model, random_arrays(model))
    table = weight_table(model)
    assert set(weights.params) == {t.weight_id for t in table.tensors}
    for tensor in table.tensors:
        assert weights[tensor.weight_id].num_elements == tensor.num_elements


def test_loop_iterations_multiply_by_the_same_array(tiny, monkeypatch):
    """Ouro's stack runs 3 times; every iteration's q projection reads the one stored array."""
    from hwsim.reference.weights import StoredTensor

    model = tiny("ouro-1.4b")
    executor = ReferenceExecutor(model)
    seen = []
    real_values = StoredTensor.values
    monkeypatch.setattr(StoredTensor, "values", lambda self: (seen.append(id(self.codes)), real_values(self))[1])
    executor.prefill(np.arange(4)[None])
    assert seen.count(id(executor.weights["core.L0.q"].weight.codes)) == model.loop.count == 3


@pytest.mark.parametrize("fmt", ["int8", "int4-g128", "q4_0", "q4_1", "q8_0"])
def test_integer_formats_round_within_half_a_step(fmt):
    weight = np.random.default_rng(1).standard_normal((256, 24)).astype(np.float32)
    stored = store(weight, FORMATS[fmt])
    group = FORMATS[fmt].group_size or 256
    step = np.repeat(stored.scales, group, axis=0)
    assert np.all(np.abs(stored.values() - weight) <= step / 2 + 1e-6)
    levels = 2 ** int(FORMATS[fmt].bits)
    assert stored.codes.dtype in (np.int8, np.uint8)
    assert np.unique(stored.codes).size <= levels


def test_bf16_storage_rounds_to_bfloat16():
    from hwsim.reference.weights import round_bf16

    values = np.array([1.0, 1.0 + 2**-8, 1.0 + 3 * 2**-8, 3.14159], np.float32)
    rounded = round_bf16(values)
    assert rounded[0] == 1.0 and rounded[1] == 1.0          # tie to even
    assert rounded[2] == np.float32(1.0 + 2**-6)            # 1 + 3/256 rounds up to 1 + 4/256
    assert np.all(rounded.view(np.uint32) & 0xFFFF == 0)


def test_safetensors_round_trip_gives_identical_logits(tiny, tmp_path):
    model = configure_model(tiny("llama-3.2-1b"), quant="int4-g128")
    arrays = random_arrays(model, seed=3)
    path = tmp_path / "tiny.safetensors"
    save_safetensors(arrays, path)
    tokens = np.arange(5)[None]
    a = ReferenceExecutor(model, ReferenceWeights(model, arrays)).prefill(tokens)
    b = ReferenceExecutor(model, load_safetensors(model, path)).prefill(tokens)
    assert np.array_equal(a, b)


def test_missing_or_misshapen_tensor_is_a_config_error(tiny, tmp_path):
    model = tiny("llama-3.2-1b")
    arrays = random_arrays(model)
    arrays.pop("stack.L0.q")
    with pytest.raises(ConfigError, match="stack.L0.q.*missing"):
        ReferenceWeights(model, arrays)
    arrays = random_arrays(model)
    arrays["stack.L0.k"] = arrays["stack.L0.k"].T.copy()
    with pytest.raises(ConfigError, match="has shape"):
        ReferenceWeights(model, arrays)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(ConfigError, match="cannot read safetensors"):
        load_safetensors(model, bad)
