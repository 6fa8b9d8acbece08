"""Numerical building blocks of the reference executor, in float32 NumPy.

Pure functions on arrays: no recording, no weights lookup. Shapes: activations are
(batch, tokens, width); attention tensors are (batch, heads, tokens, head_dim).
"""

from __future__ import annotations

import numpy as np



def rms_norm(x: np.ndarray, weight: np.ndarray | None, eps: float) -> np.ndarray:
    """RMSNorm over the last axis; `weight` None is TRM's weightless variant."""
    scaled = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    return scaled if weight is None else scaled * weight


def layer_norm(x: np.ndarray, weight_and_bias: np.ndarray, eps: float) -> np.ndarray:
    """LayerNorm; the weight table stores scale and bias as one vector of 2 x width."""
    scale, bias = np.split(weight_and_bias, 2)
    centred = x - x.mean(axis=-1, keepdims=True)
    return centred / np.sqrt(np.mean(centred * centred, axis=-1, keepdims=True) + eps) * scale + bias


def norm(kind: str, x: np.ndarray, weight: np.ndarray | None, eps: float) -> np.ndarray:
    if kind == "layernorm":
        return layer_norm(x, weight, eps)
    return rms_norm(x, weight if kind == "rmsnorm" else None, eps)


def rope(x: np.ndarray, positions: np.ndarray, theta: float) -> np.ndarray:
    """Rotary embedding (rotate-half form, base `theta`) of x (batch, heads, tokens, head_dim)
    at integer `positions` (tokens,)."""
    half = x.shape[-1] // 2
    inv_freq = theta ** (-np.arange(half, dtype=np.float64) / half)
    angles = positions[:, None].astype(np.float64) * inv_freq[None, :]
    cos, sin = np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)
    first, second = x[..., :half], x[..., half:]
    return np.concatenate([first * cos - second * sin, first * sin + second * cos], axis=-1)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def silu(x: np.ndarray) -> np.ndarray:
    return x * sigmoid(x)


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU, tanh approximation (GPT-2 / BERT implementations)."""
    return 0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * x**3)))


def split_heads(x: np.ndarray, heads: int) -> np.ndarray:
    batch, tokens, width = x.shape
    return x.reshape(batch, tokens, heads, width // heads).transpose(0, 2, 1, 3)


def merge_heads(x: np.ndarray) -> np.ndarray:
    batch, heads, tokens, dim = x.shape
    return x.transpose(0, 2, 1, 3).reshape(batch, tokens, heads * dim)


def attention_scores(q: np.ndarray, k: np.ndarray) -> np.ndarray:
    """q (B, H, T, d) against k (B, Hkv, S, d) with grouped query heads -> (B, H, T, S)."""
    group = q.shape[1] // k.shape[1]
    k = np.repeat(k, group, axis=1)
    return q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(q.shape[-1]))


def attention_values(probs: np.ndarray, v: np.ndarray) -> np.ndarray:
    group = probs.shape[1] // v.shape[1]
    return probs @ np.repeat(v, group, axis=1)


def causal_mask(query_positions: np.ndarray, key_positions: np.ndarray) -> np.ndarray:
    """Additive mask: -inf where a key lies after the query."""
    return np.where(key_positions[None, :] > query_positions[:, None], -np.inf, 0.0).astype(np.float32)


def top_k_routing(logits: np.ndarray, top_k: int, normalize: bool) -> tuple[np.ndarray, np.ndarray]:
    """Router softmax over experts, then the top_k experts per token. Returns (indices (N, k),
    weights (N, k))."""
    probs = softmax(logits, axis=-1)
    indices = np.argsort(-probs, axis=-1, kind="stable")[:, :top_k]
    return indices, routing_weights(probs, indices, normalize)


def routing_weights(probs: np.ndarray, indices: np.ndarray, normalize: bool) -> np.ndarray:
    """The router probabilities of the chosen experts, renormalised to sum to one when
    `normalize` (Mixtral, Qwen3-MoE) or used as they are (OLMoE, Qwen1.5-MoE)."""
    chosen = np.take_along_axis(probs, indices, axis=-1)
    return chosen / chosen.sum(axis=-1, keepdims=True) if normalize else chosen
