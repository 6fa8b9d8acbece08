"""The fidelity fields of a ModelSpec reach the numbers: norm eps, RoPE base, unnormalised top-k
expert weights, Huginn's initial-state scale, post-residual norms and the embedding scale,
each against a hand-computed case."""

import numpy as np
import pytest

from hwsim.reference import layers
from hwsim.reference.executor import INITIAL_STATE_TRUNCATION, ReferenceExecutor, initial_state
from hwsim.reference.scale import scale_model
from hwsim.reference.weights import random_weights
from hwsim.spec.loader import load_model


def test_rms_norm_uses_the_given_eps():
    x = np.array([[3.0, 4.0]], np.float32)          # mean square 12.5
    for eps in (1e-6, 0.5):
        expected = x / np.sqrt(12.5 + eps)
        np.testing.assert_allclose(layers.rms_norm(x, None, eps), expected, rtol=1e-6)


def test_layer_norm_uses_the_given_eps():
    x = np.array([[1.0, 3.0]], np.float32)           # centred +-1, variance 1
    weight_and_bias = np.array([1.0, 1.0, 0.0, 0.0], np.float32)
    np.testing.assert_allclose(layers.layer_norm(x, weight_and_bias, 3.0), [[-0.5, 0.5]], rtol=1e-6)


def test_rope_frequencies_follow_the_base():
    """head_dim 4: frequencies 1 and theta^-1/2; at position 2 the second pair turns by
    2 / sqrt(theta) (theta 100: 0.2 rad)."""
    x = np.zeros((1, 1, 1, 4), np.float32)
    x[..., 1] = 1.0                                  # the second pair's first component
    out = layers.rope(x, np.array([2]), 100.0)[0, 0, 0]
    np.testing.assert_allclose(out, [0.0, np.cos(0.2), 0.0, np.sin(0.2)], atol=1e-7)


def test_top_k_weights_are_renormalised_only_when_asked():
    logits = np.log(np.array([[0.5, 0.3, 0.2]]))
    indices, raw = layers.top_k_routing(logits, 2, normalize=False)
    _, renormalised = layers.top_k_routing(logits, 2, normalize=True)
    assert indices.tolist() == [[0, 1]]
    np.testing.assert_allclose(raw, [[0.5, 0.3]], rtol=1e-6)
    np.testing.assert_allclose(renormalised, [[0.625, 0.375]], rtol=1e-6)


def test_huginn_initial_state_is_truncated_and_scaled():
    width, std = 4096, np.sqrt(2 / (5 * 4096)) * 64.0
    state = initial_state(7, np.arange(3), 2, width, std)
    assert state.shape == (2, 3, width)
    assert np.abs(state).max() <= INITIAL_STATE_TRUNCATION * std * (1 + 1e-6)
    # A standard normal cut at 3 std keeps 98.65% of its variance: std x 0.9933.
    assert state.std() == pytest.approx(std * 0.9933, rel=0.02)
    np.testing.assert_array_equal(state[:, 1], initial_state(7, np.array([1]), 2, width, std)[:, 0])


def test_scaled_models_keep_the_embedding_scale_at_sqrt_hidden():
    tiny = scale_model(load_model("huginn-0125"), "tiny")
    assert tiny.embedding_scale == pytest.approx(np.sqrt(tiny.hidden_size))
    assert scale_model(load_model("llama-3.2-1b"), "tiny").embedding_scale == 1.0


def test_post_residual_layers_leave_unit_rms_states():
    """TRM's norms follow each residual add and have no weight, so the state after any layer
    (and so the LM head's input) has RMS 1 at every position, whatever the embedding scale."""
    model = scale_model(load_model("trm"), "tiny")
    executor = ReferenceExecutor(model, random_weights(model, 0))
    seen = []
    original = executor._layer
    executor._layer = lambda h, step, positions: seen.append(original(h, step, positions)) or seen[-1]
    executor.prefill(np.arange(model.task.seq_len)[None] % model.vocab_size)
    rms = np.sqrt(np.mean(np.stack(seen) ** 2, axis=-1))
    np.testing.assert_allclose(rms, 1.0, rtol=1e-4)


def test_embedding_scale_multiplies_the_embedding():
    model = scale_model(load_model("llama-3.2-1b", overrides={"embedding_scale": 3.0}), "tiny")
    executor = ReferenceExecutor(model, random_weights(model, 0))
    tokens = np.array([[5, 9]])
    table = executor.weights["embed"].weight.values()          # (width, vocab)
    expected = 3.0 * np.sqrt(model.hidden_size / 2048) * table[:, tokens[0]].T
    np.testing.assert_allclose(executor._embed(tokens, np.arange(2))[0], expected, rtol=1e-6)
