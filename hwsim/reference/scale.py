"""Shrink a ModelSpec to a size the NumPy executor runs in milliseconds.

Widths (hidden, heads, head_dim, ff, vocab, experts), layers per block, the loop count and a
task's sequence length shrink; everything structural stays: the families, the block list and
schedule (nested repeats, inject, exit gate, per-iteration norm), GQA grouping (a grouped
model keeps grouped heads), tied or untied head, norms (placement, eps), RoPE base, biases, MoE
top-k, its normalisation and shared experts, quantisation and KV policy. An embedding scale
other than 1 keeps its ratio to sqrt(hidden_size) (Huginn's and TRM's scale is sqrt(h) at
every width). So the scaled model exercises every code path of the full one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hwsim.errors import ConfigError
from hwsim.spec.loader import validate
from hwsim.spec.model import ModelSpec


@dataclass(frozen=True)
class ScaleSpec:
    """Target sizes. Values are caps: a model already smaller keeps its own size."""

    hidden_size: int
    head_dim: int
    kv_heads: int               # key/value heads of an ungrouped model; a grouped one keeps 1
    max_group: int              # query heads per kv head kept at most
    intermediate_size: int
    vocab_size: int
    max_layers_per_block: int
    max_loops: int
    num_experts: int
    expert_intermediate_size: int
    max_seq_len: int


SCALES: dict[str, ScaleSpec] = {
    # tiny: every family runs prefill + decode in milliseconds (tests, `hwsim validate reference`).
    "tiny": ScaleSpec(hidden_size=64, head_dim=16, kv_heads=4, max_group=4, intermediate_size=96,
                      vocab_size=128, max_layers_per_block=2, max_loops=3, num_experts=8,
                      expert_intermediate_size=32, max_seq_len=16),
    # small: a decode token takes milliseconds of real GEMV work (`hwsim validate local`).
    "small": ScaleSpec(hidden_size=1024, head_dim=64, kv_heads=16, max_group=4, intermediate_size=4096,
                       vocab_size=8192, max_layers_per_block=8, max_loops=4, num_experts=16,
                       expert_intermediate_size=1024, max_seq_len=64),
}


def scale_model(model: ModelSpec, scale: str | ScaleSpec = "tiny") -> ModelSpec:
    """The same architecture at the widths of `scale` (a name in SCALES or a ScaleSpec)."""
    if isinstance(scale, str):
        if scale not in SCALES:
            raise ConfigError(f"scale: unknown {scale!r}; known: {', '.join(SCALES)}")
        scale = SCALES[scale]
    data = model.model_dump(mode="python", by_alias=True)
    att = model.attention
    group = att.num_heads // att.num_kv_heads
    kv_heads = 1 if group > 1 else scale.kv_heads
    heads = kv_heads * min(group, scale.max_group)
    data["name"] = f"{model.name} ({_scale_name(scale)})"
    data["hidden_size"] = scale.hidden_size
    if model.embedding_scale != 1.0:
        data["embedding_scale"] = model.embedding_scale * math.sqrt(scale.hidden_size / model.hidden_size)
    data["vocab_size"] = min(model.vocab_size, scale.vocab_size)
    if model.embedding_size:
        data["embedding_size"] = max(8, scale.hidden_size // 4)
    data["max_position_embeddings"] = min(model.max_position_embeddings, 4 * scale.max_seq_len + 64)
    data["attention"].update(num_heads=heads, num_kv_heads=kv_heads, head_dim=scale.head_dim)
    if model.mlp is not None:
        data["mlp"]["intermediate_size"] = scale.intermediate_size
    if model.moe is not None:
        moe = model.moe
        experts = min(moe.num_experts, scale.num_experts)
        top_k = max(1, min(moe.top_k, round(moe.top_k * experts / moe.num_experts)))
        data["moe"].update(num_experts=experts, top_k=top_k,
                           expert_intermediate_size=scale.expert_intermediate_size)
        if moe.shared_experts:
            data["moe"]["shared_expert_intermediate_size"] = scale.expert_intermediate_size
        if moe.routing.probs is not None:
            data["moe"]["routing"] = {"kind": "uniform"}
    for block in data["blocks"]:
        block["num_layers"] = min(block["num_layers"], scale.max_layers_per_block)
    loops = min(model.loop.count, scale.max_loops)
    data["loop"]["count"] = loops
    if model.loop.distribution is not None and len(model.loop.distribution) > loops:
        data["loop"]["distribution"] = None
    data["loop"]["kv_last_k"] = min(model.loop.kv_last_k, loops)
    if model.task is not None:
        data["task"]["seq_len"] = min(model.task.seq_len, scale.max_seq_len)
        data["task"]["prefix_tokens"] = min(model.task.prefix_tokens, 2)
    for head in data.get("heads") or []:
        if head.get("in_features"):
            head["in_features"] = scale.hidden_size
    return validate(ModelSpec, data, f"model {model.name} scaled")


def _scale_name(scale: ScaleSpec) -> str:
    return next((name for name, s in SCALES.items() if s == scale), f"h{scale.hidden_size}")
