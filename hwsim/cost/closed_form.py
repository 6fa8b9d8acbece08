"""The closed-form engine (`engine="roofline"`): a whole run summed op by op, no events.

Each op costs max(compute_s, memory_s) + launch_s from the op-cost kernel (hwsim.cost.op_cost),
every op streaming its weights, KV and activations from main memory (no on-chip reuse), which is
what roofline tools assume. Decode steps are summed in closed form: per-op costs are linear in
the context, so the sum over steps is a pair of arithmetic series per op, and rows of a trace
built with compressed loops count `repeat` times, so a run's cost does not grow with the number
of decode steps or loop iterations. `bound="floor"` gives instead a time the event simulator
cannot beat under any residency policy (for pruning).

A peer of the discrete-event engine (hwsim.sim.engine): both take op costs from the kernel and
hand a RunSums to the one results builder (hwsim.totals); neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwsim.cost.op_cost import TraceDemand, dram_efficiency, op_seconds, trace_demand
from hwsim.cost.sums import RunSums
from hwsim.errors import ConfigError
from hwsim.spec.hardware import HardwareSpec
from hwsim.spec.model import ModelSpec
from hwsim.workload.depth import depth_groups
from hwsim.workload.trace_cache import cached_trace
from hwsim.workload.weights import unique_weight_bytes

def _demand(model: ModelSpec, phase: str, batch: int, context_len: int, token_step: int = 0,
            num_steps: int = 1) -> TraceDemand:
    """Demand of a cached (loop-compressed) trace; both are kept per process (hwsim.cache)."""
    trace = cached_trace(model, phase, batch, context_len, token_step=token_step, num_steps=num_steps)
    return trace_demand(trace, model.quant)


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


def _kv_transfers(demand: TraceDemand) -> float:
    """Transfers every schedule makes: KV lives in DRAM, so an op that reads KV has a read
    transfer and one that writes KV a write transfer (each repeat of a row its own). KV bytes
    only grow with the context, so a count taken at the shortest context holds for every longer one."""
    kv_read = demand.kv_bytes - demand.kv_write_bytes
    return float(demand.repeat[kv_read > 0].sum() + demand.repeat[demand.kv_write_bytes > 0].sum())


def _steps_run(at0: TraceDemand, at1: TraceDemand, hardware: HardwareSpec, memory_efficiency: float,
               first_context: int, steps: int, cold: bool = False) -> _Run:
    """Closed-form sum over `steps` decode steps at contexts first_context, first_context+1, ...
    Every per-op quantity is linear in the context (attention reads one more key per step), so it
    is read off two traces built at contexts 0 and 1; per op, max(compute, memory) of a linear
    pair switches side at most once, so each side is an arithmetic series. A row counts its
    `repeat` times. `cold`: the SRAM holds no weight when the first step starts (a decode-only run)."""
    repeat = at0.repeat

    def per_step(values0, values1):
        slope = values1 - values0
        return values0 + slope * first_context, slope

    moved0, moved1 = at0.read_bytes + at0.write_bytes, at1.read_bytes + at1.write_bytes
    c0, _, m0 = op_seconds(at0, hardware, moved0, memory_efficiency)
    c1, _, m1 = op_seconds(at1, hardware, moved1, memory_efficiency)
    compute_s, memory_s = _split_sums(*per_step(c0, c1), *per_step(m0, m1), steps)

    def total(column0, column1):
        first, slope = per_step(column0, column1)
        return float(repeat @ _linear_sum(first, slope, 0, steps))

    # Floor traffic: each step uses its unique weights; at most the SRAM's worth can be left from
    # the step before, the rest crosses the channel again. Activations beyond the SRAM spill.
    sram = _sram_bytes(hardware)
    unique = at0.unique_weight_bytes
    weight_floor = steps * max(unique - sram, 0.0) + (min(unique, sram) if cold and steps else 0.0)
    act_first, act_slope = per_step(at0.act_bytes, at1.act_bytes)
    spilled, _ = _split_sums(act_first - sram, act_slope, 0.0, 0.0, steps)
    floor_bytes = weight_floor + total(at0.kv_bytes, at1.kv_bytes) + float(repeat @ spilled)
    last = first_context + steps - 1
    return _Run(
        compute_s=float(repeat @ compute_s), memory_s=float(repeat @ memory_s),
        launch_s=steps * float(repeat.sum()) * hardware.overhead.op_launch_s,
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
    """One prefill trace, op by op (a row counts its `repeat` times). Floor traffic: the SRAM
    starts empty, so every weight the prompt uses is fetched once; KV and activations beyond the
    SRAM cross the channel."""
    repeat = demand.repeat
    moved = demand.read_bytes + demand.write_bytes
    compute_s, dequant_s, memory_s = op_seconds(demand, hardware, moved, memory_efficiency)
    spilled = np.maximum(demand.act_bytes - _sram_bytes(hardware), 0.0)
    floor_bytes = demand.unique_weight_bytes + float(repeat @ demand.kv_bytes) + float(repeat @ spilled)
    return _Run(
        compute_s=float(repeat @ np.where(compute_s >= memory_s, compute_s, 0.0)),
        memory_s=float(repeat @ np.where(compute_s < memory_s, memory_s, 0.0)),
        launch_s=float(repeat.sum()) * hardware.overhead.op_launch_s,
        serial_s=float(repeat @ compute_s),
        floor_memory_s=_channel_seconds(floor_bytes, _kv_transfers(demand), hardware, memory_efficiency),
        matrix_flops=float(repeat @ demand.matrix_flops), vector_flops=float(repeat @ demand.vector_flops(hardware)),
        weight_bytes=float(repeat @ demand.weight_bytes), kv_bytes=float(repeat @ demand.kv_bytes),
        act_bytes=float(repeat @ demand.act_bytes), read_bytes=float(repeat @ demand.read_bytes),
        write_bytes=float(repeat @ demand.write_bytes), kv_write_bytes=float(repeat @ demand.kv_write_bytes),
        peak_act_bytes=float(np.max(demand.act_bytes, initial=0.0)),
    )


def _decode_run(model: ModelSpec, hardware: HardwareSpec, memory_efficiency: float, batch: int,
                prompt_len: int, steps: int, cold: bool) -> _Run:
    run = _Run()
    for first, end in depth_groups(model, batch, steps):
        at0 = _demand(model, "decode", batch, 0, first, steps)
        at1 = _demand(model, "decode", batch, 1, first, steps)
        run.add(_steps_run(at0, at1, hardware, memory_efficiency, prompt_len + first, end - first,
                           cold and first == 0))
    return run


BOUNDS = ("op", "floor")


def closed_form_sums(model: ModelSpec, hardware: HardwareSpec, *, phase: str = "e2e", prompt_len: int = 512,
                     gen_len: int = 128, batch: int = 1, bound: str = "op") -> RunSums:
    """Whole-run sums for the results builder: prefill of `prompt_len` tokens and/or `gen_len`
    decode steps (contexts prompt_len .. prompt_len + gen_len - 1) at `batch`. `model` carries
    its loops and quant.

    `bound="op"` is the classic per-op roofline ESTIMATE (what roofline tools report): every op
    streams its weights, KV and activations from main memory and costs max(compute, memory) +
    launch, summed. It is what the calibration was fitted with, and the discrete-event engine
    reproduces it on devices that do not prefetch across ops (hwsim.cost.op_cost.prefetch_mode).
    `bound="floor"` is a true lower bound on the simulator's latency, ttft and tpot for every
    residency policy: max(serial compute chain + launches, channel time of the traffic no policy
    avoids: the first fetch of each weight, KV, per decode step the step's weights beyond the
    SRAM, activations beyond the SRAM). Use it to prune.
    Byte and energy sums are the streamed demand in both cases."""
    if phase not in ("prefill", "decode", "e2e"):
        raise ConfigError(f"phase: must be prefill, decode or e2e, got {phase!r}")
    if bound not in BOUNDS:
        raise ConfigError(f"bound: must be one of {', '.join(BOUNDS)}, got {bound!r}")
    efficiency = dram_efficiency(hardware, model.quant)
    has_decode = model.has_decode and phase != "prefill" and gen_len > 0
    has_prefill = phase != "decode" or not model.has_decode
    prefill = (_prefill_run(_demand(model, "prefill", batch, prompt_len), hardware, efficiency)
               if has_prefill else _Run())
    decode = (_decode_run(model, hardware, efficiency, batch, prompt_len, gen_len, cold=not has_prefill)
              if has_decode else _Run())
    run = _Run()
    run.add(prefill)
    run.add(decode)
    on_chip_only = hardware.dram is None
    dram = 0.0 if on_chip_only else 1.0
    memory_bytes = run.read_bytes + run.write_bytes
    first_fetch = min(unique_weight_bytes(model), run.weight_bytes)
    if bound == "op":
        by_time = {"compute": run.compute_s, "memory": run.memory_s, "overhead": run.launch_s}
    else:
        by_time = {"compute": run.serial_s, "memory": run.floor_memory_s, "overhead": run.launch_s}
    return RunSums(
        prefill_s=prefill.time(bound), decode_s=decode.time(bound), seconds_by_bound=by_time,
        dtype=model.quant.compute_dtype, matrix_flops=run.matrix_flops, vector_flops=run.vector_flops,
        dram_read_bytes=dram * run.read_bytes, dram_write_bytes=dram * run.write_bytes,
        # Every main-memory byte is staged once through the on-chip buffer (one write, one read).
        sram_read_bytes=memory_bytes, sram_write_bytes=memory_bytes,
        weight_first_fetch_bytes=dram * first_fetch, weight_refetch_bytes=dram * (run.weight_bytes - first_fetch),
        kv_dram_bytes=dram * run.kv_bytes, activation_spill_bytes=dram * run.act_bytes,
    )

