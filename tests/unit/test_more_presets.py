"""The presets added for the measured-row validation: parameter counts against the sizes the
model publishers state, and KV bytes per token against 2 (K, V) x layers x KV heads x head_dim
x 2 bytes (bf16)."""

import pytest

from hwsim.spec.derived import model_figures

# preset: (published parameter count, layers, KV heads, head_dim); sizes from the model cards /
# HF configs as cited in each preset's `source:`.
PUBLISHED = {
    "llama-3-70b": (70.55e9, 80, 8, 128),
    "qwen2.5-7b": (7.62e9, 28, 4, 128),
    "qwen2.5-3b": (3.09e9, 36, 2, 128),
    "qwen3-0.6b": (0.596e9, 28, 8, 128),
    "qwen3-4b": (4.02e9, 36, 8, 128),
    "gemma-2-2b": (2.61e9, 26, 4, 256),
    "gemma-2-9b": (9.24e9, 42, 8, 256),
    "gemma-3-1b": (1.0e9, 26, 1, 256),
    "phi-3.5-mini": (3.82e9, 32, 32, 96),
    "llama-2-13b": (13.0e9, 40, 40, 128),
    "deepseek-r1-distill-qwen-14b": (14.77e9, 48, 8, 128),
    "qwen3-8b": (8.19e9, 36, 8, 128),
    # text stack only: Google's 4.3B count includes the ~0.4B SigLIP vision encoder
    "gemma-3-4b": (3.88e9, 34, 4, 256),
    # sizes as the Hugging Face model pages give them (494M, 1.1B, 7.25B parameters)
    "qwen2-0.5b": (0.494e9, 24, 2, 64),
    "tinyllama-1.1b": (1.10e9, 22, 4, 64),
    "mistral-7b-v0.3": (7.25e9, 32, 8, 128),
    # added with the wave-2 measured rows (QNN, RKLLM, ExLlama, llama.cpp): sizes as the Hugging
    # Face model pages or papers give them (Falcon3 7.46B, Granite 3.1 8.17B, ChatGLM3 6.24B,
    # LLaMA 32.5B (arXiv 2302.13971 Table 2), OpenLLaMA 3.43B, CodeLlama 33.7B, Llama 2 69.0B)
    "falcon3-7b": (7.46e9, 28, 4, 256),
    "granite-3.1-8b": (8.17e9, 40, 8, 128),
    "chatglm3-6b": (6.24e9, 28, 2, 128),
    "llama-30b": (32.5e9, 60, 52, 128),
    "open-llama-3b": (3.43e9, 26, 32, 100),
    "codellama-34b": (33.7e9, 48, 8, 128),
    "llama-2-70b": (69.0e9, 80, 8, 128),
    # added with the TinyChat Orin row and the TensorRT-LLM L40S rows: MosaicML's model card
    # gives 6.7B, EleutherAI's GPT-J README 6,053,381,344
    "mpt-7b": (6.7e9, 32, 32, 128),
    "gpt-j-6b": (6.053e9, 28, 16, 256),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_preset_loads_with_a_config_source(load_model, name):
    model = load_model(name)
    assert model.family == "decoder" and model.has_decode
    assert "config.json" in model.source


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_parameters_match_the_published_size(load_model, name):
    published = PUBLISHED[name][0]
    assert model_figures(load_model(name))["params_unique"] == pytest.approx(published, rel=0.01)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_kv_bytes_per_token_bf16(load_model, name):
    _, layers, kv_heads, head_dim = PUBLISHED[name]
    assert model_figures(load_model(name))["kv_bytes_per_token"] == 2 * layers * kv_heads * head_dim * 2


def test_llama_2_13b_parameters_by_hand(load_model):
    # 2 * 32000 * 5120 (embedding, untied head) + 40 * (4 * 5120^2 + 3 * 5120 * 13824 + 2 * 5120)
    #   + 5120 (final norm) = 13,015,864,320
    assert model_figures(load_model("llama-2-13b"))["params_unique"] == 13_015_864_320


def test_chatglm3_6b_parameters_by_hand(load_model):
    """Multi-query attention in 2 groups with a bias on the fused q/k/v projection, untied head."""
    h, inter, vocab, layers, kv = 4096, 13696, 65024, 28, 2 * 128
    attention = h * h + 2 * h * kv + (h + 2 * kv) + h * h
    per_layer = attention + 3 * h * inter + 2 * h
    assert model_figures(load_model("chatglm3-6b"))["params_unique"] == 2 * vocab * h + layers * per_layer + h


def test_gemma_2_2b_parameters_by_hand(load_model):
    """Tied 256k embedding, four norms per layer, GQA with head_dim 256 wider than hidden / heads."""
    h, inter, vocab, layers = 2304, 9216, 256_000, 26
    attention = h * 8 * 256 + 2 * h * 4 * 256 + 8 * 256 * h
    per_layer = attention + 3 * h * inter + 4 * h
    assert model_figures(load_model("gemma-2-2b"))["params_unique"] == vocab * h + layers * per_layer + h


@pytest.mark.parametrize("name,hidden", [("gemma-2-2b", 2304), ("gemma-2-9b", 3584), ("gemma-3-1b", 1152),
                                                ("gemma-3-4b", 2560)])
def test_gemma_scales_embeddings_and_wraps_both_branches_in_norms(load_model, name, hidden):
    model = load_model(name)
    assert model.embedding_scale == pytest.approx(hidden ** 0.5, rel=1e-12)
    assert (model.norms_per_layer, model.norm_placement) == (4, "sandwich")
