import pytest

from hwsim.reference.scale import scale_model

# One preset per family and feature: GQA decoder, looped stack, recurrent depth, MoE (top-k;
# shared experts with a gate), TRM and HRM nested recursion, ALBERT (shared encoder layer,
# factorised + learned + token-type embeddings, LayerNorm, GELU, biases), GPT-2.
PRESETS = ["llama-3.2-1b", "ouro-1.4b", "huginn-0125", "olmoe-1b-7b", "qwen1.5-moe-a2.7b", "trm", "hrm",
           "albert-base", "gpt2"]


@pytest.fixture(scope="session")
def tiny(load_model):
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = scale_model(load_model(name), "tiny")
        return cache[name]

    return get
