"""Weights of the reference executor: one stored tensor per `weight_id` of the weight table.

The table (hwsim.workload.weights) is the single source of tensor identities, so a block
shared by loop iterations is ONE array here, looked up by the same id in every iteration.
Weights are seeded random (scaled 1/sqrt(width) so deep loops and logits stay O(1)) or read from a
safetensors file; matrices and embeddings are then stored in the model's weight format and
dequantised on every use, as a quantised runtime does:

- int formats (int8, int4, q4_0, ...): symmetric codes with one scale per group of
  `group_size` input elements (per output column when the format has no groups; a group never
  spans more than the tensor's input width); formats with a zero field store an offset too;
- fp16 / bf16: values rounded to that precision; fp32: exact.
Vectors (norm scales, q/k bias) stay float32, as the weight table counts them at activation
precision.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwsim.errors import ConfigError
from hwsim.spec.model import ModelSpec
from hwsim.spec.quant import FORMATS, FormatSpec
from hwsim.workload.weights import WeightTensor, weight_table

BIAS_SUFFIX = ".bias"


@dataclass(frozen=True)
class StoredTensor:
    """A tensor in its storage format. `values()` dequantises it (on every call, by design)."""

    codes: np.ndarray                 # float32 values, or integer codes
    scales: np.ndarray | None = None  # per (group, column) scales for integer codes
    offsets: np.ndarray | None = None
    group_size: int = 0

    def values(self) -> np.ndarray:
        if self.scales is None:
            return self.codes
        rows, cols = self.codes.shape
        grouped = self.codes.reshape(rows // self.group_size, self.group_size, cols).astype(np.float32)
        grouped = grouped * self.scales[:, None, :]
        if self.offsets is not None:
            grouped = grouped + self.offsets[:, None, :]
        return grouped.reshape(rows, cols)

    @property
    def num_elements(self) -> int:
        return int(self.codes.size)


@dataclass(frozen=True)
class Param:
    """One weight_id: the weight, stored (in_features, out_features) for matrices and
    embeddings alike (an embedding is (width, vocab rows), so a tied head is `x @ table`), and
    its folded bias, if any."""

    weight: StoredTensor
    bias: np.ndarray | None = None

    @property
    def num_elements(self) -> int:
        return self.weight.num_elements + (0 if self.bias is None else int(self.bias.size))


class ReferenceWeights:
    """weight_id -> Param for one model; built from float32 master arrays."""

    def __init__(self, model: ModelSpec, arrays: dict[str, np.ndarray]):
        self.model = model
        self.params: dict[str, Param] = {}
        for tensor in weight_table(model).tensors:
            if tensor.weight_id not in arrays:
                raise ConfigError(f"weights: tensor {tensor.weight_id!r} is missing")
            weight = np.asarray(arrays[tensor.weight_id], dtype=np.float32)
            bias = arrays.get(tensor.weight_id + BIAS_SUFFIX)
            expected = _weight_shape(tensor)
            if weight.shape != expected:
                raise ConfigError(f"weights: tensor {tensor.weight_id!r} has shape {weight.shape}, "
                                  f"expected {expected}")
            stored = (StoredTensor(weight) if tensor.kind == "vector"
                      else store(weight, _format_of(model, tensor)))
            self.params[tensor.weight_id] = Param(stored, None if bias is None else np.asarray(bias, np.float32))

    def __getitem__(self, weight_id: str) -> Param:
        return self.params[weight_id]

    def __contains__(self, weight_id: str) -> bool:
        return weight_id in self.params


def _weight_shape(tensor: WeightTensor) -> tuple[int, ...]:
    if tensor.kind == "vector":
        return (tensor.in_features,)
    return (tensor.in_features, tensor.out_features)


def _has_bias(tensor: WeightTensor) -> bool:
    return tensor.kind == "matrix" and tensor.num_elements > tensor.in_features * tensor.out_features


def random_arrays(model: ModelSpec, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded float32 master weights for every tensor of the model's weight table."""
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    for tensor in weight_table(model).tensors:
        shape = _weight_shape(tensor)
        if tensor.kind == "vector":
            base = 0.0 if tensor.role == "qk_bias" else 1.0
            arrays[tensor.weight_id] = (base + 0.1 * rng.standard_normal(shape)).astype(np.float32)
            continue
        std = 1.0 / np.sqrt(tensor.in_features)
        arrays[tensor.weight_id] = (std * rng.standard_normal(shape)).astype(np.float32)
        if _has_bias(tensor):
            arrays[tensor.weight_id + BIAS_SUFFIX] = (0.02 * rng.standard_normal(tensor.out_features)).astype(np.float32)
    return arrays


def random_weights(model: ModelSpec, seed: int = 0) -> ReferenceWeights:
    return ReferenceWeights(model, random_arrays(model, seed))


def save_safetensors(arrays: dict[str, np.ndarray], path: Path | str) -> None:
    from safetensors.numpy import save_file

    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in arrays.items()}, str(path))


def load_safetensors(model: ModelSpec, path: Path | str) -> ReferenceWeights:
    """Weights from a safetensors file keyed by weight_id (bias under `<id>.bias`)."""
    from safetensors.numpy import load_file

    try:
        arrays = load_file(str(path))
    except Exception as exc:  # safetensors raises its own SafetensorError, OSError for a bad path
        raise ConfigError(f"{path}: cannot read safetensors: {exc}") from None
    return ReferenceWeights(model, arrays)


def _format_of(model: ModelSpec, tensor: WeightTensor) -> FormatSpec:
    """The storage format the quant recipe gives this tensor: the one whose effective bits
    equal the tensor's bits in the weight table (the base format, an override or more_bits)."""
    quant = model.quant
    candidates = [quant.weight, *(FORMATS[f] for f in quant.overrides.values())]
    if quant.more_bits_format:
        candidates.append(FORMATS[quant.more_bits_format])
    bits = tensor.bits(model)
    return next((f for f in candidates if f.effective_bits == bits), quant.weight)


def store(weight: np.ndarray, fmt: FormatSpec) -> StoredTensor:
    """Quantise a float32 (in, out) array into `fmt`."""
    if fmt.dtype == "fp32":
        return StoredTensor(weight.astype(np.float32))
    if fmt.dtype == "fp16":
        return StoredTensor(weight.astype(np.float16).astype(np.float32))
    if fmt.dtype == "bf16":
        return StoredTensor(round_bf16(weight))
    if fmt.dtype in ("int8", "int4"):
        return _quantise_int(weight, int(fmt.bits), fmt.group_size, asymmetric=fmt.zero_bits > 0)
    raise ConfigError(f"quant: format {fmt.name!r} ({fmt.dtype}) is not supported by the reference executor")


def round_bf16(values: np.ndarray) -> np.ndarray:
    """Round float32 to the nearest bfloat16 (ties to even), returned as float32."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) & np.uint32(0xFFFF0000)
    return rounded.view(np.float32)


def _quantise_int(weight: np.ndarray, bits: int, group_size: int, asymmetric: bool) -> StoredTensor:
    rows, cols = weight.shape
    group = rows if not group_size else min(group_size, rows)
    if rows % group:
        raise ConfigError(f"quant: input width {rows} is not a multiple of the group size {group}")
    grouped = weight.reshape(rows // group, group, cols)
    if asymmetric:
        low, high = grouped.min(axis=1), grouped.max(axis=1)
        scales = np.maximum(high - low, 1e-12) / (2**bits - 1)
        codes = np.clip(np.rint((grouped - low[:, None, :]) / scales[:, None, :]), 0, 2**bits - 1)
        return StoredTensor(codes.reshape(rows, cols).astype(np.uint8), scales.astype(np.float32),
                            low.astype(np.float32), group)
    qmax = 2 ** (bits - 1) - 1
    scales = np.maximum(np.abs(grouped).max(axis=1), 1e-12) / qmax
    codes = np.clip(np.rint(grouped / scales[:, None, :]), -qmax, qmax)
    return StoredTensor(codes.reshape(rows, cols).astype(np.int8), scales.astype(np.float32), None, group)
