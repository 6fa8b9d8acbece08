"""Every model preset against figures computed by hand from the released configs (parameters, KV bytes per token at bf16, matmul FLOPs per token, layer applications)."""

import pytest
from click.testing import CliRunner

from hwsim.cli import main
from hwsim.spec import loader
from hwsim.spec.derived import model_figures
from tests.unit.test_more_presets import PUBLISHED

# preset: (unique params, active params per token); active = unique for dense models.
PARAMS = {
    "ouro-1.4b": (1_434_652_673, None),
    "ouro-2.6b": (2_667_974_657, None),
    "huginn-0125": (3_564_976_800, None),
    "trm": (6_829_058, None),
    "hrm": (27_276_290, None),
    "albert-base": (11_683_584, None),
    # Llama-2-7B by hand: 2 * 32000 * 4096 (embedding, untied head)
    #   + 32 * (4 * 4096^2 + 3 * 4096 * 11008 + 2 * 4096) + 4096 = 6,738,415,616
    "llama-2-7b": (6_738_415_616, None),
    "llama-3.2-1b": (1_235_814_400, None),
    "llama-3.2-3b": (3_212_749_824, None),
    "llama-3.1-8b": (8_030_261_248, None),
    "llama-3-8b": (8_030_261_248, None),
    "qwen2.5-1.5b": (1_543_714_304, None),
    "qwen3-1.7b": (1_720_574_976, None),
    "smollm2-1.7b": (1_711_376_384, None),
    "gpt2": (124_439_808, None),
    "olmoe-1b-7b": (6.92e9, 1.28e9),
    "mixtral-8x7b": (46_702_792_704, 12_879_925_248),
    "qwen1.5-moe-a2.7b": (14_315_784_192, 2_689_173_504),
    "qwen3-30b-a3b": (30_532_122_624, 3_353_032_704),
    # HRM-Text-1B by hand: 2 * 151808 * 1536 (embedding, untied head)
    #   + 32 * (5 * 1536^2 + 3 * 1536 * 4096) (q, k, v, output gate, o; SwiGLU; norms weightless)
    "hrm-text-1b": (1_447_821_312, None),
    # Falcon-7B by hand (multi-query: q plus one 64-wide k and v; no biases; one LayerNorm with
    # bias per layer; output layer tied): 65024 * 4544 + 32 * (4544 * 73 * 64 + 4544^2
    #   + 2 * 4544 * 18176 + 2 * 4544) + 2 * 4544 = 6,921,720,704
    "falcon-7b": (6_921_720_704, None),
}

KV_BYTES_PER_TOKEN_BF16 = {
    "ouro-1.4b": 786_432, "ouro-2.6b": 1_572_864, "huginn-0125": 2_787_840,
    "llama-2-7b": 524_288,  # by hand: 32 layers * 2 (K, V) * 32 heads * 128 * 2 bytes
    "llama-3.2-1b": 32_768, "llama-3.2-3b": 114_688, "llama-3.1-8b": 131_072, "llama-3-8b": 131_072,
    "qwen2.5-1.5b": 28_672, "qwen3-1.7b": 114_688, "smollm2-1.7b": 196_608, "gpt2": 36_864,
    "olmoe-1b-7b": 131_072, "mixtral-8x7b": 131_072, "qwen1.5-moe-a2.7b": 196_608, "qwen3-30b-a3b": 98_304,
    "hrm-text-1b": 786_432,  # by hand: 128 attention invocations * 2 (K, V) * 12 heads * 128 * 2 bytes
    "falcon-7b": 8_192,      # by hand: 32 layers * 2 (K, V) * 1 head * 64 * 2 bytes
}

# Matmul FLOPs per token at the default loop count (MoE: active experts only).
MATMUL_FLOPS_PER_TOKEN = {
    "ouro-1.4b": 10_066_345_992, "ouro-2.6b": 19_931_349_000, "huginn-0125": 108_637_224_960,
    "llama-3.2-1b": 2_471_493_632, "llama-3.2-3b": 6_425_149_440, "llama-3.1-8b": 15_009_316_864,
    "qwen2.5-1.5b": 3_087_138_816, "qwen3-1.7b": 3_440_902_144, "smollm2-1.7b": 3_422_552_064,
    "gpt2": 247_064_064, "olmoe-1b-7b": 2_357_723_136, "mixtral-8x7b": 25_497_174_016,
    "qwen1.5-moe-a2.7b": 4_755_521_536, "qwen3-30b-a3b": 6_083_313_664,
    # by hand: 2 * (128 applications * (5 * 1536^2 + 3 * 1536 * 4096) + 1536 * 151808 head)
    "hrm-text-1b": 8_318_091_264,
}

# (preset, loop count, layer applications per token or per forward)
LAYER_APPLICATIONS = [
    ("ouro-2.6b", 4, 192), ("hrm", 1, 24), ("hrm", 16, 384), ("albert-base", 12, 12),
    ("trm", 16, 672), ("huginn-0125", 32, 132), ("llama-3.1-8b", None, 32), ("hrm-text-1b", 2, 128),
]


# Presets added to validate measured benchmarks; their counts are checked against the published
# sizes in test_more_presets.py.
ALL_PRESETS = set(PARAMS) | set(PUBLISHED)


def test_every_preset_file_is_tested():
    assert {p.stem for p in loader.list_presets(loader.MODELS_DIR)} == ALL_PRESETS


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_preset_cites_a_source(load_model, name):
    assert len(load_model(name).source) > 20


@pytest.mark.parametrize("name,expected", [(n, v[0]) for n, v in PARAMS.items()])
def test_unique_parameters(load_model, name, expected):
    assert model_figures(load_model(name))["params_unique"] == pytest.approx(expected, rel=0.005)


@pytest.mark.parametrize("name,expected", [(n, v[1] or v[0]) for n, v in PARAMS.items()])
def test_active_parameters(load_model, name, expected):
    assert model_figures(load_model(name))["params_active"] == pytest.approx(expected, rel=0.005)


@pytest.mark.parametrize("name,expected", KV_BYTES_PER_TOKEN_BF16.items())
def test_kv_bytes_per_token_bf16(load_model, name, expected):
    assert model_figures(load_model(name))["kv_bytes_per_token"] == expected


@pytest.mark.parametrize("name", ["trm", "hrm", "albert-base"])
def test_non_causal_models_have_no_decode_and_no_kv(load_model, name):
    model = load_model(name)
    assert not model.has_decode
    assert model_figures(model)["kv_bytes_per_token"] == 0


@pytest.mark.parametrize("name,expected", MATMUL_FLOPS_PER_TOKEN.items())
def test_matmul_flops_per_token(load_model, name, expected):
    assert model_figures(load_model(name))["matmul_flops_per_token"] == pytest.approx(expected, rel=0.005)


@pytest.mark.parametrize("name,loops,expected", LAYER_APPLICATIONS)
def test_layer_applications(load_model, name, loops, expected):
    assert model_figures(load_model(name), loops)["layer_applications_per_token"] == expected


def test_hrm_segment_runs_l_twice_per_h_cycle(load_model):
    from hwsim.workload.schedule import expand

    blocks = [s.block for s in expand(load_model("hrm"), 1) if s.kind == "layer"]
    one_cycle = ["L"] * 8 + ["H"] * 4
    assert blocks == one_cycle * 2
    injects = [s for s in expand(load_model("hrm"), 1) if s.kind == "inject"]
    assert len(injects) == 2 * (2 + 1) and {s.inject for s in injects} == {"add"}


def test_albert_loops_reuse_one_layer(load_model):
    """More applications of the shared layer add work but no parameters."""
    albert = load_model("albert-base")
    deeper = albert.with_loops(24)
    base_fig, deep_fig = model_figures(albert), model_figures(deeper)
    assert deep_fig["params_unique"] == base_fig["params_unique"]
    assert deep_fig["layer_applications_per_token"] == 24
    assert deep_fig["matmul_flops_per_token"] > base_fig["matmul_flops_per_token"]


def test_llama_3_and_3_1_differ_only_in_context(load_model):
    old, new = load_model("llama-3-8b"), load_model("llama-3.1-8b")
    assert old.max_position_embeddings == 8192 and new.max_position_embeddings == 131072
    strip = {"name", "source", "max_position_embeddings"}
    assert old.model_dump(exclude=strip) == new.model_dump(exclude=strip)


def test_qwen1_5_moe_shared_expert_is_gated(load_model):
    moe = load_model("qwen1.5-moe-a2.7b").moe
    assert (moe.shared_experts, moe.shared_expert_intermediate_size, moe.shared_expert_gate) == (1, 5632, True)


def test_list_models_shows_every_preset():
    result = CliRunner().invoke(main, ["list", "models"])
    assert result.exit_code == 0, result.output
    rows = result.output.strip().splitlines()[2:]
    assert len(rows) >= 14
    assert {row.split()[0] for row in rows} == ALL_PRESETS


# Fidelity fields against the released config.json files (norm_eps, rope_theta, norm_placement,
# embedding scale) and the MoE configs (norm_topk_prob). MoE eps come from the HF configs.
# preset: (norm placement, norm eps, RoPE base, or the positional kind where there is no RoPE)
NORMS_AND_ROPE = {
    "ouro-1.4b": ("sandwich", 1e-6, 1e6), "ouro-2.6b": ("sandwich", 1e-6, 1e6),
    "huginn-0125": ("post_residual", 1e-6, 50_000), "trm": ("post_residual", 1e-5, 10_000),
    "hrm": ("post_residual", 1e-5, 10_000), "albert-base": ("post_residual", 1e-12, "learned"),
    "gpt2": ("pre", 1e-5, "learned"), "llama-2-7b": ("pre", 1e-5, 10_000),
    "llama-3.2-1b": ("pre", 1e-5, 500_000), "llama-3.2-3b": ("pre", 1e-5, 500_000),
    "llama-3.1-8b": ("pre", 1e-5, 500_000), "llama-3-8b": ("pre", 1e-5, 500_000),
    "qwen2.5-1.5b": ("pre", 1e-6, 1e6), "qwen3-1.7b": ("pre", 1e-6, 1e6),
    "smollm2-1.7b": ("pre", 1e-5, 130_000), "olmoe-1b-7b": ("pre", 1e-5, 10_000),
    "mixtral-8x7b": ("pre", 1e-5, 1e6), "qwen1.5-moe-a2.7b": ("pre", 1e-6, 1e6),
    "qwen3-30b-a3b": ("pre", 1e-6, 1e6),
    "llama-3-70b": ("pre", 1e-5, 500_000), "llama-2-13b": ("pre", 1e-5, 10_000),
    "qwen2.5-3b": ("pre", 1e-6, 1e6), "qwen2.5-7b": ("pre", 1e-6, 1e6),
    "qwen3-0.6b": ("pre", 1e-6, 1e6), "qwen3-4b": ("pre", 1e-6, 1e6),
    "gemma-2-2b": ("sandwich", 1e-6, 10_000), "gemma-2-9b": ("sandwich", 1e-6, 10_000),
    "gemma-3-1b": ("sandwich", 1e-6, 1e6), "phi-3.5-mini": ("pre", 1e-5, 10_000),
    "deepseek-r1-distill-qwen-14b": ("pre", 1e-5, 1e6),
    "hrm-text-1b": ("pre", 1e-6, 10_000),
    "qwen3-8b": ("pre", 1e-6, 1e6), "gemma-3-4b": ("sandwich", 1e-6, 1e6),
    "qwen2-0.5b": ("pre", 1e-6, 1e6), "tinyllama-1.1b": ("pre", 1e-5, 10_000),
    "mistral-7b-v0.3": ("pre", 1e-5, 1e6),
    "falcon3-7b": ("pre", 1e-6, 1_000_042), "granite-3.1-8b": ("pre", 1e-5, 1e7),
    "chatglm3-6b": ("pre", 1e-5, 10_000), "llama-30b": ("pre", 1e-6, 10_000),
    "open-llama-3b": ("pre", 1e-6, 10_000), "codellama-34b": ("pre", 1e-5, 1e6),
    "llama-2-70b": ("pre", 1e-5, 10_000),
    "mpt-7b": ("pre", 1e-5, "none"),   # ALiBi: a bias on the scores, no position embedding
    "gpt-j-6b": ("pre", 1e-5, 10_000), "falcon-7b": ("pre", 1e-5, 10_000),
}
NORMALIZE_TOP_K = {"olmoe-1b-7b": False, "qwen1.5-moe-a2.7b": False, "qwen3-30b-a3b": True,
                   "mixtral-8x7b": True}
EMBEDDING_SCALE = {"huginn-0125": 5280 ** 0.5, "trm": 512 ** 0.5, "hrm": 512 ** 0.5,
                   "gemma-2-2b": 2304 ** 0.5, "gemma-2-9b": 3584 ** 0.5, "gemma-3-1b": 1152 ** 0.5,
                   "hrm-text-1b": 1 / 0.02,   # HrmTextConfig: 1 / initializer_range
                   "gemma-3-4b": 2560 ** 0.5}


def test_every_preset_has_its_norms_and_rope_tested():
    assert set(NORMS_AND_ROPE) == ALL_PRESETS


@pytest.mark.parametrize("name", sorted(NORMS_AND_ROPE))
def test_norm_placement_eps_and_rope_base(load_model, name):
    placement, eps, theta = NORMS_AND_ROPE[name]
    model = load_model(name)
    assert (model.norm_placement, model.norm_eps) == (placement, eps)
    if isinstance(theta, str):
        assert model.positional == theta
    else:
        assert model.positional == "rope" and model.rope_theta == theta


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_embedding_scale(load_model, name):
    assert load_model(name).embedding_scale == pytest.approx(EMBEDDING_SCALE.get(name, 1.0), rel=1e-12)


@pytest.mark.parametrize("name,normalize", sorted(NORMALIZE_TOP_K.items()))
def test_moe_top_k_normalisation(load_model, name, normalize):
    assert load_model(name).moe.normalize_top_k is normalize


def test_huginn_applies_ln_f_after_the_recurrence_and_after_the_coda(load_model):
    from hwsim.workload.schedule import expand

    steps = expand(load_model("huginn-0125"), 2)
    kinds = [s.block if s.kind == "layer" else s.kind for s in steps]
    assert kinds == ["prelude"] * 2 + (["inject"] + ["core"] * 4) * 2 + ["final_norm"] + ["coda"] * 2
    assert steps[kinds.index("final_norm")].loop_iter == -1


@pytest.mark.parametrize("overrides,says", [
    ({"norm_placement": "sandwich"}, "norm_placement sandwich needs norms_per_layer in [3, 4], got 2"),
    ({"norm_placement": "post_residual", "norms_per_layer": 3}, "needs norms_per_layer in [2, 4]"),
    ({"norm_eps": 0}, "norm_eps"),
    ({"rope_theta": -1}, "rope_theta"),
    ({"embedding_scale": 0}, "embedding_scale"),
    ({"blocks": [{"name": "final_norm", "num_layers": 2}]}, "'final_norm' is reserved"),
    ({"schedule": [{"repeat": 2, "body": ["stack", "final_norm"]}]}, "only appear at the top level"),
    ({"schedule": ["stack", "final_norm"], "final_norm": False}, "the model has final_norm: false"),
])
def test_fidelity_fields_are_validated(overrides, says):
    from hwsim.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        loader.load_model("llama-3.2-1b", overrides=overrides)
    assert says in str(info.value) and "\n" not in str(info.value)


def test_norm_placement_defaults_keep_pre_and_sandwich():
    """A spec without norm_placement: 4 norms per layer mean sandwich, 2 pre-norm."""
    assert loader.load_model("llama-3.2-1b").norm_slots == ("attn_in", "mlp_in")
    four = loader.load_model("llama-3.2-1b", overrides={"norms_per_layer": 4})
    assert four.norm_placement == "sandwich"
    assert four.norm_slots == ("attn_in", "attn_out", "mlp_in", "mlp_out")
