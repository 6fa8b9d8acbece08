"""The one op-cost kernel under both engines: what one op of a trace costs on a device.

Per op: compute seconds (FLOPs over the rate its engine reaches; which engine, the row padding of
a few-row GEMM, the GEMV path and the efficiency curve are the datapath choices of
hwsim.cost.datapath), weight-unpacking seconds where the datapath unpacks in a separate pass,
memory seconds (bytes over the achievable main-memory bandwidth, plus one access latency), launch
seconds (grouped MoE kernels launch a layer's experts once), the bound label, and the device's
prefetch mode. The
closed-form engine (hwsim.cost.closed_form) sums these per op; the discrete-event engine
(hwsim.sim.engine) schedules them. Both import this module and neither imports the other, so
they cannot disagree on how long an op computes or how fast memory moves.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from typing import Callable

import numpy as np
import pandas as pd

from hwsim import cache
from hwsim.cost import datapath
from hwsim.spec.hardware import HardwareSpec
from hwsim.spec.quant import QuantSpec
from hwsim.workload import trace as T

# Activation bits -> compute dtype, used when the caller gives no QuantSpec (8 bits could be fp8
# or int8; engines that have one usually have the other at the same rate).
_DTYPE_BY_BITS = {32.0: "fp32", 16.0: "bf16", 8.0: "int8", 4.0: "int4"}


def compute_seconds_array(flops, m, op_kind, dtype: str, hardware: HardwareSpec) -> np.ndarray:
    """Vectorised `compute_seconds` over trace columns (`op_kind` holds op-kind strings): GEMMs
    on the faster of the matrix engine (rows padded to its tile) and the GEMV path, the rest on
    the vector engine (hwsim.cost.datapath)."""
    return datapath.compute_seconds(flops, m, (datapath.kind_roles(op_kind) & datapath.GEMM) > 0, dtype, hardware)


def compute_seconds(flops: float, m: float, op_kind: str, dtype: str, hardware: HardwareSpec) -> float:
    """Seconds the engine that runs `op_kind` needs for `flops` at `dtype` (GEMMs with M rows)."""
    return float(compute_seconds_array([flops], [m], [op_kind], dtype, hardware)[0])


def dequant_flops(weight_elements, hardware: HardwareSpec):
    """Vector FLOPs of unpacking quantised weights in a separate pass (hwsim.cost.datapath)."""
    return datapath.dequant_flops(weight_elements, hardware)


def dequant_seconds(weight_elements, hardware: HardwareSpec):
    """Vector-engine seconds of the unpacking pass the datapath needs (scalar or array)."""
    return datapath.dequant_seconds(weight_elements, hardware)


def memory_seconds(num_bytes, hardware: HardwareSpec, efficiency: float | None = None):
    """Seconds to move `num_bytes` to or from main memory: bytes over (bandwidth x efficiency),
    plus one access latency when anything moves. Scalar or array."""
    level = hardware.main_memory
    fraction = level.efficiency if efficiency is None else efficiency
    num_bytes = np.asarray(num_bytes, dtype=float)
    seconds = num_bytes / (level.bandwidth_bytes_per_s * fraction) + np.where(num_bytes > 0, level.latency_s, 0.0)
    return float(seconds) if seconds.ndim == 0 else seconds



# --- per-op bound over a trace -----------------------------------------------------------------

@dataclass(frozen=True)
class TraceDemand:
    """The hardware-independent columns of a trace the bound needs, as numpy arrays (so a
    hardware sweep re-prices one trace without touching pandas)."""

    dtype: str                  # compute dtype of the GEMMs
    flops: np.ndarray
    m: np.ndarray
    is_gemm: np.ndarray
    dequant_elements: np.ndarray
    weight_bytes: np.ndarray
    kv_bytes: np.ndarray        # read + written
    act_bytes: np.ndarray       # in + out
    read_bytes: np.ndarray      # weights + KV reads + input activations
    write_bytes: np.ndarray     # output activations + KV writes
    kv_write_bytes: np.ndarray
    weight_ids: np.ndarray
    repeat: np.ndarray          # times each row runs back to back (T.REPEAT: steady loop iterations)
    score_read_bytes: np.ndarray   # attention scores read (softmax, attn_value): a fused kernel
    score_write_bytes: np.ndarray  # and written (attn_score, softmax) keeps them in on-chip tiles
    attention: tuple            # (head_dim, activation bits) of the attention (datapath.attention_shape)
    kv_keepable_bytes: np.ndarray  # KV reads a residency policy may serve on chip (looped layers)
    grouped_followers: np.ndarray  # expert ops a grouped MoE kernel launches with an earlier one
    # engine seconds per compute-engine spec (demand_compute_seconds): a sweep over memory reuses them
    engine_seconds: dict = field(default_factory=dict, compare=False, repr=False)
    # counts unique_weight_bytes where the rows cannot (merged layers name the first one's tensors)
    count_weight_bytes: Callable[[], float] | None = field(default=None, compare=False, repr=False)

    def take(self, rows: np.ndarray) -> TraceDemand:
        """The demand of the selected rows (a boolean mask or indices)."""
        arrays = {f.name: getattr(self, f.name)[rows] for f in fields(self)
                  if isinstance(getattr(self, f.name), np.ndarray)}
        return replace(self, **arrays, engine_seconds={}, count_weight_bytes=None)

    @cached_property
    def unique_weight_bytes(self) -> float:
        """Bytes of the distinct weight tensors the trace uses (each id counted once)."""
        if self.count_weight_bytes is not None:
            return self.count_weight_bytes()
        used = self.weight_ids != ""
        _, first = np.unique(self.weight_ids[used].astype(str), return_index=True)
        return float(self.weight_bytes[used][first].sum())

    @property
    def score_bytes(self) -> np.ndarray:
        return self.score_read_bytes + self.score_write_bytes

    def fused_attention(self, hardware: HardwareSpec, sram_bytes: float) -> bool:
        """Whether `hardware` keeps this trace's score matrix in on-chip tiles."""
        return datapath.fused_attention_fits(*self.attention, hardware, sram_bytes)

    @property
    def matrix_flops(self) -> np.ndarray:
        return np.where(self.is_gemm, self.flops, 0.0)

    def vector_flops(self, hardware: HardwareSpec) -> np.ndarray:
        return np.where(self.is_gemm, 0.0, self.flops) + dequant_flops(self.dequant_elements, hardware)


_columns = cache.register(cache.SpecMemo(256))
_demands = cache.register(cache.SpecMemo(256))


def trace_columns(trace: pd.DataFrame) -> dict[str, np.ndarray]:
    """The trace's columns as numpy arrays (text columns as objects), read once per trace object
    (hwsim.cache): both engines read a cached trace many times. A trace must not be modified in
    place once an engine has read it."""
    def read() -> dict[str, np.ndarray]:
        return {c: trace[c].to_numpy(dtype=object if c in (T.OP_KIND, T.PHASE, T.NAME, T.WEIGHT_ID, T.BLOCK_ID)
                                     else None) for c in T.COLUMNS if c != T.EXPERT_ID}
    return _columns.get("columns", trace, read)


def trace_dtype(columns: dict[str, np.ndarray], quant: QuantSpec | None = None) -> str:
    """The dtype the trace's GEMMs run at: the QuantSpec's compute dtype, else read from the
    activation bits of the first row."""
    if quant is not None:
        return quant.compute_dtype
    if len(columns[T.ACT_BITS]) == 0:
        return "bf16"
    return _DTYPE_BY_BITS.get(float(columns[T.ACT_BITS][0]), "bf16")


def trace_demand(trace: pd.DataFrame, quant: QuantSpec | None = None) -> TraceDemand:
    """A trace's demand under `quant`, kept per trace object and quantisation (hwsim.cache)."""
    by_quant = _demands.get("demand", trace, dict)
    key = cache.spec_text(quant) if quant is not None else ""
    if key not in by_quant:
        by_quant[key] = columns_demand(trace_columns(trace), quant)
    return by_quant[key]


def columns_demand(column: dict[str, np.ndarray], quant: QuantSpec | None = None,
                   count_weight_bytes: Callable[[], float] | None = None) -> TraceDemand:
    """Read a trace's demand from its columns (trace_columns). Dequantisation: a weighted GEMM
    unpacks its n x k weights when the QuantSpec dequantizes (without one: when its weight bits
    differ from its activation bits), unless the trace already carries explicit `dequant` rows.
    `count_weight_bytes` counts the distinct weight bytes where the rows cannot tell."""
    kind = column[T.OP_KIND]
    roles = datapath.kind_roles(kind)
    is_gemm = (roles & datapath.GEMM) > 0
    weight_ids = column[T.WEIGHT_ID]
    if quant is not None:
        narrower = datapath.stored_narrower(np.asarray(column[T.WEIGHT_BITS], dtype=float), quant.compute_dtype)
    else:
        narrower = column[T.WEIGHT_BITS] != column[T.ACT_BITS]
    unpacks = is_gemm & (weight_ids != "") & narrower & ~((roles & datapath.DEQUANT) > 0).any()
    as_float = {c: np.asarray(column[c], dtype=float) for c in (T.N, T.K, T.M, T.REPEAT)}
    return TraceDemand(
        dtype=trace_dtype(column, quant),
        flops=column[T.FLOPS], m=as_float[T.M], is_gemm=is_gemm,
        dequant_elements=np.where(unpacks, as_float[T.N] * as_float[T.K], 0.0),
        weight_bytes=column[T.WEIGHT_BYTES],
        kv_bytes=column[T.KV_READ_BYTES] + column[T.KV_WRITE_BYTES],
        act_bytes=column[T.ACT_IN_BYTES] + column[T.ACT_OUT_BYTES],
        read_bytes=column[T.WEIGHT_BYTES] + column[T.KV_READ_BYTES] + column[T.ACT_IN_BYTES],
        write_bytes=column[T.ACT_OUT_BYTES] + column[T.KV_WRITE_BYTES],
        kv_write_bytes=column[T.KV_WRITE_BYTES], weight_ids=weight_ids, repeat=as_float[T.REPEAT],
        **dict(zip(("score_read_bytes", "score_write_bytes"), datapath.score_bytes(column, roles))),
        attention=datapath.attention_shape(column, roles),
        kv_keepable_bytes=np.where(np.asarray(column[T.LOOP_ITER]) >= 0, column[T.KV_READ_BYTES], 0.0),
        grouped_followers=datapath.grouped_expert_followers(column[T.NAME]),
        count_weight_bytes=count_weight_bytes,
    )


# Whether a device's loads run ahead of its kernels, by class when the preset does not say
# (overhead.prefetch). The runtimes behind every measured row (llama.cpp, TensorRT-LLM, MLC, HF
# eager on GPUs and CPUs; RKLLM, QNN and HailoRT on NPUs) launch one kernel or NPU job after
# another from the host, and each loads its own operands once launched: nothing crosses an op
# boundary and the launch is on the critical path (the calibrated per-op launch is that gap). A
# compiler-scheduled dataflow part (an SRAM accelerator) streams the next ops' operands while the
# current one runs; so does an NPU whose DMA engine runs a compiled schedule, which a preset says
# with `overhead.prefetch: cross_op` (the edge-npu design template does).
PREFETCH_BY_CLASS = {
    "datacenter_gpu": "within_op", "consumer_gpu": "within_op", "edge_gpu": "within_op",
    "apple_gpu": "within_op", "cpu": "within_op", "mobile_npu": "within_op", "edge_npu": "within_op",
    "sram_accelerator": "cross_op",
}


def buffer_bytes(hardware: HardwareSpec) -> float:
    """The SRAM a residency policy manages in front of main memory: all of it on a device with a
    DRAM, none on an all-SRAM design (which holds everything in its SRAM as main memory)."""
    sram = hardware.sram
    return sram.capacity_bytes if sram is not None and hardware.dram is not None else 0.0


def prefetch_mode(hardware: HardwareSpec) -> str:
    """`cross_op` or `within_op`: the preset's overhead.prefetch, else its class default."""
    return hardware.overhead.prefetch or PREFETCH_BY_CLASS[hardware.device_class]


def dram_efficiency(hardware: HardwareSpec, quant: QuantSpec | None = None) -> float:
    """Achievable fraction of main-memory bandwidth: the calibrated per-format figure where the
    hardware has one for this quantisation (by QuantSpec name, then weight format, then a format
    stored alike: bf16 streams as fp16), else the memory level's efficiency."""
    by_format = hardware.dram_efficiency_by_format
    if quant is not None:
        for key in datapath.format_keys(quant):
            if key in by_format:
                return by_format[key]
    return hardware.main_memory.efficiency


def demand_compute_seconds(demand: TraceDemand, hardware: HardwareSpec) -> np.ndarray:
    """Engine seconds of every op of a trace's demand: the one call both the simulator and the
    roofline make, so the floor can never exceed the simulated compute chain. They depend only
    on the compute engines' specs, so they are kept on the demand per engine spec (read-only)."""
    return demand.engine_seconds[fill_compute_seconds([demand], hardware)]


def fill_compute_seconds(demands: list[TraceDemand], hardware: HardwareSpec) -> str:
    """Keep demand_compute_seconds on every demand that lacks them, in one pass over the ops of
    all those of one compute dtype (on trace-sized columns a pass costs mostly its fixed
    overhead); returns the key they are kept under."""
    key = _compute_key(hardware)
    by_dtype: dict[str, list[TraceDemand]] = {}
    for demand in demands:
        if key not in demand.engine_seconds:
            by_dtype.setdefault(demand.dtype, []).append(demand)
    for dtype, missing in by_dtype.items():
        flops, m, is_gemm = (np.concatenate([getattr(d, name) for d in missing]) for name in ("flops", "m", "is_gemm"))
        seconds = np.asarray(datapath.compute_seconds(flops, m, is_gemm, dtype, hardware), dtype=float)
        start = 0
        for demand in missing:
            demand.engine_seconds[key] = seconds[start:start + len(demand.flops)]
            start += len(demand.flops)
    return key


def _compute_key(hardware: HardwareSpec) -> str:
    """The compute engines' specs as text (equal for equal engines, whichever device holds
    them), remembered per hardware object in hwsim.cache."""
    return cache.per_spec.get("compute", hardware, lambda: "|".join(
        f"{name}={engine.model_dump_json()}" for name, engine in sorted(hardware.compute.items())))


def op_seconds(demand: TraceDemand, hardware: HardwareSpec, moved_bytes: np.ndarray,
                memory_efficiency: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(compute_s, dequant_s, memory_s) per op. The matrix engine, the vector engine and memory
    are separate resources that overlap perfectly within an op: the vector unit unpacks the next
    weight tile while the matrix unit multiplies this one, so compute_s = max(engine, unpack)."""
    engine_s = demand_compute_seconds(demand, hardware)
    dequant_s = np.asarray(dequant_seconds(demand.dequant_elements, hardware), dtype=float)
    memory_s = np.asarray(memory_seconds(moved_bytes, hardware, memory_efficiency), dtype=float)
    return np.maximum(engine_s, dequant_s), dequant_s, memory_s


_BOUND_LABELS = np.array(["compute", "memory", "overhead"], dtype=object)


def bound_labels(compute_s, memory_s, launch_s) -> np.ndarray:
    """'compute' or 'memory' by the larger of the two; 'overhead' where launch exceeds both."""
    compute_s, memory_s = np.asarray(compute_s), np.asarray(memory_s)
    index = (compute_s < memory_s).astype(np.int8)
    index[np.asarray(launch_s) > np.maximum(compute_s, memory_s)] = 2
    return _BOUND_LABELS[index]


def op_times(trace: pd.DataFrame, hardware: HardwareSpec, dram_bytes=None, *,
             quant: QuantSpec | None = None) -> pd.DataFrame:
    """Per-op roofline: compute_s, memory_s, launch_s, bound_s = max(compute_s, memory_s) +
    launch_s and the `bound` label, with the memory_bytes moved. `dram_bytes` (one value per
    op) replaces the default demand (every op streams its weights, KV and activations) with what
    a residency policy left to main memory. `quant` names the compute dtype, whether weights are
    dequantised and the per-format DRAM efficiency; without it they are read from the trace."""
    demand = trace_demand(trace, quant)
    if dram_bytes is None:   # every op streams its operands, but a fused kernel's score tiles
        fused = demand.fused_attention(hardware, buffer_bytes(hardware))
        moved = demand.read_bytes + demand.write_bytes - (demand.score_bytes if fused else 0.0)
    else:
        moved = np.asarray(dram_bytes, float)
    compute_s, dequant_s, memory_s = op_seconds(demand, hardware, moved, dram_efficiency(hardware, quant))
    launch_s = datapath.launch_seconds(demand.grouped_followers, hardware)
    return pd.DataFrame({
        T.OP_ID: trace[T.OP_ID].to_numpy(), T.NAME: trace[T.NAME].to_numpy(dtype=object),
        "compute_s": compute_s, "dequant_s": dequant_s, "memory_s": memory_s, "launch_s": launch_s,
        "bound_s": np.maximum(compute_s, memory_s) + launch_s,
        "bound": bound_labels(compute_s, memory_s, launch_s), "memory_bytes": moved,
    })


