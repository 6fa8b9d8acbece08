"""Numeric formats and QuantSpec: how many bits each weight, activation and KV element takes.

A format's effective bits include its group overhead: bits + (scale_bits + zero_bits) / group.
So llama.cpp Q4_0 (32 x 4-bit + one fp16 scale) is 4 + 16/32 = 4.5 bits per weight and
Q8_0 is 8.5 (block layouts: ggml-org/llama.cpp ggml/src/ggml-common.h).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from hwsim.spec._base import Spec

DType = Literal["fp32", "bf16", "fp16", "int16", "fp8", "int8", "int4", "fp4"]

# Wider-first order: where an engine lacks a rate for a dtype, it runs at the next wider one.
DTYPE_WIDER: dict[str, str | None] = {
    "fp4": "int4", "int4": "int8", "fp8": "int8", "int8": "int16", "int16": "fp16", "bf16": "fp16",
    "fp16": "fp32", "fp32": None,
}


class FormatSpec(Spec):
    """One storage format. `dtype` is the element type the hardware sees once unpacked."""

    name: str
    dtype: DType
    bits: float = Field(gt=0, le=32)
    group_size: int = Field(0, ge=0, description="elements sharing one scale; 0 = no groups")
    scale_bits: float = Field(0, ge=0, description="bits of scale stored per group")
    zero_bits: float = Field(0, ge=0, description="bits of zero point / min stored per group")
    source: str = ""

    @model_validator(mode="after")
    def _groups_need_a_size(self):
        if (self.scale_bits or self.zero_bits) and not self.group_size:
            raise ValueError("scale_bits/zero_bits need a group_size > 0")
        return self

    @property
    def effective_bits(self) -> float:
        if not self.group_size:
            return self.bits
        return self.bits + (self.scale_bits + self.zero_bits) / self.group_size


_GGML = "ggml-org/llama.cpp ggml/src/ggml-common.h (block layout)"
_LAYOUT = "computed from the block layout in ggml/src/ggml-common.h (GitHub ggml-org/llama.cpp)"

FORMATS: dict[str, FormatSpec] = {f.name: f for f in [
    FormatSpec(name="fp32", dtype="fp32", bits=32),
    FormatSpec(name="fp16", dtype="fp16", bits=16),
    FormatSpec(name="bf16", dtype="bf16", bits=16),
    FormatSpec(name="fp8", dtype="fp8", bits=8, source="FP8 E4M3, per-tensor scale (negligible)"),
    FormatSpec(name="int16", dtype="int16", bits=16, source="per-tensor int16 activations, scale negligible"),
    FormatSpec(name="int8", dtype="int8", bits=8, source="per-channel int8, scale negligible"),
    FormatSpec(name="int4", dtype="int4", bits=4),
    FormatSpec(name="int4-g128", dtype="int4", bits=4, group_size=128, scale_bits=16,
               source=_LAYOUT + ": 4 + 16/128 = 4.125"),
    FormatSpec(name="int4-g128-zp", dtype="int4", bits=4, group_size=128, scale_bits=16,
               zero_bits=4, source=_LAYOUT + ": GPTQ/AWQ packed zero, 4.15625"),
    FormatSpec(name="int4-g64", dtype="int4", bits=4, group_size=64, scale_bits=16,
               source="AWQ/GPTQ-style int4 with one 16-bit scale per 64 weights: 4 + 16/64 = 4.25"),
    FormatSpec(name="q4_0", dtype="int4", bits=4, group_size=32, scale_bits=16, source=_GGML),
    FormatSpec(name="q4_1", dtype="int4", bits=4, group_size=32, scale_bits=16, zero_bits=16,
               source=_GGML),
    FormatSpec(name="q5_0", dtype="int8", bits=5, group_size=32, scale_bits=16, source=_GGML),
    FormatSpec(name="q8_0", dtype="int8", bits=8, group_size=32, scale_bits=16, source=_GGML),
    # k-quants: 256-element super-blocks; scale_bits/zero_bits hold d/dmin plus sub-block scales.
    FormatSpec(name="q4_k", dtype="int4", bits=4, group_size=256, scale_bits=64, zero_bits=64,
               source=_GGML + ": 144 B per 256 = 4.5"),
    FormatSpec(name="q5_k", dtype="int8", bits=5, group_size=256, scale_bits=64, zero_bits=64,
               source=_GGML + ": 176 B per 256 = 5.5"),
    FormatSpec(name="q6_k", dtype="int8", bits=6, group_size=256, scale_bits=144,
               source=_GGML + ": 210 B per 256 = 6.5625"),
    FormatSpec(name="mxfp4", dtype="fp4", bits=4, group_size=32, scale_bits=8,
               source="OCP MX spec: 32 x E2M1 + E8M0 scale = 4.25"),
    FormatSpec(name="nvfp4", dtype="fp4", bits=4, group_size=16, scale_bits=8,
               source="NVFP4: 16 x E2M1 + UE4M3 scale = 4.5"),
]}

# llama.cpp recipes keep some tensors wider than the base type (src/llama-quant.cpp):
# output.weight (or the tied embedding) is Q6_K for the k-quant and legacy recipes.
_LLAMA_CPP_OUTPUT = {"lm_head": "q6_k"}
# Everyone else keeps the output head and the embeddings at 16 bits: AWQ and GPTQ quantise only
# the decoder's linear layers (AutoAWQ / AutoGPTQ skip lm_head), SmoothQuant w8a8 and vLLM fp8
# leave lm_head unquantised, and NPU toolchains keep the head at >= 8 bits. `head_overrides`
# sets another format for both per run (`--head-format`); a sweep sets
# `model.quant.overrides.lm_head` / `.embed`.
_HEAD_16BIT = {"lm_head": "bf16", "embed": "bf16"}

TensorRole = Literal["lm_head", "embed", "attn_v", "mlp_down"]


class QuantSpec(Spec):
    """Precision of weights, activations and the KV cache.

    `overrides` maps a tensor role to another format name (llama.cpp keeps the output head at
    Q6_K). `more_bits` applies `more_bits_format` to attn_v and mlp_down in llama.cpp's
    `use_more_bits` layers, which is what makes Q4_K_M.
    """

    name: str = "bf16"
    weight: FormatSpec = FORMATS["bf16"]
    act: FormatSpec = FORMATS["bf16"]
    kv: FormatSpec = FORMATS["bf16"]
    overrides: dict[TensorRole, str] = Field(default_factory=dict)
    more_bits_format: str | None = None
    matmul_dtype: DType | None = Field(None, description="the type a matmul's activations are quantised to "
                                       "on the fly, where it differs from how they are stored")
    source: str = ""

    @model_validator(mode="after")
    def _known_formats(self):
        for role, fmt in self.overrides.items():
            if fmt not in FORMATS:
                raise ValueError(f"overrides.{role}: unknown format {fmt!r}")
        if self.more_bits_format is not None and self.more_bits_format not in FORMATS:
            raise ValueError(f"more_bits_format: unknown format {self.more_bits_format!r}")
        return self

    @property
    def compute_dtype(self) -> str:
        """The dtype the matrix unit runs at: `matmul_dtype` where the recipe quantises a
        matmul's activations on the fly (llama.cpp block formats: int8); else the weight dtype
        when activations share it (w8a8, fp8, fp4 / int4 compute), else the activation dtype,
        with the weights unpacked on the way: weight-only formats (w4a16) compute at 16 bits,
        w4a8 at int8. An engine without the rate runs the next wider one (fp16 on Apple GPUs)."""
        if self.matmul_dtype is not None:
            return self.matmul_dtype
        return self.weight.dtype if self.weight.dtype == self.act.dtype else self.act.dtype

    @property
    def weight_only(self) -> bool:
        """Weights narrower than a 16-bit compute type (w4a16, q4_0): the low-bit peaks go unused."""
        return self.dequantizes and self.compute_dtype in ("bf16", "fp16", "fp32")

    @property
    def dequantizes(self) -> bool:
        """True when weights are unpacked to a wider compute type (costs vector work)."""
        return self.weight.dtype != self.compute_dtype

    def weight_bits_for(self, role: str, layer: int = 0, num_layers: int = 1) -> float:
        """Effective bits of one weight tensor, after the recipe's per-role rules."""
        if role in self.overrides:
            return FORMATS[self.overrides[role]].effective_bits
        if self.more_bits_format and role in ("attn_v", "mlp_down") and _use_more_bits(layer, num_layers):
            return FORMATS[self.more_bits_format].effective_bits
        return self.weight.effective_bits


def _use_more_bits(layer: int, num_layers: int) -> bool:
    """llama.cpp src/llama-quant.cpp `use_more_bits(i, n)`."""
    return layer < num_layers // 8 or layer >= 7 * num_layers // 8 or (layer - num_layers // 8) % 3 == 2


def _weight_only(name: str, fmt: str, **extra) -> QuantSpec:
    return QuantSpec(name=name, weight=FORMATS[fmt], overrides=_HEAD_16BIT, **extra)


def head_overrides(quant: QuantSpec, fmt: str) -> QuantSpec:
    """`quant` with the LM head and the embeddings stored as `fmt` (a FORMATS name)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(sorted(FORMATS))}")
    return quant.model_copy(update={"overrides": {**quant.overrides, "lm_head": fmt, "embed": fmt}})


QUANT_PRESETS: dict[str, QuantSpec] = {q.name: q for q in [
    QuantSpec(name="fp32", weight=FORMATS["fp32"], act=FORMATS["fp32"], kv=FORMATS["fp32"]),
    QuantSpec(name="fp16", weight=FORMATS["fp16"], act=FORMATS["fp16"], kv=FORMATS["fp16"]),
    QuantSpec(name="bf16"),
    QuantSpec(name="fp8", weight=FORMATS["fp8"], act=FORMATS["fp8"], overrides=_HEAD_16BIT,
              source="fp8 weights and activations, fp8 matmul; lm_head bf16 as in vLLM"),
    QuantSpec(name="int8", weight=FORMATS["int8"], act=FORMATS["int8"], overrides=_HEAD_16BIT,
              source="w8a8 (SmoothQuant-style): int8 weights and activations, int8 matmul"),
    QuantSpec(name="w4a8", weight=FORMATS["int4-g128"], act=FORMATS["int8"], overrides=_HEAD_16BIT,
              source="w4a8 (QServe-style): int4 weights unpacked to int8 in the datapath, int8 matmul"),
    QuantSpec(name="w4a16-int", weight=FORMATS["int4-g128"], act=FORMATS["int16"], overrides=_HEAD_16BIT,
              source="int4 weights x int16 activations on an integer MAC array: Qualcomm QNN / HTP 'w4a16' "
                     "(A16W4; the GPU-style w4a16 with fp16 activations is int4-g128)"),
    QuantSpec(name="w4a4", weight=FORMATS["int4-g128"], act=FORMATS["int4"], overrides=_HEAD_16BIT,
              source="w4a4: int4 weights and activations, int4 matmul where the engine has one"),
    QuantSpec(name="fp4", weight=FORMATS["nvfp4"], act=FORMATS["nvfp4"], overrides=_HEAD_16BIT,
              source="NVFP4 weights and activations, fp4 matmul (Blackwell-class tensor cores)"),
    _weight_only("int8-w8a16", "int8"),
    _weight_only("int4-g128", "int4-g128", source="w4a16 (GPTQ/AWQ-style), dequantised to bf16"),
    _weight_only("int4-g128-zp", "int4-g128-zp"),
    _weight_only("int4-g64", "int4-g64", source="w4a16 at group size 64 (AWQ's choice for some models), "
                 "dequantised to bf16"),
    _weight_only("mxfp4", "mxfp4"),
    _weight_only("nvfp4", "nvfp4"),
    # MLC LLM's q4f16_1 (mlc_llm/quantization/quantization.py: GroupQuantize with group_size 32,
    # int4, fp16 model dtype, quantize_embedding and quantize_final_fc both true): Q4_0's block
    # of 32 4-bit weights and one fp16 scale on every linear layer, the LM head and the
    # embedding included; dequantised to fp16 inside the GEMM kernels.
    QuantSpec(name="q4f16_1", weight=FORMATS["q4_0"], act=FORMATS["fp16"], kv=FORMATS["fp16"],
              source="MLC LLM q4f16_1: group-32 int4 with an fp16 scale on every weight, head and embedding "
                     "included (GroupQuantize, quantize_final_fc)"),
    QuantSpec(name="q4_0", weight=FORMATS["q4_0"], act=FORMATS["fp16"], kv=FORMATS["fp16"], matmul_dtype="int8",
              overrides=_LLAMA_CPP_OUTPUT, source="llama.cpp Q4_0 file type"),
    QuantSpec(name="q4_1", weight=FORMATS["q4_1"], act=FORMATS["fp16"], kv=FORMATS["fp16"], matmul_dtype="int8",
              overrides=_LLAMA_CPP_OUTPUT, source="llama.cpp Q4_1 file type"),
    QuantSpec(name="q8_0", weight=FORMATS["q8_0"], act=FORMATS["fp16"], kv=FORMATS["fp16"], matmul_dtype="int8",
              source="llama.cpp Q8_0 file type (output tensor stays Q8_0)"),
    QuantSpec(name="q4_k_m", weight=FORMATS["q4_k"], act=FORMATS["fp16"], kv=FORMATS["fp16"], matmul_dtype="int8",
              overrides=_LLAMA_CPP_OUTPUT, more_bits_format="q6_k",
              source="llama.cpp Q4_K_M recipe, src/llama-quant.cpp"),
    QuantSpec(name="q5_k_m", weight=FORMATS["q5_k"], act=FORMATS["fp16"], kv=FORMATS["fp16"], matmul_dtype="int8",
              overrides=_LLAMA_CPP_OUTPUT, more_bits_format="q6_k",
              source="llama.cpp Q5_K_M recipe, src/llama-quant.cpp"),
    QuantSpec(name="q6_k", weight=FORMATS["q6_k"], act=FORMATS["fp16"], kv=FORMATS["fp16"], matmul_dtype="int8",
              source="llama.cpp Q6_K file type"),
]}
QUANT_PRESETS["f16"] = QUANT_PRESETS["fp16"]
QUANT_PRESETS["w8a8"] = QUANT_PRESETS["int8"]


def quant_preset(name: str) -> QuantSpec:
    """Look up a named quantisation ("int4-g128", "q4_0", ...); unknown names list the choices."""
    wanted = name.strip().lower()
    for candidate in (wanted, wanted.replace("-", "_"), wanted.replace("_", "-")):
        if candidate in QUANT_PRESETS:
            return QUANT_PRESETS[candidate]
    from hwsim.resources import unknown_name

    raise ValueError(unknown_name("quantisation", name, sorted(QUANT_PRESETS)))
