"""Closed-form per-op roofline: the time an op needs if compute and memory overlap perfectly.

Each op costs max(compute_s, memory_s) + launch_s. compute_s is FLOPs over the rate the op can
reach: GEMM kinds run on the matrix engine, the rest on the vector engine. A GEMM whose M (rows)
is not a multiple of the engine's `tile_m` pays for the padded rows: a decode GEMV with M = batch
runs at M / tile_m of peak. memory_s is the op's main-memory bytes over the achievable bandwidth,
plus one access latency. By default every op streams its weights, KV and activations from main
memory (no on-chip reuse), which is what roofline tools assume; `op_times` also takes per-op
DRAM bytes a residency policy left.

The discrete-event engine computes op times through the same `demand_compute_seconds`, so the
two cannot disagree on how long an op computes. A whole run is summed in closed form
(`roofline_run`): either the per-op estimate (what roofline tools report; the simulator can run
below it, since it overlaps ops and reuses on-chip data) or a floor the simulator cannot beat
under any residency policy (for pruning).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from hwsim.cost import datapath
from hwsim.cost.energy import ActionCounts, price
from hwsim.errors import ConfigError
from hwsim.spec.hardware import HardwareSpec
from hwsim.spec.model import ModelSpec
from hwsim.spec.quant import QuantSpec
from hwsim.workload import trace as T
from hwsim.workload import weights
from hwsim.workload.depth import depth_pmf, loop_depths

# Activation bits -> compute dtype, used when the caller gives no QuantSpec (8 bits could be fp8
# or int8; engines that have one usually have the other at the same rate).
_DTYPE_BY_BITS = {32.0: "fp32", 16.0: "bf16", 8.0: "int8", 4.0: "int4"}


def compute_seconds_array(flops, m, op_kind, dtype: str, hardware: HardwareSpec) -> np.ndarray:
    """Vectorised `compute_seconds` over trace columns (`op_kind` holds op-kind strings): GEMMs
    on the faster of the matrix engine (rows padded to its tile) and the GEMV path, the rest on
    the vector engine (hwsim.cost.datapath)."""
    is_gemm = np.isin(np.asarray(op_kind, dtype=object), T.GEMM_KINDS)
    return datapath.compute_seconds(flops, m, is_gemm, dtype, hardware)


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
    score_bytes: np.ndarray     # attention scores in + out: a fused kernel keeps them on chip
    kv_keepable_bytes: np.ndarray  # KV reads a residency policy may serve on chip (looped layers)
    grouped_followers: np.ndarray  # expert ops a grouped MoE kernel launches with an earlier one
    # engine seconds per compute-engine spec (demand_compute_seconds): a sweep over memory reuses them
    engine_seconds: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def unique_weight_bytes(self) -> float:
        """Bytes of the distinct weight tensors the trace uses (each id counted once)."""
        used = self.weight_ids != ""
        _, first = np.unique(self.weight_ids[used].astype(str), return_index=True)
        return float(self.weight_bytes[used][first].sum())

    @property
    def matrix_flops(self) -> np.ndarray:
        return np.where(self.is_gemm, self.flops, 0.0)

    def vector_flops(self, hardware: HardwareSpec) -> np.ndarray:
        return np.where(self.is_gemm, 0.0, self.flops) + dequant_flops(self.dequant_elements, hardware)


def trace_dtype(trace: pd.DataFrame, quant: QuantSpec | None = None) -> str:
    """The dtype the trace's GEMMs run at: the QuantSpec's compute dtype, else read from the
    activation bits of the first row."""
    if quant is not None:
        return quant.compute_dtype
    if len(trace) == 0:
        return "bf16"
    return _DTYPE_BY_BITS.get(float(trace[T.ACT_BITS].iloc[0]), "bf16")


def trace_demand(trace: pd.DataFrame, quant: QuantSpec | None = None) -> TraceDemand:
    """Read a trace's demand. Dequantisation: a weighted GEMM unpacks its n x k weights when the
    QuantSpec dequantizes (without one: when its weight bits differ from its activation bits),
    unless the trace already carries explicit `dequant` rows."""
    kind = trace[T.OP_KIND].to_numpy(dtype=object)
    is_gemm = np.isin(kind, T.GEMM_KINDS)
    weight_ids = trace[T.WEIGHT_ID].to_numpy(dtype=object)
    if quant is not None:
        narrower = datapath.stored_narrower(trace[T.WEIGHT_BITS].to_numpy(float), quant.compute_dtype)
    else:
        narrower = trace[T.WEIGHT_BITS].to_numpy(float) != trace[T.ACT_BITS].to_numpy(float)
    unpacks = is_gemm & (weight_ids != "") & narrower & ~(kind == "dequant").any()
    column = {c: trace[c].to_numpy(float) for c in (T.WEIGHT_BYTES, T.KV_READ_BYTES, T.KV_WRITE_BYTES,
                                                     T.ACT_IN_BYTES, T.ACT_OUT_BYTES, T.N, T.K)}
    return TraceDemand(
        dtype=trace_dtype(trace, quant),
        flops=trace[T.FLOPS].to_numpy(float), m=trace[T.M].to_numpy(float), is_gemm=is_gemm,
        dequant_elements=np.where(unpacks, column[T.N] * column[T.K], 0.0),
        weight_bytes=column[T.WEIGHT_BYTES],
        kv_bytes=column[T.KV_READ_BYTES] + column[T.KV_WRITE_BYTES],
        act_bytes=column[T.ACT_IN_BYTES] + column[T.ACT_OUT_BYTES],
        read_bytes=column[T.WEIGHT_BYTES] + column[T.KV_READ_BYTES] + column[T.ACT_IN_BYTES],
        write_bytes=column[T.ACT_OUT_BYTES] + column[T.KV_WRITE_BYTES],
        kv_write_bytes=column[T.KV_WRITE_BYTES], weight_ids=weight_ids,
        score_bytes=sum(datapath.score_bytes(trace)),
        kv_keepable_bytes=np.where(trace[T.LOOP_ITER].to_numpy() >= 0, column[T.KV_READ_BYTES], 0.0),
        grouped_followers=datapath.grouped_expert_followers(trace[T.NAME].to_numpy(dtype=object)),
    )


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
    key = _compute_key(hardware)
    seconds = demand.engine_seconds.get(key)
    if seconds is None:
        kinds = np.where(demand.is_gemm, "matmul", "act")
        seconds = np.asarray(compute_seconds_array(demand.flops, demand.m, kinds, demand.dtype, hardware), dtype=float)
        demand.engine_seconds[key] = seconds
    return seconds


_compute_keys: dict[int, tuple[HardwareSpec, str]] = {}


def _compute_key(hardware: HardwareSpec) -> str:
    """The compute engines' specs as text, remembered per hardware object (specs are frozen)."""
    held = _compute_keys.get(id(hardware))
    if held is None or held[0] is not hardware:
        if len(_compute_keys) >= 256:
            _compute_keys.clear()
        text = json.dumps({name: engine.model_dump(mode="json") for name, engine in hardware.compute.items()},
                          sort_keys=True)
        held = _compute_keys[id(hardware)] = (hardware, text)
    return held[1]


def _op_seconds(demand: TraceDemand, hardware: HardwareSpec, moved_bytes: np.ndarray,
                memory_efficiency: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(compute_s, dequant_s, memory_s) per op. The matrix engine, the vector engine and memory
    are separate resources that overlap perfectly within an op: the vector unit unpacks the next
    weight tile while the matrix unit multiplies this one, so compute_s = max(engine, unpack)."""
    engine_s = demand_compute_seconds(demand, hardware)
    dequant_s = np.asarray(dequant_seconds(demand.dequant_elements, hardware), dtype=float)
    memory_s = np.asarray(memory_seconds(moved_bytes, hardware, memory_efficiency), dtype=float)
    return np.maximum(engine_s, dequant_s), dequant_s, memory_s


def bound_labels(compute_s, memory_s, launch_s) -> np.ndarray:
    """'compute' or 'memory' by the larger of the two; 'overhead' where launch exceeds both."""
    label = np.where(compute_s >= memory_s, "compute", "memory").astype(object)
    return np.where(launch_s > np.maximum(compute_s, memory_s), "overhead", label)


def op_times(trace: pd.DataFrame, hardware: HardwareSpec, dram_bytes=None, *,
             quant: QuantSpec | None = None) -> pd.DataFrame:
    """Per-op roofline: compute_s, memory_s, launch_s, bound_s = max(compute_s, memory_s) +
    launch_s and the `bound` label, with the memory_bytes moved. `dram_bytes` (one value per
    op) replaces the default demand (every op streams its weights, KV and activations) with what
    a residency policy left to main memory. `quant` names the compute dtype, whether weights are
    dequantised and the per-format DRAM efficiency; without it they are read from the trace."""
    demand = trace_demand(trace, quant)
    moved = demand.read_bytes + demand.write_bytes if dram_bytes is None else np.asarray(dram_bytes, float)
    compute_s, dequant_s, memory_s = _op_seconds(demand, hardware, moved, dram_efficiency(hardware, quant))
    launch_s = datapath.launch_seconds(demand.grouped_followers, hardware)
    return pd.DataFrame({
        T.OP_ID: trace[T.OP_ID].to_numpy(), T.NAME: trace[T.NAME].to_numpy(dtype=object),
        "compute_s": compute_s, "dequant_s": dequant_s, "memory_s": memory_s, "launch_s": launch_s,
        "bound_s": np.maximum(compute_s, memory_s) + launch_s,
        "bound": bound_labels(compute_s, memory_s, launch_s), "memory_bytes": moved,
    })


# --- a whole run: prefill + N decode steps -----------------------------------------------------

class _ModelKey:
    """A ModelSpec as a cache key (specs hold lists, so they are not hashable themselves)."""

    __slots__ = ("model", "text")

    def __init__(self, model: ModelSpec):
        from hwsim.sim.trace_cache import model_key

        self.model, self.text = model, model_key(model)

    def __hash__(self) -> int:
        return hash(self.text)

    def __eq__(self, other) -> bool:
        return isinstance(other, _ModelKey) and self.text == other.text


@lru_cache(maxsize=64)
def _demand(key: _ModelKey, phase: str, batch: int, context_len: int, token_step: int = 0,
            num_steps: int = 1) -> TraceDemand:
    """Trace demand from the process-wide trace cache the simulator shares, so a hardware sweep
    builds each trace once per process whichever engine asks."""
    from hwsim.sim.trace_cache import cached_trace  # the trace builder imports pandas-heavy code

    trace = cached_trace(key.model, phase, batch, context_len, token_step=token_step, num_steps=num_steps)
    return trace_demand(trace, key.model.quant)


@lru_cache(maxsize=64)
def _unique_weight_bytes(key: _ModelKey) -> float:
    return weights.unique_weight_bytes(key.model)


@dataclass
class _Run:
    """Sums of one phase: seconds by what bounds them, the floor's terms, and actions."""

    compute_s: float = 0.0       # time of ops (or steps) where compute exceeds memory
    memory_s: float = 0.0        # time where memory exceeds compute
    launch_s: float = 0.0
    serial_s: float = 0.0        # sum over ops of max(engine, unpacking): ops run one after another
    floor_memory_s: float = 0.0  # channel time of the DRAM traffic no residency policy avoids
    matrix_flops: float = 0.0
    vector_flops: float = 0.0
    weight_bytes: float = 0.0
    kv_bytes: float = 0.0
    act_bytes: float = 0.0
    read_bytes: float = 0.0
    write_bytes: float = 0.0
    kv_write_bytes: float = 0.0
    peak_act_bytes: float = 0.0

    @property
    def seconds(self) -> float:
        """Sum over ops of max(compute, memory) + launch: the classic per-op roofline."""
        return self.compute_s + self.memory_s + self.launch_s

    @property
    def floor_s(self) -> float:
        """A time the simulator cannot beat under any residency policy: its engines run the ops
        one after another (launch included), and its one DRAM channel moves at least the
        unavoidable bytes."""
        return max(self.serial_s + self.launch_s, self.floor_memory_s)

    def time(self, bound: str) -> float:
        return self.seconds if bound == "op" else self.floor_s

    def add(self, other: _Run) -> None:
        for name, value in vars(other).items():
            combine = max if name == "peak_act_bytes" else float.__add__
            setattr(self, name, combine(getattr(self, name), value))


def _linear_sum(first: np.ndarray, slope: np.ndarray, lo, hi) -> np.ndarray:
    """sum_{j=lo}^{hi-1} (first + slope * j), elementwise (empty ranges give 0)."""
    count = np.maximum(hi - lo, 0)
    return count * first + slope * count * (lo + hi - 1) / 2.0


def _split_sums(a_first, a_slope, b_first, b_slope, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise over j = 0 .. steps-1 of a_j = a_first + a_slope * j against b_j likewise:
    (sum of a_j where a_j >= b_j, sum of b_j where a_j < b_j), so their total is sum max(a_j, b_j).
    Two linear functions cross at most once, so each side is one arithmetic series."""
    a_first, b_first = np.broadcast_arrays(np.asarray(a_first, float), np.asarray(b_first, float))
    d_first, d_slope = a_first - b_first, np.asarray(a_slope, float) - np.asarray(b_slope, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = -d_first / d_slope            # a >= b on one side of this step
    flat = d_slope == 0
    lo = np.where(flat, np.where(d_first >= 0, 0, steps),
                  np.where(d_slope > 0, np.clip(np.ceil(crossing), 0, steps), 0))
    hi = np.where(flat, steps, np.where(d_slope > 0, steps, np.clip(np.floor(crossing) + 1, 0, steps)))
    a_side = _linear_sum(a_first, a_slope, lo, hi)
    b_side = _linear_sum(b_first, b_slope, 0, steps) - _linear_sum(b_first, b_slope, lo, hi)
    return a_side, b_side


def _sram_bytes(hardware: HardwareSpec) -> float:
    """On-chip bytes a policy could keep weights or activations in between uses. The simulator
    splits the SRAM between the two, so charging each against all of it only lowers the floor."""
    return hardware.sram.capacity_bytes if hardware.sram is not None and hardware.dram is not None else 0.0


def _channel_seconds(num_bytes: float, transfers: float, hardware: HardwareSpec, efficiency: float) -> float:
    """DRAM channel time of `num_bytes` in at least `transfers` transfers (one latency each);
    zero on an all-SRAM design, which has no channel."""
    if hardware.dram is None:
        return 0.0
    level = hardware.dram
    return num_bytes / (level.bandwidth_bytes_per_s * efficiency) + transfers * level.latency_s


def _kv_transfers(demand: TraceDemand) -> int:
    """Transfers every schedule makes: KV lives in DRAM, so an op that reads KV has a read
    transfer (unless a looped layer's cache may be kept on chip) and one that writes KV a write
    transfer. KV bytes only grow with the context, so a count taken at the shortest context
    holds for every longer one."""
    kv_read = demand.kv_bytes - demand.kv_write_bytes - demand.kv_keepable_bytes
    return int(np.count_nonzero(kv_read > 0) + np.count_nonzero(demand.kv_write_bytes > 0))


def _steps_run(at0: TraceDemand, at1: TraceDemand, hardware: HardwareSpec, memory_efficiency: float,
               first_context: int, steps: int, cold: bool = False) -> _Run:
    """Closed-form sum over `steps` decode steps at contexts first_context, first_context+1, ...
    Every per-op quantity is linear in the context (attention reads one more key per step), so it
    is read off two traces built at contexts 0 and 1; per op, max(compute, memory) of a linear
    pair switches side at most once, so each side is an arithmetic series. `cold`: the SRAM
    holds no weight when the first step starts (a decode-only run)."""
    def per_step(values0, values1):
        slope = values1 - values0
        return values0 + slope * first_context, slope

    moved0, moved1 = at0.read_bytes + at0.write_bytes, at1.read_bytes + at1.write_bytes
    c0, _, m0 = _op_seconds(at0, hardware, moved0, memory_efficiency)
    c1, _, m1 = _op_seconds(at1, hardware, moved1, memory_efficiency)
    compute_s, memory_s = _split_sums(*per_step(c0, c1), *per_step(m0, m1), steps)

    def total(column0, column1):
        first, slope = per_step(column0, column1)
        return float(_linear_sum(first, slope, 0, steps).sum())

    # Floor traffic: each step uses its unique weights; at most the SRAM's worth can be left from
    # the step before, the rest crosses the channel again. Activations beyond the SRAM spill.
    sram = _sram_bytes(hardware)
    unique = at0.unique_weight_bytes
    weight_floor = steps * max(unique - sram, 0.0) + (min(unique, sram) if cold and steps else 0.0)
    act_first, act_slope = per_step(at0.act_bytes - at0.score_bytes, at1.act_bytes - at1.score_bytes)
    spilled, _ = _split_sums(act_first - sram, act_slope, 0.0, 0.0, steps)
    kv_first, kv_slope = per_step(at0.kv_keepable_bytes, at1.kv_keepable_bytes)
    kv_beyond, _ = _split_sums(kv_first - sram, kv_slope, 0.0, 0.0, steps)   # reads too big to keep
    kv_floor = total(at0.kv_bytes - at0.kv_keepable_bytes, at1.kv_bytes - at1.kv_keepable_bytes) + float(kv_beyond.sum())
    floor_bytes = weight_floor + kv_floor + float(spilled.sum())
    last = first_context + steps - 1
    return _Run(
        compute_s=float(compute_s.sum()), memory_s=float(memory_s.sum()),
        launch_s=steps * float(datapath.launch_seconds(at0.grouped_followers, hardware).sum()),
        serial_s=total(c0, c1),
        floor_memory_s=_channel_seconds(floor_bytes, steps * _kv_transfers(at0), hardware, memory_efficiency),
        matrix_flops=total(at0.matrix_flops, at1.matrix_flops),
        vector_flops=total(at0.vector_flops(hardware), at1.vector_flops(hardware)),
        weight_bytes=total(at0.weight_bytes, at1.weight_bytes), kv_bytes=total(at0.kv_bytes, at1.kv_bytes),
        act_bytes=total(at0.act_bytes, at1.act_bytes), read_bytes=total(at0.read_bytes, at1.read_bytes),
        write_bytes=total(at0.write_bytes, at1.write_bytes),
        kv_write_bytes=total(at0.kv_write_bytes, at1.kv_write_bytes),
        peak_act_bytes=float(np.max(at0.act_bytes + (at1.act_bytes - at0.act_bytes) * last, initial=0.0)),
    )


def _prefill_run(demand: TraceDemand, hardware: HardwareSpec, memory_efficiency: float) -> _Run:
    """One prefill trace, op by op. Floor traffic: the SRAM starts empty, so every weight the
    prompt uses is fetched once; KV and activations beyond the SRAM cross the channel."""
    moved = demand.read_bytes + demand.write_bytes
    compute_s, dequant_s, memory_s = _op_seconds(demand, hardware, moved, memory_efficiency)
    sram = _sram_bytes(hardware)
    spilled = np.maximum(demand.act_bytes - demand.score_bytes - sram, 0.0)
    kv_beyond = np.maximum(demand.kv_keepable_bytes - sram, 0.0)
    floor_bytes = (demand.unique_weight_bytes + float((demand.kv_bytes - demand.kv_keepable_bytes).sum())
                   + float(kv_beyond.sum()) + float(spilled.sum()))
    return _Run(
        compute_s=float(compute_s[compute_s >= memory_s].sum()),
        memory_s=float(memory_s[compute_s < memory_s].sum()),
        launch_s=float(datapath.launch_seconds(demand.grouped_followers, hardware).sum()),
        serial_s=float(compute_s.sum()),
        floor_memory_s=_channel_seconds(floor_bytes, _kv_transfers(demand), hardware, memory_efficiency),
        matrix_flops=float(demand.matrix_flops.sum()), vector_flops=float(demand.vector_flops(hardware).sum()),
        weight_bytes=float(demand.weight_bytes.sum()), kv_bytes=float(demand.kv_bytes.sum()),
        act_bytes=float(demand.act_bytes.sum()), read_bytes=float(demand.read_bytes.sum()),
        write_bytes=float(demand.write_bytes.sum()), kv_write_bytes=float(demand.kv_write_bytes.sum()),
        peak_act_bytes=float(np.max(demand.act_bytes, initial=0.0)),
    )


def depth_groups(model: ModelSpec, batch: int, steps: int) -> list[tuple[int, int]]:
    """Contiguous [first, end) ranges of decode steps that share per-sequence loop depths (depth
    quantiles rise with the step, so equal depths are contiguous). One range for fixed depth."""
    if np.count_nonzero(depth_pmf(model)) <= 1:
        return [(0, steps)]
    depths = [tuple(loop_depths(model, batch, s, steps)) for s in range(steps)]
    starts = [s for s in range(steps) if s == 0 or depths[s] != depths[s - 1]]
    return list(zip(starts, starts[1:] + [steps]))


def _decode_run(key: _ModelKey, hardware: HardwareSpec, memory_efficiency: float, batch: int,
                prompt_len: int, steps: int, cold: bool) -> _Run:
    run = _Run()
    for first, end in depth_groups(key.model, batch, steps):
        at0 = _demand(key, "decode", batch, 0, first, steps)
        at1 = _demand(key, "decode", batch, 1, first, steps)
        run.add(_steps_run(at0, at1, hardware, memory_efficiency, prompt_len + first, end - first,
                           cold and first == 0))
    return run


BOUNDS = ("op", "floor")


def roofline_run(model: ModelSpec, hardware: HardwareSpec, *, phase: str = "e2e", prompt_len: int = 512,
                 gen_len: int = 128, batch: int = 1, bound: str = "op") -> tuple[dict, ActionCounts]:
    """Whole-run roofline with the SimResult totals keys: prefill of `prompt_len` tokens and/or
    `gen_len` decode steps (contexts prompt_len .. prompt_len + gen_len - 1) at `batch`.
    A model that does not fit main memory is reported with fits = False, not refused. `model`
    carries its loops and quant.

    `bound="op"` is the classic per-op roofline ESTIMATE (what roofline tools report): every op
    streams its weights, KV and activations from main memory and costs max(compute, memory) +
    launch, summed. It is not a bound on the simulator, which prefetches across ops, hides
    launches under transfers and keeps weights and activations on chip.
    `bound="floor"` is a true lower bound on the simulator's latency, ttft and tpot for every
    residency policy: max(serial compute chain + launches, channel time of the traffic no policy
    avoids: the first fetch of each weight, KV, per decode step the step's weights beyond the
    SRAM, activations beyond the SRAM). Use it to prune.
    Byte, energy and footprint totals are the streamed demand in both cases.
    Returns (totals, action counts), so the energy can be re-priced without re-running."""
    if phase not in ("prefill", "decode", "e2e"):
        raise ConfigError(f"phase: must be prefill, decode or e2e, got {phase!r}")
    if bound not in BOUNDS:
        raise ConfigError(f"bound: must be one of {', '.join(BOUNDS)}, got {bound!r}")
    key = _ModelKey(model)
    efficiency = dram_efficiency(hardware, model.quant)
    has_decode = model.has_decode and phase != "prefill" and gen_len > 0
    has_prefill = phase != "decode" or not model.has_decode
    prefill = _prefill_run(_demand(key, "prefill", batch, prompt_len), hardware, efficiency) if has_prefill else _Run()
    decode = (_decode_run(key, hardware, efficiency, batch, prompt_len, gen_len, cold=not has_prefill)
              if has_decode else _Run())
    run = _Run()
    run.add(prefill)
    run.add(decode)
    return _totals(key, hardware, run, prefill, decode, batch, prompt_len, gen_len if has_decode else 0, bound)


def _totals(key: _ModelKey, hardware: HardwareSpec, run: _Run, prefill: _Run, decode: _Run, batch: int,
            prompt_len: int, gen_len: int, bound: str) -> tuple[dict, ActionCounts]:
    model = key.model
    latency_s = prefill.time(bound) + decode.time(bound)  # decode waits for the prefill
    generated = batch * gen_len
    # Tokens a run delivers: generated ones; a prefill-only run counts the prompt it processed.
    tokens = generated or batch * (model.task.seq_len + model.task.prefix_tokens if model.task else prompt_len)
    dtype_used, peak = hardware.matrix.rate_for(model.quant.compute_dtype)
    on_chip_only = hardware.dram is None
    memory_bytes = run.read_bytes + run.write_bytes
    actions = ActionCounts(
        flops_by_dtype={dtype_used: run.matrix_flops}, vector_flops=run.vector_flops,
        # Every main-memory byte is staged once through the on-chip buffer (one write, one read).
        sram_read_bytes=memory_bytes, sram_write_bytes=memory_bytes,
        dram_read_bytes=0.0 if on_chip_only else run.read_bytes,
        dram_write_bytes=0.0 if on_chip_only else run.write_bytes)
    energy = price(actions, hardware, latency_s)
    unique_weight_bytes = _unique_weight_bytes(key)
    first_fetch = min(unique_weight_bytes, run.weight_bytes)
    footprint = unique_weight_bytes + prefill.kv_write_bytes + decode.kv_write_bytes + run.peak_act_bytes
    capacity = hardware.main_memory.capacity_bytes
    if bound == "op":
        by_time = {"compute": run.compute_s, "memory": run.memory_s, "overhead": run.launch_s}
    else:
        by_time = {"compute": run.serial_s, "memory": run.floor_memory_s, "overhead": run.launch_s}
    dram = 0.0 if on_chip_only else 1.0
    return {
        "latency_s": latency_s,
        "ttft_s": prefill.time(bound),
        "tpot_s": decode.time(bound) / gen_len if gen_len else 0.0,
        "tokens_per_s": tokens / latency_s if latency_s > 0 else 0.0,
        "energy_j": energy["energy_j"],
        "energy_per_token_j": energy["energy_j"] / tokens,
        "power_w": energy["energy_j"] / latency_s if latency_s > 0 else 0.0,
        "dram_read_bytes": dram * run.read_bytes,
        "dram_write_bytes": dram * run.write_bytes,
        "dram_bytes_per_token": dram * memory_bytes / tokens,
        "dram_weight_first_fetch_bytes": dram * first_fetch,
        "dram_weight_refetch_bytes": dram * (run.weight_bytes - first_fetch),
        "dram_kv_bytes": dram * run.kv_bytes,
        "dram_activation_spill_bytes": dram * run.act_bytes,
        "sram_peak_bytes": 0.0,
        "memory_footprint_bytes": footprint,
        "memory_capacity_bytes": capacity,
        "fits": bool(footprint <= capacity),
        "shortfall_bytes": max(0.0, footprint - capacity),
        "compute_utilization": run.matrix_flops / (latency_s * peak) if latency_s > 0 else 0.0,
        "bound": max(by_time, key=by_time.get),
        **{k: energy[k] for k in ("energy_compute_j", "energy_sram_j", "energy_dram_j", "energy_static_j")},
    }, actions


def roofline_totals(model: ModelSpec, hardware: HardwareSpec, **run_options) -> dict:
    """`roofline_run` totals only (the SimResult totals keys)."""
    return roofline_run(model, hardware, **run_options)[0]


def roofline_result(model: ModelSpec, hardware: HardwareSpec, *, phase: str = "e2e", prompt_len: int = 512,
                    gen_len: int = 128, batch: int = 1, bound: str = "op"):
    """`roofline_run` as a SimResult (no timeline: the bound has no events), for sweeps that
    prune with it and compare it with the simulator."""
    from hwsim.result import TIMELINE_COLUMNS, SimResult  # result.py is the simulator's module

    totals, actions = roofline_run(model, hardware, phase=phase, prompt_len=prompt_len, gen_len=gen_len,
                                   batch=batch, bound=bound)
    inputs = {"model": model.name, "hardware": hardware.name, "phase": phase, "prompt_len": prompt_len,
              "gen_len": gen_len, "batch": batch, "engine": "roofline", "bound": bound, "loops": model.loop.count,
              "quant": model.quant.name, "kv_policy": model.loop.kv_policy}
    return SimResult(inputs=inputs, totals=totals, ops=pd.DataFrame(),
                     timeline=pd.DataFrame(columns=list(TIMELINE_COLUMNS)), actions=actions)
