"""weights.weight_sizes looks bits up once per (kind, role) where the recipe has no per-layer
rule: every tensor must still get the bits and bytes WeightTensor.bits gives it alone."""

import pytest

from hwsim.spec.quant import QUANT_PRESETS
from hwsim.spec.variants import configure_model
from hwsim.workload.weights import weight_sizes, weight_table


@pytest.mark.parametrize("quant", sorted(QUANT_PRESETS))
def test_weight_sizes_are_each_tensors_own(load_model, quant):
    model = configure_model(load_model("llama-3.2-1b"), quant=quant)
    sizes = weight_sizes(model)
    expected = {t.weight_id: (t.bytes(model), t.bits(model)) for t in weight_table(model).tensors}
    assert sizes == expected
    if QUANT_PRESETS[quant].more_bits_format:     # the per-layer rule gives some layers more bits
        assert len({bits for wid, (_, bits) in sizes.items() if wid.endswith(".v")}) == 2


@pytest.mark.parametrize("name", ["llama-3.2-1b", "olmoe-1b-7b", "huginn-0125", "albert-base"])
def test_layer_spans_point_at_their_layers_tensors(load_model, name):
    """The layers' tensors are made from the template on first use: each span's run of the
    table is exactly its layer's tensors, every id once, sizes in table order."""
    model = load_model(name)
    table = weight_table(model)
    for span in table.layers:
        assert [t.layer for t in table.tensors[span.start:span.end]] == [span.layer] * (span.end - span.start)
        assert all(t.weight_id.startswith(span.prefix) for t in table.tensors[span.start:span.end])
    assert len(table.by_id()) == len(table.tensors)
    assert list(weight_sizes(model)) == [t.weight_id for t in table.tensors]
