"""Hugging Face config.json -> ModelSpec: each supported architecture resolves to the same
spec (and so the same figures) as its hand-written preset; bad configs give one-line errors.

The configs are written with the key names of the released config.json files and the values of
the released configs (norm eps and RoPE base included); keys
hwsim does not read (rope scaling, dtype, activation) are kept so the test also shows they are
ignored.
"""

import json

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwsim.cli import main
from hwsim.errors import ConfigError
from hwsim.spec import loader
from hwsim.spec.derived import model_figures

_UNREAD = {"torch_dtype": "bfloat16", "hidden_act": "silu"}


def _extras(eps, theta):
    return {"rms_norm_eps": eps, "rope_theta": theta, **_UNREAD}


HF_CONFIGS = {
    "llama-3.2-1b": {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048,
        "intermediate_size": 8192, "num_hidden_layers": 16, "num_attention_heads": 32,
        "num_key_value_heads": 8, "head_dim": 64, "vocab_size": 128256, "tie_word_embeddings": True,
        "max_position_embeddings": 131072, "attention_bias": False, "mlp_bias": False,
        "rope_scaling": {"factor": 32.0, "rope_type": "llama3"}, **_extras(1e-05, 500000.0),
    },
    # No num_key_value_heads / head_dim: the class defaults (MHA, hidden / heads) apply.
    "llama-2-7b": {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
        "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
        "vocab_size": 32000, "tie_word_embeddings": False, "max_position_embeddings": 4096,
        **_extras(1e-05, 10000.0),
    },
    "qwen2.5-1.5b": {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 1536,
        "intermediate_size": 8960, "num_hidden_layers": 28, "num_attention_heads": 12,
        "num_key_value_heads": 2, "vocab_size": 151936, "tie_word_embeddings": True,
        "max_position_embeddings": 131072, "use_sliding_window": False, **_extras(1e-06, 1000000.0),
    },
    "qwen3-1.7b": {
        "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": 2048,
        "intermediate_size": 6144, "num_hidden_layers": 28, "num_attention_heads": 16,
        "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936, "tie_word_embeddings": True,
        "max_position_embeddings": 40960, "attention_bias": False, **_extras(1e-06, 1000000.0),
    },
    "mixtral-8x7b": {
        "architectures": ["MixtralForCausalLM"], "model_type": "mixtral", "hidden_size": 4096,
        "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
        "num_key_value_heads": 8, "vocab_size": 32000, "tie_word_embeddings": False,
        "max_position_embeddings": 32768, "num_local_experts": 8, "num_experts_per_tok": 2,
        "router_aux_loss_coef": 0.02, **_extras(1e-05, 1000000.0),
    },
    "olmoe-1b-7b": {
        "architectures": ["OlmoeForCausalLM"], "model_type": "olmoe", "hidden_size": 2048,
        "intermediate_size": 1024, "num_hidden_layers": 16, "num_attention_heads": 16,
        "num_key_value_heads": 16, "vocab_size": 50304, "tie_word_embeddings": False,
        "max_position_embeddings": 4096, "num_experts": 64, "num_experts_per_tok": 8,
        "norm_topk_prob": False, "clip_qkv": None, **_extras(1e-05, 10000.0),
    },
    "qwen1.5-moe-a2.7b": {
        "architectures": ["Qwen2MoeForCausalLM"], "model_type": "qwen2_moe", "hidden_size": 2048,
        "intermediate_size": 5632, "moe_intermediate_size": 1408, "shared_expert_intermediate_size": 5632,
        "num_experts": 60, "num_experts_per_tok": 4, "num_hidden_layers": 24, "num_attention_heads": 16,
        "num_key_value_heads": 16, "vocab_size": 151936, "tie_word_embeddings": False,
        "max_position_embeddings": 8192, "decoder_sparse_step": 1, "mlp_only_layers": [],
        "norm_topk_prob": False, **_extras(1e-06, 1000000.0),
    },
    "qwen3-30b-a3b": {
        "architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe", "hidden_size": 2048,
        "intermediate_size": 6144, "moe_intermediate_size": 768, "num_experts": 128,
        "num_experts_per_tok": 8, "num_hidden_layers": 48, "num_attention_heads": 32,
        "num_key_value_heads": 4, "head_dim": 128, "vocab_size": 151936, "tie_word_embeddings": False,
        "max_position_embeddings": 40960, "decoder_sparse_step": 1, "mlp_only_layers": [],
        "norm_topk_prob": True, **_extras(1e-06, 1000000.0),
    },
    # The released gpt2 config.json: n_inner absent (4 * n_embd), tied head by class default.
    "gpt2": {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "activation_function": "gelu_new",
        "n_ctx": 1024, "n_embd": 768, "n_head": 12, "n_layer": 12, "n_positions": 1024,
        "vocab_size": 50257, "layer_norm_epsilon": 1e-5,
    },
    # albert-base-v2 config.json
    "albert-base": {
        "architectures": ["AlbertForMaskedLM"], "model_type": "albert", "embedding_size": 128,
        "hidden_act": "gelu_new", "hidden_size": 768, "inner_group_num": 1, "intermediate_size": 3072,
        "layer_norm_eps": 1e-12, "max_position_embeddings": 512, "num_attention_heads": 12,
        "num_hidden_groups": 1, "num_hidden_layers": 12, "type_vocab_size": 2, "vocab_size": 30000,
    },
}

# Mistral-7B (paper arXiv 2310.06825, table 1: dim 4096, 32 layers, 32 heads, 8 KV heads,
# head_dim 128, hidden_dim 14336, vocab 32000; untied). By hand:
# 2 * 32000 * 4096 + 32 * (2 * 4096^2 + 2 * 4096 * 1024 + 3 * 4096 * 14336 + 2 * 4096) + 4096
MISTRAL_7B = {
    "architectures": ["MistralForCausalLM"], "model_type": "mistral", "hidden_size": 4096,
    "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
    "num_key_value_heads": 8, "head_dim": None, "vocab_size": 32000, "tie_word_embeddings": False,
    "max_position_embeddings": 32768, "sliding_window": 4096, **_extras(1e-5, 1000000.0),
}
MISTRAL_7B_PARAMS = 7_241_732_096


def write_config(tmp_path, config, name="config.json"):
    path = tmp_path / name
    path.write_text(json.dumps(config))
    return path


@pytest.mark.parametrize("preset", sorted(HF_CONFIGS))
def test_config_json_resolves_to_the_preset(tmp_path, load_model, preset):
    from_hf = loader.load_model(str(write_config(tmp_path, HF_CONFIGS[preset])))
    expected = load_model(preset)
    ignore = {"name", "source", "notes"}
    assert from_hf.model_dump(exclude=ignore) == expected.model_dump(exclude=ignore)
    assert model_figures(from_hf) == model_figures(expected)


def test_mistral_config_counts_mistral_7b(tmp_path):
    model = loader.load_model(str(write_config(tmp_path, MISTRAL_7B)))
    assert model.attention.head_dim == 128 and not model.attention.qkv_bias
    assert model_figures(model)["params_unique"] == MISTRAL_7B_PARAMS


def test_eps_rope_base_and_top_k_normalisation_are_read(tmp_path):
    config = {**HF_CONFIGS["olmoe-1b-7b"], "rms_norm_eps": 3e-6, "rope_theta": 25000, "norm_topk_prob": True}
    model = loader.load_model(str(write_config(tmp_path, config)))
    assert (model.norm_eps, model.rope_theta, model.moe.normalize_top_k) == (3e-6, 25000.0, True)


def test_newer_configs_nest_the_rope_base(tmp_path):
    config = {k: v for k, v in HF_CONFIGS["qwen3-1.7b"].items() if k != "rope_theta"}
    config["rope_parameters"] = {"rope_theta": 1000000.0, "rope_type": "default"}
    assert loader.load_model(str(write_config(tmp_path, config))).rope_theta == 1e6
    config["rope_parameters"] = {"rope_theta": "big"}
    assert "rope_parameters.rope_theta: expected a positive number" in _error(tmp_path, config)


@pytest.mark.parametrize("model_type,absent,expected", [
    # HF configuration class defaults (transformers LlamaConfig, MixtralConfig, OlmoeConfig,
    # Qwen2MoeConfig, GPT2Config, AlbertConfig).
    ("llama-2-7b", ("rms_norm_eps", "rope_theta"), (1e-6, 10000.0, None)),
    ("mixtral-8x7b", ("rms_norm_eps", "rope_theta"), (1e-5, 1e6, True)),
    ("olmoe-1b-7b", ("rms_norm_eps", "norm_topk_prob"), (1e-5, 10000.0, False)),
    ("qwen1.5-moe-a2.7b", ("rms_norm_eps", "rope_theta", "norm_topk_prob"), (1e-6, 10000.0, False)),
    ("gpt2", ("layer_norm_epsilon",), (1e-5, 10000.0, None)),
    ("albert-base", ("layer_norm_eps",), (1e-12, 10000.0, None)),
])
def test_absent_eps_and_rope_base_take_class_defaults(tmp_path, model_type, absent, expected):
    config = {k: v for k, v in HF_CONFIGS[model_type].items() if k not in absent}
    model = loader.load_model(str(write_config(tmp_path, config)))
    assert (model.norm_eps, model.rope_theta, model.moe.normalize_top_k if model.moe else None) == expected


def test_albert_is_post_norm(tmp_path):
    model = loader.load_model(str(write_config(tmp_path, HF_CONFIGS["albert-base"])))
    assert model.norm_placement == "post_residual"


def test_architectures_stand_in_for_a_missing_model_type(tmp_path):
    config = {k: v for k, v in HF_CONFIGS["gpt2"].items() if k != "model_type"}
    model = loader.load_model(str(write_config(tmp_path, config)))
    assert model_figures(model)["params_unique"] == 124_439_808


def test_albert_inner_group_is_one_block_applied_per_layer(tmp_path):
    config = {**HF_CONFIGS["albert-base"], "inner_group_num": 2, "num_hidden_layers": 6}
    model = loader.load_model(str(write_config(tmp_path, config)))
    assert model_figures(model)["layer_applications_per_token"] == 12
    assert model_figures(model)["physical_layers"] == 2


def test_name_comes_from_name_or_path(tmp_path):
    config = {**HF_CONFIGS["qwen3-1.7b"], "_name_or_path": "Qwen/Qwen3-1.7B"}
    assert loader.load_model(str(write_config(tmp_path, config))).name == "Qwen/Qwen3-1.7B"


def test_show_prints_a_config_json(tmp_path):
    path = write_config(tmp_path, HF_CONFIGS["llama-3.2-1b"])
    result = CliRunner().invoke(main, ["show", str(path)])
    assert result.exit_code == 0, result.output
    assert "1,235,814,400" in result.output
    assert "32,768 B" in result.output  # KV bytes per token at bf16


def _error(tmp_path, config) -> str:
    path = write_config(tmp_path, config)
    with pytest.raises(ConfigError) as info:
        loader.load_model(str(path))
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_unsupported_model_type_names_file_and_field(tmp_path):
    message = _error(tmp_path, {**HF_CONFIGS["llama-3.2-1b"], "model_type": "bert"})
    assert "model_type: unsupported architecture 'bert'" in message and "llama" in message


def test_missing_model_type_and_unknown_architecture(tmp_path):
    config = {k: v for k, v in HF_CONFIGS["llama-3.2-1b"].items() if k != "model_type"}
    message = _error(tmp_path, {**config, "architectures": ["BertForMaskedLM"]})
    assert "model_type: required field is missing" in message


def test_missing_field_names_it(tmp_path):
    config = {k: v for k, v in HF_CONFIGS["mixtral-8x7b"].items() if k != "num_local_experts"}
    assert "num_local_experts: required field is missing" in _error(tmp_path, config)


def test_every_problem_is_reported_at_once(tmp_path):
    config = {k: v for k, v in HF_CONFIGS["gpt2"].items() if k not in ("n_embd", "n_layer")}
    message = _error(tmp_path, {**config, "vocab_size": "50257"})
    assert "3 problems" in message
    assert "n_embd: required field is missing" in message and "n_layer: required field is missing" in message
    assert "vocab_size: expected a positive integer, got '50257'" in message


@pytest.mark.parametrize("change,field", [
    ({"num_key_value_heads": 5}, "num_key_value_heads"),
    ({"num_attention_heads": 0}, "num_attention_heads"),
    ({"tie_word_embeddings": "yes"}, "tie_word_embeddings"),
    ({"mlp_only_layers": [0, 1]}, "mlp_only_layers"),
    ({"decoder_sparse_step": 2}, "decoder_sparse_step"),
    ({"rms_norm_eps": 0}, "rms_norm_eps"),
    ({"rope_theta": "1e6"}, "rope_theta"),
    ({"norm_topk_prob": 1}, "norm_topk_prob"),
])
def test_bad_values_name_the_field(tmp_path, change, field):
    assert f"{field}:" in _error(tmp_path, {**HF_CONFIGS["qwen1.5-moe-a2.7b"], **change})


def test_albert_layer_groups_are_rejected(tmp_path):
    assert "num_hidden_groups:" in _error(tmp_path, {**HF_CONFIGS["albert-base"], "num_hidden_groups": 2})


def test_cli_error_is_one_line_with_exit_code_2(tmp_path):
    path = write_config(tmp_path, {**HF_CONFIGS["gpt2"], "model_type": "t5"})
    result = CliRunner().invoke(main, ["show", str(path)])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "model_type" in result.stderr


_values = st.one_of(st.none(), st.booleans(), st.integers(-3, 5000), st.floats(allow_nan=False),
                    st.text(max_size=5), st.lists(st.integers(-2, 3), max_size=3))
_keys = st.sampled_from(sorted({k for c in HF_CONFIGS.values() for k in c} | {"model_type"}))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(base=st.sampled_from(sorted(HF_CONFIGS)), changes=st.dictionaries(_keys, _values, max_size=4))
def test_mangled_configs_fail_only_with_config_errors(tmp_path, base, changes):
    path = write_config(tmp_path, {**HF_CONFIGS[base], **changes})
    try:
        loader.load_model(str(path))
    except ConfigError as exc:
        assert "\n" not in str(exc)
