"""The published configs in workloads/hf map (hwsim/spec/hf.py) to exactly their presets, and
HRM-Text-1B's schedule, parameters and output gate cost equal hand-computed figures.
No torch needed."""

import json

import pytest

from hwsim.capture.compare import HF_CONFIGS_DIR, presets_with_config
from hwsim.errors import ConfigError
from hwsim.spec.hf import model_dict_from_hf_config
from hwsim.spec.loader import load_model
from hwsim.workload import trace as T
from hwsim.workload.schedule import layer_applications
from hwsim.workload.transformer import build_trace
from hwsim.workload.weights import kv_cache_slots_per_token, weight_table

ARCHITECTURE_ONLY = {"name", "source", "notes"}


def config(name):
    return json.loads((HF_CONFIGS_DIR / f"{name}.json").read_text())


def test_configs_cover_the_transformers_presets():
    assert {"llama-3.2-1b", "llama-3-8b", "qwen3-0.6b", "qwen3-30b-a3b", "olmoe-1b-7b", "mixtral-8x7b",
            "gemma-2-2b", "gemma-3-1b", "gpt2", "albert-base", "hrm-text-1b"} <= set(presets_with_config())


@pytest.mark.parametrize("path", sorted(HF_CONFIGS_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_every_published_config_maps(path):
    assert load_model(str(path)).attention.causal == (path.stem != "albert-base")


@pytest.mark.parametrize("name", presets_with_config())
def test_published_config_maps_to_the_preset(name):
    preset = load_model(name)
    mapped = load_model(str(HF_CONFIGS_DIR / f"{name}.json"))
    assert mapped.model_dump(exclude=ARCHITECTURE_ONLY) == preset.model_dump(exclude=ARCHITECTURE_ONLY)


def test_hrm_text_first_construction_config_equals_serialised():
    serialised = config("hrm-text-1b")
    first = {k: v for k, v in serialised.items() if k != "num_layers_per_stack"} | {"num_hidden_layers": 16}
    a = model_dict_from_hf_config(serialised, "a.json")
    b = model_dict_from_hf_config(first, "b.json")
    assert {k: v for k, v in a.items() if k not in ("source", "name")} == \
        {k: v for k, v in b.items() if k not in ("source", "name")}


def test_hrm_text_schedule_and_parameters_by_hand():
    model = load_model("hrm-text-1b")
    # 16 layers per stack; per H cycle 3 L applications and 1 H application of 16 layers; 2 H cycles.
    assert layer_applications(model) == 16 * 2 * (3 + 1) == 128
    assert kv_cache_slots_per_token(model) == 128            # the HF cache's inflated num_hidden_layers
    h, ff, vocab = 1536, 4096, 151808
    per_layer = 5 * h * h + 3 * h * ff                        # q, k, v, gate, o; gate, up, down
    assert weight_table(model).num_params == 32 * per_layer + 2 * vocab * h == 1_447_821_312


def test_output_gate_rows_by_hand():
    model = load_model("hrm-text-1b")
    frame = build_trace(model, "decode", 1, 10)
    gate = frame[frame[T.NAME] == "attn_gate"]
    assert len(gate) == 128
    assert gate[T.FLOPS].sum() == 128 * 2 * 1536 * 1536
    assert set(gate[T.WEIGHT_BYTES]) == {1536 * 1536 * 2.0}   # bf16, no bias
    assert gate[T.WEIGHT_ID].nunique() == 32                  # one gate per physical layer
    mul = frame[frame[T.NAME] == "attn_gate_mul"]
    assert mul[T.FLOPS].sum() == 128 * 4 * 1536


def test_gemma_config_missing_field_is_one_clean_error():
    broken = {k: v for k, v in config("gemma-2-2b").items() if k != "num_hidden_layers"}
    with pytest.raises(ConfigError, match="g.json: num_hidden_layers: required field is missing"):
        model_dict_from_hf_config(broken, "g.json")


def test_without_the_extra_capture_is_one_clean_error(monkeypatch):
    import sys

    from click.testing import CliRunner

    from hwsim.cli import main

    monkeypatch.setitem(sys.modules, "torch", None)      # import torch now raises ImportError
    result = CliRunner().invoke(main, ["validate", "capture", "--model", "gpt2"])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "capture extra" in result.output
