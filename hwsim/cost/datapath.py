"""Datapath physics: which engine an op runs on, how fast it gets there, and where quantised
weights are unpacked. Every figure comes from the hardware spec and its `datapath` section
(hwsim.spec.hardware.DatapathSpec, defaults per device class); docs/cost.md gives the sources.

- A GEMM runs on whichever engine finishes it first: the matrix engine, on its rows padded to
  the engine's real minimum tile (`tile_m`) at the size-dependent efficiency, or the vector
  engine as a GEMV-style kernel (`gemv_on_vector`) at its own rate. A batch-1 decode product is
  thus never silently padded to 16 or 64 rows when the device has a faster way to run it.
- Efficiency curves are looked up by engine and rate, not by dtype name: a curve fitted at fp16
  serves bf16 on an engine where the two peaks are equal.
- Unpacking weight-only formats costs vector time only where the device unpacks in a separate
  pass (`dequant: vector`) or when a weight is fetched into on-chip memory (`load`); `fused`
  unpacking happens in the MAC array or the kernel's registers and costs no extra pass.
"""

from __future__ import annotations

import numpy as np

from hwsim import units
from hwsim.cost.efficiency import curve_fraction, gemm_size
from hwsim.spec.hardware import ComputeEngineSpec, EfficiencyCurve, HardwareSpec
from hwsim.workload import trace as T

# The type unpacked weights take (bf16 runs at the fp16 rate on every vector engine listed).
UNPACKED_DTYPE = "fp16"


def curve_for(engine: ComputeEngineSpec, dtype: str) -> EfficiencyCurve | None:
    """The engine's efficiency curve for `dtype`: its own, the one of the dtype it runs at, then
    one fitted at any dtype the engine runs at the same peak (fp16 == bf16 where the rates are
    equal), then `any`; None when the engine has none."""
    curves = engine.efficiency_curve
    used, rate = engine.rate_for(dtype)
    for key in (dtype, used):
        if key in curves:
            return curves[key]
    for key in sorted(k for k in curves if k != "any"):
        if engine.rate_for(key)[1] == rate:
            return curves[key]
    return curves.get("any")


def matrix_efficiency(engine: ComputeEngineSpec, dtype: str, flops, m) -> np.ndarray:
    """Achievable fraction of `engine`'s peak at `dtype` for GEMMs of `flops` FLOPs and `m` rows."""
    shape = np.broadcast(np.asarray(flops), np.asarray(m)).shape
    curve = curve_for(engine, dtype)
    if curve is None:
        return np.full(shape, engine.efficiency)
    fraction = curve_fraction(curve, gemm_size(curve, flops, m))
    return fraction if fraction.shape == shape else np.broadcast_to(fraction, shape)


def engine_rate(engine: ComputeEngineSpec, dtype: str) -> float:
    """Achievable FLOP/s of `engine` at `dtype` for large work (peak x scalar efficiency)."""
    return engine.rate_for(dtype)[1] * engine.efficiency


def matrix_seconds(flops, m, dtype: str, hardware: HardwareSpec) -> np.ndarray:
    """Matrix-engine seconds of GEMMs: M padded to whole `tile_m` tiles (M = 1 on a 16-row
    array occupies 16 rows) at the size-dependent efficiency."""
    flops, m = np.asarray(flops, dtype=float), np.asarray(m, dtype=float)
    matrix = hardware.matrix
    tile_m = float(matrix.tile_m)
    rows = np.where(m > 0, m, 1.0)
    padded = np.where(m > 0, np.ceil(rows / tile_m) * tile_m / rows, 1.0)
    return flops * padded / (matrix.rate_for(dtype)[1] * matrix_efficiency(matrix, dtype, flops, m))


# Rows up to which a runtime runs a GEMM as GEMV-style kernels: llama.cpp's CUDA backend uses its
# matrix-vector kernels (mmvq / mmv) for batches up to 8 (MMVQ_MAX_BATCH_SIZE in ggml-cuda) and
# tiled GEMMs above; a tiled GEMM is what a prefill runs, whatever the vector peak.
GEMV_MAX_ROWS = 8


def gemm_seconds(flops, m, dtype: str, hardware: HardwareSpec) -> np.ndarray:
    """Seconds of GEMMs on the faster engine: the matrix engine, or (where the runtime has GEMV
    kernels, for at most GEMV_MAX_ROWS rows) the vector engine, which needs no row padding. A
    device without a separate vector engine runs the GEMV on its matrix units unpadded, at the
    fraction its kernels reach for that shape."""
    matrix_s = matrix_seconds(flops, m, dtype, hardware)
    if not hardware.resolved_datapath.gemv_on_vector:
        return matrix_s
    flops = np.asarray(flops, dtype=float)
    vector = hardware.vector
    if vector is hardware.matrix:
        gemv_s = flops / (vector.rate_for(dtype)[1] * matrix_efficiency(vector, dtype, flops, m))
    else:
        gemv_s = flops / engine_rate(vector, dtype)
    return np.where(np.asarray(m, dtype=float) <= GEMV_MAX_ROWS, np.minimum(matrix_s, gemv_s), matrix_s)


def compute_seconds(flops, m, is_gemm, dtype: str, hardware: HardwareSpec) -> np.ndarray:
    """Engine seconds of ops: GEMMs by `gemm_seconds`, the rest on the vector engine."""
    flops = np.asarray(flops, dtype=float)
    vector_s = flops / engine_rate(hardware.vector, dtype)
    return np.where(np.asarray(is_gemm, dtype=bool), gemm_seconds(flops, m, dtype, hardware), vector_s)


def unpack_passes(hardware: HardwareSpec) -> bool:
    """Whether unpacking weights is a separate pass on the vector engine with this datapath when
    every use streams the weight from main memory: `vector` always; `load` where weights come
    from a DRAM (an all-SRAM design unpacked them once, when the model was loaded); `fused` never."""
    site = hardware.resolved_datapath.dequant
    return site == "vector" or (site == "load" and hardware.dram is not None)


def dequant_flops(weight_elements, hardware: HardwareSpec):
    """Vector FLOPs of unpacking `weight_elements` quantised weights in a separate pass (zero
    where the datapath fuses the unpacking into the multiply)."""
    per_weight = hardware.overhead.dequant_flops_per_weight if unpack_passes(hardware) else 0.0
    return np.asarray(weight_elements, dtype=float) * per_weight


def dequant_seconds(weight_elements, hardware: HardwareSpec):
    """Vector-engine seconds of the unpacking pass (scalar or array, as given)."""
    seconds = dequant_flops(weight_elements, hardware) / engine_rate(hardware.vector, UNPACKED_DTYPE)
    return float(seconds) if np.ndim(seconds) == 0 else seconds


def dequant_after_residency(dequant_s: np.ndarray, weight_bytes: np.ndarray, weight_dram_bytes: np.ndarray,
                            hardware: HardwareSpec) -> np.ndarray:
    """With `dequant: load`, a weight is unpacked when it is fetched into SRAM, so an op pays
    the pass only for the share of its weight bytes that came from DRAM this time; other sites
    are unchanged."""
    if hardware.resolved_datapath.dequant != "load":
        return dequant_s
    fetched = np.divide(weight_dram_bytes, weight_bytes, out=np.zeros_like(dequant_s), where=weight_bytes > 0)
    return dequant_s * fetched


DTYPE_BITS = {"fp32": 32.0, "bf16": 16.0, "fp16": 16.0, "int16": 16.0, "fp8": 8.0, "int8": 8.0, "int4": 4.0, "fp4": 4.0}


def stored_narrower(weight_bits, compute_dtype: str) -> np.ndarray:
    """Per op: weights stored narrower than the compute type, so they are unpacked before the
    multiply (a 16-bit LM head under w4a16 is not; a Q8_0 tensor under fp16 compute is)."""
    bits = np.asarray(weight_bits, dtype=float)
    return (bits > 0) & (np.floor(bits) < DTYPE_BITS[compute_dtype])


# What an op of each kind is, as bits (kind_roles): a GEMM, an explicit unpacking pass, and what
# it does with the attention's score matrix (score_bytes).
GEMM, DEQUANT, WRITES_SCORES, READS_SCORES = 1, 2, 4, 8
_ROLES = {**{kind: GEMM for kind in T.GEMM_KINDS}, "dequant": DEQUANT, "softmax": READS_SCORES | WRITES_SCORES}
_ROLES["attn_score"] |= WRITES_SCORES
_ROLES["attn_value"] |= READS_SCORES


def kind_roles(op_kind) -> np.ndarray:
    """Per op, the role bits of its kind: each op's kind is looked up once (comparing a column of
    strings to each kind costs more)."""
    return np.fromiter((_ROLES.get(kind, 0) for kind in op_kind), dtype=np.int8, count=len(op_kind))


def score_bytes(trace, roles: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(in, out) bytes per op that are the attention score matrix: attn_score writes it, softmax
    reads and writes it, attn_value reads it (M x K of its product). A fused (FlashAttention)
    kernel keeps them in on-chip tiles. `roles`: kind_roles of the trace, where the caller has them."""
    roles = kind_roles(trace[T.OP_KIND]) if roles is None else roles
    reads, writes = (roles & READS_SCORES) > 0, (roles & WRITES_SCORES) > 0
    act_in, act_out = np.asarray(trace[T.ACT_IN_BYTES], dtype=float), np.asarray(trace[T.ACT_OUT_BYTES], dtype=float)
    softmax = reads & writes
    if softmax.any():        # the softmax over the scores, not another (a router's top-k)
        softmax[softmax] = np.asarray(trace[T.NAME], dtype=object)[softmax] == "softmax"
    scores_in = units.bytes_for(np.asarray(trace[T.M], dtype=float) * np.asarray(trace[T.K], dtype=float),
                                np.asarray(trace[T.ACT_BITS], dtype=float))
    score_in = np.where(softmax, act_in, np.where(reads & ~writes, np.minimum(scores_in, act_in), 0.0))
    score_out = np.where(softmax | (writes & ~reads), act_out, 0.0)
    return score_in, score_out


# Share of the SRAM activations may take from weights (the simulator's split; a fused attention
# block must fit in it).
ACTIVATION_SHARE = 0.5


def attention_tile_bytes(head_dim: float, act_bits: float, tile: int) -> float:
    """On-chip bytes of one FlashAttention block (Dao et al. 2022, Algorithm 1): a Br x d query
    tile and its Br x d output accumulator, Bc x d key and value tiles, and the Br x Bc scores."""
    return units.bytes_for(4 * tile * head_dim + tile * tile, act_bits)


def attention_shape(trace, roles: np.ndarray | None = None) -> tuple[float, float]:
    """(head_dim, activation bits) of a trace's attention (trace columns or a frame); head_dim 0
    when it has no attention. `roles`: kind_roles of the trace, where the caller has them."""
    roles = kind_roles(np.asarray(trace[T.OP_KIND], dtype=object)) if roles is None else roles
    scores = (roles & (WRITES_SCORES | READS_SCORES)) == WRITES_SCORES      # attn_score
    if not scores.any():
        return 0.0, 0.0
    return (float(np.asarray(trace[T.K], dtype=float)[scores].max()),
            float(np.asarray(trace[T.ACT_BITS], dtype=float).max()))


def fused_attention_fits(head_dim: float, act_bits: float, hardware: HardwareSpec, sram_bytes: float) -> bool:
    """Whether the device runs attention as one tiled kernel whose block fits the activation
    share of the SRAM (always, on a device without DRAM or a trace without attention)."""
    datapath = hardware.resolved_datapath
    return bool(tiles_fit(head_dim, act_bits, np.asarray(datapath.fused_attention),
                          np.asarray(hardware.dram is not None), np.asarray(float(datapath.attention_tile)),
                          np.asarray(sram_bytes)))


def tiles_fit(head_dim: float, act_bits: float, fused_kernel: np.ndarray, has_dram: np.ndarray, tile: np.ndarray,
              sram_bytes: np.ndarray) -> np.ndarray:
    """`fused_attention_fits` over arrays of devices (the closed form prices many at once)."""
    if head_dim == 0:
        return fused_kernel.astype(bool)
    fits = attention_tile_bytes(head_dim, act_bits, tile) <= ACTIVATION_SHARE * sram_bytes
    return fused_kernel.astype(bool) & (~has_dram.astype(bool) | fits)


def grouped_expert_followers(op_names) -> np.ndarray:
    """Per op: an MoE expert op (`expert{e}.gate`, `.up`, `.act`, `.down`) whose projection a
    grouped kernel already launched for an earlier expert of the same layer application (its
    experts' rows are one contiguous run in a trace)."""
    names = np.asarray(op_names, dtype=object)
    follower = np.zeros(len(names), dtype=bool)
    if not any(str(name).startswith("expert") for name in set(names)):     # no expert op (most traces)
        return follower
    launched: set[str] = set()
    for i, name in enumerate(names):
        if not str(name).startswith("expert"):
            launched.clear()        # the run of this layer's experts has ended
            continue
        projection = str(name).split(".", 1)[-1]
        follower[i] = projection in launched
        launched.add(projection)
    return follower


def launch_seconds(grouped_followers: np.ndarray, hardware: HardwareSpec) -> np.ndarray:
    """Per-op launch time: every op pays the device's launch overhead, except experts that a
    grouped MoE kernel (`grouped_moe`: ggml mul_mat_id, vLLM fused_moe) launched with the first."""
    grouped = hardware.resolved_datapath.grouped_moe
    return np.where(grouped & np.asarray(grouped_followers, dtype=bool), 0.0, hardware.overhead.op_launch_s)


# Formats stored with the same bytes and read by the same kernels: their achievable DRAM
# fraction is the same (a bf16 file streams like an fp16 one; calibration rows are llama.cpp F16).
STORED_ALIKE = {"bf16": "fp16"}


def format_keys(quant) -> tuple[str, ...]:
    """Keys under which a per-format DRAM efficiency may be listed for `quant`, in order."""
    keys = (quant.name, quant.weight.name)
    return keys + tuple(STORED_ALIKE[k] for k in keys if k in STORED_ALIKE)
