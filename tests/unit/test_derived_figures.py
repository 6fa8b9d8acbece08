"""Derived figures of the presets against figures computed by hand from the released configs."""

import pytest

from hwsim.spec.derived import model_figures

PARAMS = {
    "ouro-1.4b": 1_434_652_673,
    "huginn-0125": 3_564_976_800,
    "llama-3.2-1b": 1_235_814_400,
    "olmoe-1b-7b": 6_919_161_856,
    "trm": 6_829_058,
}


@pytest.mark.parametrize("name,expected", PARAMS.items())
def test_unique_parameter_count(load_model, name, expected):
    assert model_figures(load_model(name))["params_unique"] == pytest.approx(expected, rel=0.005)


def test_olmoe_active_parameters(load_model):
    assert model_figures(load_model("olmoe-1b-7b"))["params_active"] == pytest.approx(1.282017280e9, rel=0.005)


@pytest.mark.parametrize("name,expected", [("ouro-1.4b", 786_432), ("llama-3.2-1b", 32_768)])
def test_kv_bytes_per_token_bf16(load_model, name, expected):
    assert model_figures(load_model(name))["kv_bytes_per_token"] == expected


@pytest.mark.parametrize("name,loops,expected", [("ouro-1.4b", 4, 96), ("huginn-0125", 32, 132),
                                                 ("huginn-0125", 4, 20), ("trm", 16, 672)])
def test_layer_applications(load_model, name, loops, expected):
    assert model_figures(load_model(name), loops)["layer_applications_per_token"] == expected
