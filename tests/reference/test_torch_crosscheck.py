"""Cross-check: independent PyTorch versions of the tiny models (tests/reference/torch_models.py),
including the looped models outside transformers (Ouro, Huginn), give the NumPy reference
executor's logits within 1e-4, on the same weights.

Needs the `capture` extra (torch); CI installs it and runs these. Skipped, with the reason,
where torch is absent.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch cross-check: install the `capture` extra "
                                            "(pip install torch==2.13.0 -e '.[capture]') to run it")

from hwsim.reference.executor import ReferenceExecutor, initial_state  # noqa: E402
from hwsim.reference.scale import scale_model  # noqa: E402
from hwsim.reference.weights import random_weights  # noqa: E402
from hwsim.spec.loader import load_model  # noqa: E402

from .torch_models import CausalLM, LoopedLM, RecurrentDepthLM  # noqa: E402

TOLERANCE = 1e-4
SEED = 3
TOKENS = np.array([[5, 17, 99, 3, 64, 127, 0, 42], [88, 1, 1, 120, 33, 7, 56, 11]])

# (preset, overrides applied before scaling, loops): each feature the torch side implements.
CASES = {
    "llama tied GQA": ("llama-3.2-1b", {}, None),
    "llama gelu mlp": ("llama-3.2-1b", {"mlp.kind": "gelu"}, None),
    "llama post-norm": ("llama-3.2-1b", {"norm_placement": "post_residual"}, None),
    "ouro T=2": ("ouro-1.4b", {}, 2),
    "ouro T=3": ("ouro-1.4b", {}, 3),
    "huginn r=3": ("huginn-0125", {}, 3),
    "olmoe top-1 qk-norm": ("olmoe-1b-7b", {}, None),
    "olmoe top-2": ("olmoe-1b-7b", {"moe.top_k": 16}, None),       # 16/64 -> 2 of 8 experts
    "olmoe top-2 renormalised": ("olmoe-1b-7b", {"moe.top_k": 16, "moe.normalize_top_k": True}, None),
    "qwen-moe gated shared expert, qkv bias": ("qwen1.5-moe-a2.7b", {}, None),
}


def tiny_model(preset, overrides):
    return scale_model(load_model(preset, overrides=overrides or None), "tiny")


def executor_sequence_logits(executor, tokens):
    """Logits at every position (batch, tokens, vocab): a fresh prefill of each prefix (the
    executor returns the last position's logits), i.e. full recomputation, no cache reuse."""
    return np.stack([executor.prefill(tokens[:, :t]) for t in range(1, tokens.shape[1] + 1)], axis=1)


def huginn_initial_state(model, batch, positions, seed):
    """The executor's initial state (an input here, not under test): Huginn's std
    sqrt(2 / (5 h)) times the embedding scale, one generator per position."""
    std = np.sqrt(2.0 / (5.0 * model.hidden_size)) * model.embedding_scale
    return torch.from_numpy(initial_state(seed, np.asarray(positions), batch, model.hidden_size, std))


def torch_logits(model, weights, loops, tokens):
    """(logits (batch, tokens, vocab), exit probabilities or None) from the PyTorch model."""
    ids = torch.from_numpy(tokens)
    with torch.inference_mode():
        if model.family == "looped":
            logits, exit_probs = LoopedLM(model, weights, loops)(ids)
            return logits.numpy(), exit_probs.numpy()
        if model.family == "recurrent_depth":
            state = huginn_initial_state(model, tokens.shape[0], range(tokens.shape[1]), SEED)
            return RecurrentDepthLM(model, weights, loops)(ids, state).numpy(), None
        return CausalLM(model, weights)(ids).numpy(), None


@pytest.fixture(scope="module")
def runs():
    """Both sides of every case, computed once: (model, executor, numpy logits, torch logits,
    torch exit probabilities)."""
    out = {}
    for case, (preset, overrides, loops) in CASES.items():
        model = tiny_model(preset, overrides)
        weights = random_weights(model, SEED)
        executor = ReferenceExecutor(model, weights, loops=loops, seed=SEED)
        reference = executor_sequence_logits(executor, TOKENS)
        ours, exit_probs = torch_logits(model, weights, loops or model.loop.count, TOKENS)
        out[case] = (model, executor, reference, ours, exit_probs)
    return out


@pytest.mark.parametrize("case", CASES)
def test_full_sequence_logits_match_torch(runs, case):
    _, _, reference, ours, _ = runs[case]
    assert reference.shape == ours.shape == TOKENS.shape + (reference.shape[-1],)
    assert np.isfinite(ours).all()
    diff = np.abs(reference - ours).max()
    assert diff < TOLERANCE, f"{case}: max abs logit difference {diff:.2e}"


@pytest.mark.parametrize("case", CASES)
def test_kv_cached_decode_matches_torch(runs, case):
    """Prefill 3 tokens, then decode the rest one at a time through the executor's KV cache."""
    _, executor, _, ours, _ = runs[case]
    logits = [executor.prefill(TOKENS[:, :3])]
    logits += [executor.decode(TOKENS[:, t]) for t in range(3, TOKENS.shape[1])]
    diff = np.abs(np.stack(logits, axis=1) - ours[:, 2:]).max()
    assert diff < TOLERANCE, f"{case}: max abs logit difference {diff:.2e}"


@pytest.mark.parametrize("case", ["ouro T=2", "ouro T=3"])
def test_ouro_exit_distribution_matches_torch(runs, case):
    _, executor, _, _, exit_probs = runs[case]
    executor.prefill(TOKENS)
    reference = executor.exit_stats.exit_probs
    np.testing.assert_allclose(exit_probs.sum(axis=-1), 1.0, atol=1e-6)
    assert np.abs(reference - exit_probs).max() < 1e-5


def test_the_check_sees_a_wrong_loop_count():
    """The comparison is sharp enough to catch one loop iteration too few."""
    model = tiny_model("ouro-1.4b", {})
    weights = random_weights(model, SEED)
    reference = executor_sequence_logits(ReferenceExecutor(model, weights, loops=3, seed=SEED), TOKENS)
    ours, _ = torch_logits(model, weights, 2, TOKENS)
    assert np.abs(reference - ours).max() > 100 * TOLERANCE


def test_the_check_sees_a_different_initial_state():
    """Huginn's logits depend on the initial state, so matching them tests the adapter path."""
    model = tiny_model("huginn-0125", {})
    weights = random_weights(model, SEED)
    reference = executor_sequence_logits(ReferenceExecutor(model, weights, seed=SEED + 1), TOKENS)
    ours, _ = torch_logits(model, weights, model.loop.count, TOKENS)
    assert np.abs(reference - ours).max() > 100 * TOLERANCE


@pytest.mark.parametrize("case,wrong", [
    ("huginn r=3", {"norm_placement": "sandwich"}),          # Ouro's placement instead of Huginn's
    ("huginn r=3", {"schedule": ["prelude", {"repeat": "loop", "inject": "adapter", "body": ["core"]},
                                 "coda"]}),                # without ln_f before the coda
    ("huginn r=3", {"embedding_scale": 1.0}),
    ("olmoe top-2", {"moe.normalize_top_k": True}),
    ("llama tied GQA", {"rope_theta": 10000.0}),
    ("llama tied GQA", {"norm_eps": 1e-2}),
])
def test_the_check_sees_each_fidelity_field(runs, case, wrong):
    """Each field the executor honours changes the logits: the executor run with the field
    changed (same weights) disagrees with the PyTorch model of the preset."""
    preset, overrides, loops = CASES[case]
    model = tiny_model(preset, {**overrides, **wrong})
    same_weights = runs[case][1].weights
    reference = executor_sequence_logits(ReferenceExecutor(model, same_weights, loops=loops, seed=SEED), TOKENS)
    assert np.abs(reference - runs[case][3]).max() > 100 * TOLERANCE
