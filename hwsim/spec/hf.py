"""Map a Hugging Face `config.json` to a ModelSpec document, so a released model can be
simulated without writing a preset.

Only the architecture is read: widths, layer and head counts, vocabulary, biases, norms (and
their eps), the RoPE base, experts and whether their top-k weights are renormalised. Precision comes from the ModelSpec default (bf16) or `--quant`, not from
`torch_dtype` or `quantization_config`. The shape fields must be present; a field that real
configs routinely omit takes the default of the Hugging Face configuration class
(`num_key_value_heads` = `num_attention_heads`, `head_dim` = hidden / heads,
`tie_word_embeddings` per architecture). Every missing or malformed field is collected and
reported in one ConfigError naming the file and the field.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

from hwsim.errors import ConfigError

_REQUIRED = object()


class _Fields:
    """Reads typed fields from a config dict, recording every problem instead of stopping."""

    def __init__(self, config: dict[str, Any]):
        self.config = config
        self.problems: list[str] = []
        self.bad: set[str] = set()  # fields already reported; checks that use them are skipped

    def positive_int(self, key: str, default: Any = _REQUIRED) -> int:
        value = self.config.get(key)
        if value is None:  # HF writes null for "use the class default" (head_dim, n_inner)
            value = default
        if value is _REQUIRED:
            return self._bad(key, "required field is missing")
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            return self._bad(key, f"expected a positive integer, got {value!r}")
        return value

    def positive_float(self, key: str, default: float) -> float:
        """A positive number (eps, RoPE base); missing or null takes the class default."""
        value = self.config.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            self._bad(key, f"expected a positive number, got {value!r}")
            return default
        return float(value)

    def _bad(self, key: str, problem: str) -> int:
        """Record the problem; 1 stands in for the value so the other fields still get read."""
        self.problems.append(f"{key}: {problem}")
        self.bad.add(key)
        return 1

    def flag(self, key: str, default: bool) -> bool:
        value = self.config.get(key, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problems.append(f"{key}: expected true or false, got {value!r}")
            return default
        return value

    def require(self, condition: bool, problem: str, *uses: str) -> None:
        """A consistency check across fields, skipped when one of the fields it `uses` is bad."""
        if not condition and not self.bad.intersection(uses):
            self.problems.append(problem)


def _attention(f: _Fields, hidden: int, heads_key: str, *, causal: bool, head_dim_default: int | None = None,
               **extra) -> dict[str, Any]:
    """Heads, KV heads and head width, checked the way the HF attention modules assume them."""
    heads = f.positive_int(heads_key)
    kv_heads = f.positive_int("num_key_value_heads", heads) if heads_key == "num_attention_heads" else heads
    if f.config.get("head_dim") is not None or head_dim_default is not None:
        head_dim = f.positive_int("head_dim", head_dim_default)
    else:
        head_dim = hidden // heads
        f.require(hidden % heads == 0, f"{heads_key}: {heads} does not divide hidden size {hidden} "
                                       f"(give head_dim)", heads_key, "hidden_size", "n_embd")
    f.require(heads % kv_heads == 0, f"num_key_value_heads: {kv_heads} does not divide "
                                     f"{heads_key} {heads}", heads_key, "num_key_value_heads")
    return {"num_heads": heads, "num_kv_heads": kv_heads, "head_dim": head_dim, "causal": causal, **extra}


def _stack(num_layers: int) -> dict[str, Any]:
    return {"blocks": [{"name": "stack", "num_layers": num_layers}]}


def _moe_every_layer(f: _Fields) -> None:
    """Qwen MoE configs can interleave dense layers; a ModelSpec has one FFN kind for all layers."""
    f.require(f.config.get("decoder_sparse_step", 1) == 1,
              "decoder_sparse_step: only 1 (every layer MoE) is supported")
    f.require(not f.config.get("mlp_only_layers"), "mlp_only_layers: dense layers inside an MoE "
                                                  "model are not supported")


# Class defaults of the HF configuration classes (rms_norm_eps, rope_theta) where they differ
# from LlamaConfig's 1e-6 and 10,000: MixtralConfig 1e-5 and 1e6, OlmoeConfig 1e-5.
_NORM_EPS_DEFAULT = {"mixtral": 1e-5, "olmoe": 1e-5}
_ROPE_THETA_DEFAULT = {"mixtral": 1e6, "gemma3_text": 1e6}   # Gemma3TextConfig: global layers


def _rope_theta(f: _Fields, model_type: str) -> float:
    """`rope_theta`, or in newer configs `rope_parameters: {rope_theta: ...}`."""
    default = _ROPE_THETA_DEFAULT.get(model_type, 10000.0)
    nested = f.config.get("rope_parameters")
    if "rope_theta" not in f.config and isinstance(nested, dict):
        inner = _Fields(nested)
        theta = inner.positive_float("rope_theta", default)
        f.problems += [f"rope_parameters.{problem}" for problem in inner.problems]
        return theta
    return f.positive_float("rope_theta", default)


def _decoder(f: _Fields, model_type: str) -> dict[str, Any]:
    """The Llama-style pre-norm RMSNorm decoders: llama, mistral, qwen2, qwen3, mixtral, olmoe,
    qwen2_moe, qwen3_moe. They differ in biases, QK-norm and the FFN."""
    hidden = f.positive_int("hidden_size")
    layers = f.positive_int("num_hidden_layers")
    bias = f.flag("attention_bias", False)  # llama/qwen3/olmoe: on q, k, v and o
    qk_norm = {"qwen3": "per_head", "qwen3_moe": "per_head", "olmoe": "full"}.get(model_type, "none")
    attention_extra = {"qkv_bias": bias, "out_bias": bias, "qk_norm": qk_norm}
    if model_type in ("qwen2", "qwen2_moe"):  # Qwen2Attention: bias on q, k, v always, none on o
        attention_extra.update(qkv_bias=True, out_bias=False)
    if model_type == "mistral":
        attention_extra.update(qkv_bias=False, out_bias=False)
    head_dim_default = 128 if model_type in ("qwen3", "qwen3_moe") else None  # Qwen3Config default
    spec: dict[str, Any] = {
        "family": "decoder",
        "hidden_size": hidden,
        "vocab_size": f.positive_int("vocab_size"),
        "tied_embeddings": f.flag("tie_word_embeddings", False),
        "positional": "rope",
        "rope_theta": _rope_theta(f, model_type),
        "max_position_embeddings": f.positive_int("max_position_embeddings"),
        "norm": "rmsnorm",
        "norm_eps": f.positive_float("rms_norm_eps", _NORM_EPS_DEFAULT.get(model_type, 1e-6)),
        "norms_per_layer": 2,
        "final_norm": True,
        "attention": _attention(f, hidden, "num_attention_heads", causal=True,
                                head_dim_default=head_dim_default, **attention_extra),
        **_stack(layers),
    }
    if model_type in ("llama", "mistral", "qwen2", "qwen3"):
        spec["mlp"] = {"kind": "swiglu", "intermediate_size": f.positive_int("intermediate_size"),
                       "bias": f.flag("mlp_bias", False) if model_type == "llama" else False}
    elif model_type == "mixtral":  # softmax over the top-k logits: always renormalised
        spec["moe"] = {"num_experts": f.positive_int("num_local_experts"),
                       "top_k": f.positive_int("num_experts_per_tok"),
                       "expert_intermediate_size": f.positive_int("intermediate_size"),
                       "normalize_top_k": True}
    elif model_type == "olmoe":
        spec["moe"] = {"num_experts": f.positive_int("num_experts"),
                       "top_k": f.positive_int("num_experts_per_tok"),
                       "expert_intermediate_size": f.positive_int("intermediate_size"),
                       "normalize_top_k": f.flag("norm_topk_prob", False)}
    else:  # qwen2_moe, qwen3_moe
        _moe_every_layer(f)
        moe = {"num_experts": f.positive_int("num_experts"), "top_k": f.positive_int("num_experts_per_tok"),
               "expert_intermediate_size": f.positive_int("moe_intermediate_size"),
               "normalize_top_k": f.flag("norm_topk_prob", False)}
        if model_type == "qwen2_moe":  # one shared expert, scaled by sigmoid(Linear(h -> 1))
            moe.update(shared_experts=1,
                       shared_expert_intermediate_size=f.positive_int("shared_expert_intermediate_size"),
                       shared_expert_gate=True)
        spec["moe"] = moe
    return spec


def _gpt2(f: _Fields, model_type: str) -> dict[str, Any]:
    """GPT-2: pre-LN LayerNorm, learned positions, biases on every linear, GELU MLP, tied head."""
    hidden = f.positive_int("n_embd")
    return {
        "family": "decoder",
        "hidden_size": hidden,
        "vocab_size": f.positive_int("vocab_size"),
        "tied_embeddings": f.flag("tie_word_embeddings", True),
        "positional": "learned",
        "max_position_embeddings": f.positive_int("n_positions"),
        "norm": "layernorm",
        "norm_eps": f.positive_float("layer_norm_epsilon", 1e-5),
        "norms_per_layer": 2,
        "final_norm": True,
        "attention": _attention(f, hidden, "n_head", causal=True, qkv_bias=True, out_bias=True),
        "mlp": {"kind": "gelu", "intermediate_size": f.positive_int("n_inner", 4 * hidden), "bias": True},
        **_stack(f.positive_int("n_layer")),
    }


def _albert(f: _Fields, model_type: str) -> dict[str, Any]:
    """ALBERT: one shared group of `inner_group_num` post-LN layers applied `num_hidden_layers`
    times, factorised embedding, pooler head; the MLM head is not modelled."""
    hidden = f.positive_int("hidden_size")
    seq_len = f.positive_int("max_position_embeddings")
    inner = f.positive_int("inner_group_num", 1)
    f.require(f.config.get("num_hidden_groups", 1) == 1,
              "num_hidden_groups: only 1 (all layers share one group) is supported")
    return {
        "family": "encoder",
        "hidden_size": hidden,
        "vocab_size": f.positive_int("vocab_size"),
        "embedding_size": f.positive_int("embedding_size"),
        "tied_embeddings": f.flag("tie_word_embeddings", True),
        "lm_head": False,
        "positional": "learned",
        "max_position_embeddings": seq_len,
        "token_type_embeddings": f.positive_int("type_vocab_size", 2),
        "embedding_norm": True,
        "norm": "layernorm",
        "norm_eps": f.positive_float("layer_norm_eps", 1e-12),
        "norms_per_layer": 2,
        "norm_placement": "post_residual",
        "final_norm": False,
        "attention": _attention(f, hidden, "num_attention_heads", causal=False, qkv_bias=True, out_bias=True),
        "mlp": {"kind": "gelu", "intermediate_size": f.positive_int("intermediate_size"), "bias": True},
        "blocks": [{"name": "layer", "num_layers": inner}],
        "schedule": [{"repeat": "loop", "body": ["layer"]}],
        "loop": {"count": f.positive_int("num_hidden_layers")},
        "task": {"name": "sequence", "seq_len": seq_len},
        "heads": [{"name": "pooler", "out_features": hidden, "bias": True}],
    }


def _gemma(f: _Fields, model_type: str) -> dict[str, Any]:
    """Gemma 2 and Gemma 3 (text): RMSNorm before and after both attention and MLP (the (1 + w)
    form has the same weights), GELU-gated MLP (same shapes as SwiGLU), embeddings scaled by
    sqrt(hidden_size), tied head; Gemma 3 adds per-head q/k norms. Sliding-window layers, logit
    soft-capping and Gemma 3's local RoPE base change no matmul shape and are not modelled."""
    hidden = f.positive_int("hidden_size")
    gemma3 = model_type == "gemma3_text"
    return {
        "family": "decoder",
        "hidden_size": hidden,
        "vocab_size": f.positive_int("vocab_size"),
        "tied_embeddings": f.flag("tie_word_embeddings", True),
        "embedding_scale": hidden ** 0.5,
        "positional": "rope",
        "rope_theta": _rope_theta(f, model_type),
        "max_position_embeddings": f.positive_int("max_position_embeddings"),
        "norm": "rmsnorm",
        "norm_eps": f.positive_float("rms_norm_eps", 1e-6),
        "norms_per_layer": 4,
        "norm_placement": "sandwich",
        "attention": _attention(f, hidden, "num_attention_heads", causal=True, head_dim_default=256,
                                qkv_bias=f.flag("attention_bias", False), out_bias=f.flag("attention_bias", False),
                                qk_norm="per_head" if gemma3 else "none"),
        "mlp": {"kind": "swiglu", "intermediate_size": f.positive_int("intermediate_size")},
        **_stack(f.positive_int("num_hidden_layers")),
    }


def _hrm_text(f: _Fields, model_type: str) -> dict[str, Any]:
    """HRM-Text (transformers models/hrm_text): stacks L and H of `num_layers_per_stack` layers;
    per token H_cycles x {L_cycles x z_L = L(z_L + z_H); z_H = H(z_H + z_L)}, each stack ending
    in its own weightless RMSNorm. A serialised config carries num_layers_per_stack and the
    inflated num_hidden_layers (one KV slot per attention invocation); a first-construction
    config gives the per-stack depth as num_hidden_layers. MHA with a sigmoid output gate."""
    hidden = f.positive_int("hidden_size")
    h_cycles, l_cycles = f.positive_int("H_cycles", 2), f.positive_int("L_cycles", 3)
    per_stack = f.positive_int("num_layers_per_stack" if f.config.get("num_layers_per_stack") is not None
                               else "num_hidden_layers", 16)
    bias = f.flag("attention_bias", False)
    attention = _attention(f, hidden, "num_attention_heads", causal=True, head_dim_default=128,
                           qkv_bias=bias, out_bias=bias, output_gate=True)
    attention["num_kv_heads"] = attention["num_heads"]   # HrmTextAttention: MHA whatever the config says
    initializer_range = f.positive_float("initializer_range", 0.02)
    return {
        "family": "recursive_reasoning",
        "hidden_size": hidden,
        "vocab_size": f.positive_int("vocab_size"),
        "tied_embeddings": f.flag("tie_word_embeddings", False),
        "embedding_scale": f.positive_float("embedding_scale", 1.0 / initializer_range),
        "positional": "rope",
        "rope_theta": _rope_theta(f, model_type),
        "max_position_embeddings": f.positive_int("max_position_embeddings", 2048),
        "norm": "rmsnorm_no_weight",
        "norm_eps": f.positive_float("rms_norm_eps", 1e-6),
        "norms_per_layer": 2,
        "final_norm": False,
        "attention": attention,
        "mlp": {"kind": "swiglu", "intermediate_size": f.positive_int("intermediate_size", 4096),
                "bias": f.flag("mlp_bias", False)},
        "blocks": [{"name": "L", "num_layers": per_stack}, {"name": "H", "num_layers": per_stack}],
        "schedule": [{"repeat": "loop", "body": [
            {"repeat": l_cycles, "inject": "add", "final_norm": True, "body": ["L"]},
            {"repeat": 1, "inject": "add", "final_norm": True, "body": ["H"]}]}],
        "loop": {"count": h_cycles, "kv_policy": "per_loop"},
    }


_BUILDERS: dict[str, Callable[[_Fields, str], dict[str, Any]]] = {
    "llama": _decoder, "mistral": _decoder, "qwen2": _decoder, "qwen3": _decoder,
    "mixtral": _decoder, "olmoe": _decoder, "qwen2_moe": _decoder, "qwen3_moe": _decoder,
    "gpt2": _gpt2, "albert": _albert, "gemma2": _gemma, "gemma3_text": _gemma, "hrm_text": _hrm_text,
}
# Class-name stem in `architectures` (LlamaForCausalLM, GPT2LMHeadModel) -> model_type.
_CLASS_STEMS = {t.replace("_", ""): t for t in _BUILDERS} | {"gemma3": "gemma3_text"}
SUPPORTED_MODEL_TYPES = tuple(sorted(_BUILDERS))


def _model_type(config: dict[str, Any], source: str) -> str:
    """`model_type`, or failing that the architecture class named in `architectures`."""
    model_type = config.get("model_type")
    supported = ", ".join(SUPPORTED_MODEL_TYPES)
    if model_type is not None:
        if isinstance(model_type, str) and model_type in _BUILDERS:
            return model_type
        raise ConfigError(f"{source}: model_type: unsupported architecture {model_type!r}; supported: {supported}")
    architectures = config.get("architectures")
    for name in architectures if isinstance(architectures, list) else []:
        match = re.match(r"([A-Za-z0-9]+?)(For[A-Z]|LMHead|Model$)", name) if isinstance(name, str) else None
        if match and match.group(1).lower() in _CLASS_STEMS:
            return _CLASS_STEMS[match.group(1).lower()]
    raise ConfigError(f"{source}: model_type: required field is missing (architectures names no supported "
                      f"architecture either); supported: {supported}")


def _model_name(config: dict[str, Any], source: str) -> str:
    name = config.get("_name_or_path")
    if isinstance(name, str) and name.strip():
        return name.strip()
    path = Path(source)
    return path.parent.name if path.stem == "config" and path.parent.name else path.stem


def model_dict_from_hf_config(config: dict[str, Any], source: str) -> dict[str, Any]:
    """The ModelSpec document (a plain dict, validated by the caller) for a HF config.json."""
    model_type = _model_type(config, source)
    fields = _Fields(config)
    spec = _BUILDERS[model_type](fields, model_type)
    if fields.problems:
        problems = list(dict.fromkeys(fields.problems))
        head = f"{source}: " + (f"{len(problems)} problems: " if len(problems) > 1 else "")
        raise ConfigError(head + "; ".join(problems))
    return {
        "name": _model_name(config, source),
        "source": f"Hugging Face config {source} (model_type {model_type})",
        **spec,
    }
