"""PyTorch versions of the tiny reference models, written the way a PyTorch user writes them
(nn.Module blocks, F.scaled_dot_product_attention, nn.RMSNorm), to cross-check the NumPy
executor independently. They share only the weights (looked up by weight_id) and the spec's
numbers (norm eps, RoPE base, embedding scale); the loop structure of each family and each norm
placement are spelled out here from the released models (Huginn's SandwichBlock and its ln_f
before and after the coda, OLMoE's unnormalised top-k weights), not taken from hwsim's schedule.

Importing this module needs torch (the optional `torch` extra).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hwsim.reference.weights import ReferenceWeights
from hwsim.spec.model import ModelSpec

def _tensor(values: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(values, dtype=np.float32))


def linear(weights: ReferenceWeights, weight_id: str) -> nn.Linear:
    """nn.Linear holding weight_id; hwsim stores (in, out), torch (out, in)."""
    param = weights[weight_id]
    matrix = _tensor(param.weight.values())
    layer = nn.Linear(matrix.shape[0], matrix.shape[1], bias=param.bias is not None)
    with torch.no_grad():
        layer.weight.copy_(matrix.T)
        if param.bias is not None:
            layer.bias.copy_(_tensor(param.bias))
    return layer


def rms_norm(scale: np.ndarray, eps: float) -> nn.RMSNorm:
    norm = nn.RMSNorm(scale.shape[0], eps=eps)
    with torch.no_grad():
        norm.weight.copy_(_tensor(scale))
    return norm


def apply_rope(x: torch.Tensor, positions: torch.Tensor, theta: float) -> torch.Tensor:
    """Rotary embedding, rotate-half convention (as in Hugging Face Llama); x is (B, H, T, d)."""
    dim = x.shape[-1]
    inv_freq = 1.0 / theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    freqs = torch.outer(positions.to(torch.float64), inv_freq)
    emb = torch.cat([freqs, freqs], dim=-1)
    cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
    x1, x2 = x.chunk(2, dim=-1)
    rotated = torch.cat([-x2, x1], dim=-1)
    return x * cos + rotated * sin


class Attention(nn.Module):
    def __init__(self, spec: ModelSpec, weights: ReferenceWeights, prefix: str):
        super().__init__()
        att = spec.attention
        self.heads, self.kv_heads, self.head_dim = att.num_heads, att.num_kv_heads, att.head_dim
        self.rope_theta = spec.rope_theta
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (linear(weights, f"{prefix}.{n}") for n in "qkvo")
        q_width = self.heads * self.head_dim
        self.qk_bias = None
        if att.qk_bias:
            self.qk_bias = _tensor(weights[f"{prefix}.qk_bias"].weight.values()).split(
                [q_width, self.kv_heads * self.head_dim])
        self.qk_norm = None
        if att.qk_norm != "none":
            scale = weights[f"{prefix}.qk_norm"].weight.values()
            split = q_width if att.qk_norm == "full" else self.head_dim
            self.qk_norm = nn.ModuleList([rms_norm(scale[:split], spec.norm_eps),
                                          rms_norm(scale[split:], spec.norm_eps)])
        self.per_head_norm = att.qk_norm == "per_head"

    def forward(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        batch, tokens, _ = x.shape
        q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        if self.qk_bias is not None:
            q, k = q + self.qk_bias[0], k + self.qk_bias[1]
        if self.qk_norm is not None and not self.per_head_norm:
            q, k = self.qk_norm[0](q), self.qk_norm[1](k)
        q = q.view(batch, tokens, self.heads, self.head_dim).transpose(1, 2)
        k = k.view(batch, tokens, self.kv_heads, self.head_dim).transpose(1, 2)
        v = v.view(batch, tokens, self.kv_heads, self.head_dim).transpose(1, 2)
        if self.per_head_norm:
            q, k = self.qk_norm[0](q), self.qk_norm[1](k)
        q, k = apply_rope(q, positions, self.rope_theta), apply_rope(k, positions, self.rope_theta)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        return self.o_proj(out.transpose(1, 2).reshape(batch, tokens, self.heads * self.head_dim))


class FeedForward(nn.Module):
    """SwiGLU (down(silu(gate x) * up x)) or GELU (down(gelu_tanh(up x))) MLP."""

    def __init__(self, weights: ReferenceWeights, prefix: str, kind: str):
        super().__init__()
        self.gate = linear(weights, f"{prefix}gate") if kind == "swiglu" else None
        self.up, self.down = linear(weights, f"{prefix}up"), linear(weights, f"{prefix}down")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gate is None:
            return self.down(F.gelu(self.up(x), approximate="tanh"))
        return self.down(F.silu(self.gate(x)) * self.up(x))


class SparseMoE(nn.Module):
    """Softmax router, top-k experts (weights renormalised when the spec says so: Mixtral,
    Qwen3-MoE; used as they are: OLMoE, Qwen1.5-MoE), optional (gated) shared expert."""

    def __init__(self, spec: ModelSpec, weights: ReferenceWeights, prefix: str):
        super().__init__()
        moe = spec.moe
        self.top_k, self.normalize = moe.top_k, moe.normalize_top_k
        self.router = linear(weights, f"{prefix}.router")
        self.experts = nn.ModuleList(FeedForward(weights, f"{prefix}.expert{e}.", "swiglu")
                                     for e in range(moe.num_experts))
        self.shared = FeedForward(weights, f"{prefix}.shared.", "swiglu") if moe.shared_experts else None
        self.shared_gate = linear(weights, f"{prefix}.shared.expert_gate") if moe.shared_expert_gate else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])
        probs = F.softmax(self.router(flat), dim=-1)
        top_probs, top_experts = torch.topk(probs, self.top_k, dim=-1)
        if self.normalize:
            top_probs = top_probs / top_probs.sum(dim=-1, keepdim=True)
        out = torch.zeros_like(flat)
        for e, expert in enumerate(self.experts):
            token, slot = torch.where(top_experts == e)
            if token.numel():
                out.index_add_(0, token, top_probs[token, slot, None] * expert(flat[token]))
        if self.shared is not None:
            shared = self.shared(flat)
            if self.shared_gate is not None:
                shared = torch.sigmoid(self.shared_gate(flat)) * shared
            out = out + shared
        return out.view_as(x)


class DecoderLayer(nn.Module):
    """One transformer layer with the spec's norm placement: pre-norm (Llama), sandwich (Ouro:
    also a norm on each branch output), post-norm (BERT/TRM: a norm after each residual add) or
    Huginn's SandwichBlock (pre-norm on the branch input and a norm after each residual add)."""

    def __init__(self, spec: ModelSpec, weights: ReferenceWeights, prefix: str):
        super().__init__()
        self.attn = Attention(spec, weights, prefix)
        self.mlp = (FeedForward(weights, f"{prefix}.", spec.mlp.kind) if spec.mlp is not None
                    else SparseMoE(spec, weights, prefix))
        self.norms = nn.ModuleList(rms_norm(weights[f"{prefix}.norm{i}"].weight.values(), spec.norm_eps)
                                   for i in range(spec.norms_per_layer))
        self.placement = spec.norm_placement

    def forward(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        n = self.norms
        if self.placement == "post_residual" and len(n) == 4:      # Huginn SandwichBlock
            x = n[1](self.attn(n[0](x), positions) + x)
            return n[3](self.mlp(n[2](x)) + x)
        if self.placement == "post_residual":                      # post-norm
            x = n[0](x + self.attn(x, positions))
            return n[1](x + self.mlp(x))
        if self.placement == "sandwich":                           # Ouro
            x = x + n[1](self.attn(n[0](x), positions))
            return x + n[3](self.mlp(n[2](x)))
        x = x + self.attn(n[0](x), positions)                      # pre-norm
        return x + self.mlp(n[1](x))


class CausalLM(nn.Module):
    """Embedding (times the spec's embedding scale), named stacks of layers, final norm and
    (tied or separate) LM head."""

    def __init__(self, spec: ModelSpec, weights: ReferenceWeights):
        super().__init__()
        if spec.norm != "rmsnorm" or spec.positional != "rope" or not spec.attention.causal:
            raise NotImplementedError(f"{spec.name}: only causal RMSNorm/RoPE models are written here")
        self.embed = nn.Embedding.from_pretrained(_tensor(weights["embed"].weight.values().T))
        self.stacks = nn.ModuleDict()
        first = 0
        for block in spec.blocks:
            self.stacks[block.name] = nn.ModuleList(
                DecoderLayer(spec, weights, f"{block.name}.L{first + i}") for i in range(block.num_layers))
            first += block.num_layers
        self.embedding_scale = spec.embedding_scale
        self.final_norm = rms_norm(weights["final_norm"].weight.values(), spec.norm_eps)
        self.lm_head = None if spec.tied_embeddings else linear(weights, "lm_head")

    def run(self, name: str, h: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        for layer in self.stacks[name]:
            h = layer(h, positions)
        return h

    def embedded(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.embed(tokens) * self.embedding_scale

    def head(self, h: torch.Tensor) -> torch.Tensor:
        return F.linear(h, self.embed.weight) if self.lm_head is None else self.lm_head(h)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(tokens.shape[1])
        h = self.embedded(tokens)
        for name in self.stacks:
            h = self.run(name, h, positions)
        return self.head(self.final_norm(h))


class LoopedLM(CausalLM):
    """Ouro: the whole stack run `loops` times, the final norm after every pass, an exit gate
    reading each pass's normed state. Returns logits of the last pass and the exit
    distribution p_t = lambda_t * prod_{j<t}(1 - lambda_j), the last pass taking the rest."""

    def __init__(self, spec: ModelSpec, weights: ReferenceWeights, loops: int):
        super().__init__(spec, weights)
        (self.stack,) = self.stacks.keys()
        self.loops = loops
        self.exit_gate = linear(weights, "loop.exit_gate")

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        positions = torch.arange(tokens.shape[1])
        h = self.embedded(tokens)
        lambdas = []
        for _ in range(self.loops):
            h = self.final_norm(self.run(self.stack, h, positions))
            lambdas.append(torch.sigmoid(self.exit_gate(h)).squeeze(-1))
        lam = torch.stack(lambdas, dim=-1)
        not_yet = torch.cumprod(torch.cat([torch.ones_like(lam[..., :1]), 1 - lam[..., :-1]], dim=-1), dim=-1)
        exit_probs = lam * not_yet
        exit_probs[..., -1] = not_yet[..., -1]
        return self.head(h), exit_probs


class RecurrentDepthLM(CausalLM):
    """Huginn (recpre/raven_modeling_minimal.py): prelude on the scaled embedding; the core run
    `loops` times from a given initial state, each pass starting with
    adapter(concat[state, prelude output]); ln_f; coda; ln_f again (same weights); head."""

    def __init__(self, spec: ModelSpec, weights: ReferenceWeights, loops: int):
        super().__init__(spec, weights)
        self.prelude, self.core, self.coda = self.stacks.keys()
        self.loops = loops
        self.adapter = linear(weights, "loop.adapter")

    def forward(self, tokens: torch.Tensor, initial_state: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(tokens.shape[1])
        embedded = self.run(self.prelude, self.embedded(tokens), positions)
        state = initial_state
        for _ in range(self.loops):
            state = self.run(self.core, self.adapter(torch.cat([state, embedded], dim=-1)), positions)
        state = self.final_norm(state)
        return self.head(self.final_norm(self.run(self.coda, state, positions)))
