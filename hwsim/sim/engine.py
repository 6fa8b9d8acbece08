"""The discrete-event engine: one simulated device serving an OpTrace's demand.

An `Engine` owns one simpy Environment; `env.now` is the device clock in seconds. Per-op costs
(compute, unpacking, memory seconds) come from the op-cost kernel (hwsim.cost.op_cost), the
same the closed-form engine sums. How loads and kernels overlap is the device's prefetch mode
(op_cost.prefetch_mode, by device class unless the preset says):
- `cross_op` (NPUs, SRAM dataflow parts): two processes. A DMA engine moves each op's DRAM reads
  (weights missing from SRAM, KV, spilled activations) over one channel, transfers one after
  another, each taking latency + bytes / (bandwidth x efficiency). Staging is double-buffered in
  bytes: it prefetches the loads of the next ops while the current one computes, as long as
  loaded-but-unconsumed bytes fit two of the run's largest loads; an op's writes (KV, spilled
  activations) go out once its buffer is released. The compute process runs the ops in order
  (each needs its predecessor's output) on the matrix or vector engine, for launch +
  max(compute, weight unpacking on the vector engine, on-chip read time).
- `within_op` (GPU and CPU runtimes): each kernel is launched after the previous one finished
  and loads its own operands; nothing crosses an op boundary, so an op costs launch +
  max(its load and store, its busy time), plus the tile terms below. With no overlap between
  ops the schedule is a running sum, computed directly rather than event by event.
In both modes, within an op weights stream in tiles of TILE_BYTES: the engine starts on the
first tile and finishes no earlier than the last tile's share of its work after the last byte,
so a load that overlaps compute costs max(load, compute), not the sum. Residency (which weights
the SRAM keeps) is decided before the timing, op by op, by `memory.Residency`.

`run` returns per-op costs: the time each op adds to the run (finish-to-finish), the bytes it
moved per memory level and cause, and its actions; callers multiply rows to extrapolate.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import pandas as pd
import simpy

from hwsim.cost import datapath, op_cost
from hwsim.cost.sums import RunSums
from hwsim.result import TIMELINE_COLUMNS
from hwsim.sim import compute, memory
from hwsim.spec.hardware import HardwareSpec
from hwsim.spec.quant import QuantSpec
from hwsim.workload import trace as T
from hwsim.workload.depth import depth_groups
from hwsim.workload.trace_cache import cached_trace

TILE_BYTES = 64 * 1024   # DMA tile: an engine starts on an op once its first tile has arrived


def last_tile_share(read_bytes: np.ndarray) -> np.ndarray:
    """Share of an op's bytes in its last DMA tile (a partial tile where the bytes are not a
    whole number of tiles): the work an engine still has once the transfer ends. Taking the
    first tile's share instead made a format with fewer bytes (one tile and a remainder) wait
    on nearly all its work after the transfer, slower than a wider one."""
    read_bytes = np.asarray(read_bytes, dtype=float)
    whole_before_last = np.maximum(np.ceil(read_bytes / TILE_BYTES) - 1.0, 0.0)
    return np.where(read_bytes > 0, (read_bytes - whole_before_last * TILE_BYTES) / np.maximum(read_bytes, 1.0), 0.0)


@dataclass(frozen=True)
class Transfer:
    """One DMA transfer as the timeline shows it."""

    op_index: int
    start_s: float
    end_s: float


class Engine:
    """A device with a DRAM channel, an SRAM under a residency policy, and compute engines.
    All state of a simulation (clock, SRAM contents, timeline) lives on this instance."""

    def __init__(self, hardware: HardwareSpec, *, policy: str = "lru", quant: QuantSpec | None = None,
                 kv_policy: str = "per_loop"):
        self.hardware, self.quant, self.policy, self.kv_policy = hardware, quant, policy, kv_policy
        self.prefetch = op_cost.prefetch_mode(hardware)
        self.env = simpy.Environment()
        dram = hardware.dram
        self.has_dram = dram is not None
        self.sram_bytes = op_cost.buffer_bytes(hardware)
        self.dram_efficiency = op_cost.dram_efficiency(hardware, quant)
        self.dram_latency_s = dram.latency_s if dram is not None else 0.0
        self.dram_rate = dram.bandwidth_bytes_per_s * self.dram_efficiency if dram is not None else np.inf
        self.residency = memory.Residency(0.0, policy)
        self.position = 0          # logical op position across runs (belady's clock)
        self.sram_peak_bytes = 0.0
        self.dtype = "bf16"
        self.timeline: list[dict[str, np.ndarray]] = []   # chunks of TIMELINE_COLUMNS arrays

    # -- the DMA channel ------------------------------------------------------------------
    def transfer_seconds(self, num_bytes: float) -> float:
        """Channel time of one DRAM transfer: latency + bytes / (bandwidth x efficiency)."""
        if num_bytes <= 0:
            return 0.0
        return self.dram_latency_s + num_bytes / self.dram_rate

    def transfer(self, seconds: float, record: list, op_index: int, first_tile=None,
                 tile_fraction: float = 1.0):
        """Process: hold the channel for `seconds`. Only the DMA process moves data, one transfer
        after another, so holding it is waiting. If given, `first_tile` fires once the first
        `tile_fraction` of the bytes has arrived."""
        start = self.env.now
        if first_tile is not None:
            latency = self.dram_latency_s
            yield self.env.timeout(latency + tile_fraction * (seconds - latency))
            first_tile.succeed()
            yield self.env.timeout(start + seconds - self.env.now)
        else:
            yield self.env.timeout(seconds)
        record.append(Transfer(op_index, start, self.env.now))

    # -- one run ----------------------------------------------------------------------------
    def prepare(self, trace: dict[str, np.ndarray], act: tuple[np.ndarray, np.ndarray]) -> None:
        """Size the SRAM shares for this trace: activations of its largest op (up to half of the
        SRAM), weights the rest; `pin` chooses its pinned set for this capacity. Kernels that load
        their own operands (`within_op`) pass activations through main memory, as GPU and CPU
        runtimes do between kernels: no SRAM share is set aside for them. `act`: each op's
        on-chip (in, out) activation bytes (memory.onchip_activations)."""
        working = act[0] + act[1]
        if not self.has_dram:
            self.act_reserve = np.inf
        elif self.prefetch == "within_op":
            self.act_reserve = 0.0
        else:
            self.act_reserve = memory.activation_reserve(working, self.sram_bytes)
        capacity = max(self.sram_bytes - self.act_reserve, 0.0) if self.has_dram else 0.0
        pinned = frozenset()
        if self.policy == "pin":
            pinned = memory.pinned_weights(*memory.access_sequence(trace, self.kv_policy), capacity)
        self.residency.resize(capacity, pinned)

    def serve(self, trace: dict[str, np.ndarray], act: tuple[np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
        """Decide where every byte of the trace's demand comes from (no timing)."""
        weight_bytes = trace[T.WEIGHT_BYTES]
        n = len(weight_bytes)
        act_in, act_out = act
        kv_read, kv_write = trace[T.KV_READ_BYTES], trace[T.KV_WRITE_BYTES]
        first = np.zeros(n)
        refetch = np.zeros(n)
        if self.has_dram:
            ids, sizes, next_use = memory.access_plan(trace, self.kv_policy)
            hit, is_first = memory.serve_accesses(self.residency, ids, sizes, next_use, self.position)
            self.position += len(ids)
            fetched = np.asarray([bool(w) for w in ids[0::2]]) & ~hit[0::2]
            first = np.where(fetched & is_first[0::2], weight_bytes, 0.0)
            refetch = np.where(fetched & ~is_first[0::2], weight_bytes, 0.0)
            spill_read, spill_write = memory.activation_spill(act_in, act_out, self.act_reserve)
            # KV writes go through to DRAM (the cache outlives the SRAM); reads may hit on chip.
            kv_dram_read, kv_dram_write = np.where(hit[1::2], 0.0, kv_read), kv_write
        else:
            spill_read = spill_write = kv_dram_read = kv_dram_write = np.zeros(n)
        weight_dram = first + refetch
        return {
            "weight_first_fetch_bytes": first, "weight_refetch_bytes": refetch,
            "weight_sram_bytes": weight_bytes - weight_dram,
            "kv_dram_bytes": kv_dram_read + kv_dram_write,
            "kv_sram_bytes": (kv_read - kv_dram_read) + (kv_write - kv_dram_write),
            "spill_read_bytes": spill_read, "spill_write_bytes": spill_write,
            "act_sram_bytes": act_in + act_out - spill_read - spill_write,
            "dram_read_bytes": weight_dram + kv_dram_read + spill_read,
            "dram_write_bytes": kv_dram_write + spill_write,
            # Every operand passes through on-chip buffers: DRAM loads are written to SRAM, and
            # the engines read weights, KV and inputs from it and write outputs to it.
            "sram_read_bytes": weight_bytes + kv_read + (act_in - spill_read),
            "sram_write_bytes": weight_dram + kv_dram_read + (kv_write - kv_dram_write) + (act_out - spill_write),
        }

    def run(self, trace: dict[str, np.ndarray], demand: op_cost.TraceDemand,
            label: dict | None = None) -> dict[str, np.ndarray]:
        """Simulate a trace (its columns, op_cost.trace_columns, and its demand) from an idle
        device (SRAM contents carried over) and return per-op costs as columns, one value per row."""
        act = memory.onchip_activations(trace, demand, self.hardware, self.sram_bytes)
        self.prepare(trace, act)
        self.residency.peak_bytes = self.residency.resident_bytes
        served = self.serve(trace, act)
        ops = compute.op_compute(demand, self.hardware)
        ops = replace(ops, dequant_s=datapath.dequant_after_residency(
            ops.dequant_s, np.asarray(trace[T.WEIGHT_BYTES], dtype=float),
            served["weight_first_fetch_bytes"] + served["weight_refetch_bytes"], self.hardware))
        n = len(demand.flops)
        onchip_s = self._onchip_seconds(served)
        # The vector engine unpacks the next weight tile while the matrix engine multiplies this
        # one, and operands stream from SRAM meanwhile: the engines are busy for the longest.
        busy_s = np.maximum(np.maximum(ops.compute_s, ops.dequant_s), onchip_s)
        launch_s = ops.launch_s
        self.dtype = ops.dtype
        token_step = int((label or {}).get("token_step", 0))
        read_bytes, write_bytes = served["dram_read_bytes"], served["dram_write_bytes"]
        if self.prefetch == "within_op":
            memory_s = self._seconds(read_bytes + write_bytes)
            bound = op_cost.bound_labels(busy_s, memory_s, launch_s)
            step_s, start_s, end_s = self._within_op(memory_s, read_bytes, busy_s, launch_s,
                                                     ops.is_matrix, trace, bound, token_step)
        else:
            read_s, write_s = self._seconds(read_bytes), self._seconds(write_bytes)
            memory_s = read_s + write_s
            bound = op_cost.bound_labels(busy_s, memory_s, launch_s)
            step_s, start_s, end_s = self._cross_op(read_s, write_s, read_bytes, launch_s + busy_s,
                                                    ops.is_matrix, trace, bound, token_step)
        flops = trace[T.FLOPS]
        columns = {
            T.OP_ID: trace[T.OP_ID], T.NAME: trace[T.NAME], T.LOOP_ITER: trace[T.LOOP_ITER],
            T.WEIGHT_ID: trace[T.WEIGHT_ID], T.WEIGHT_BYTES: trace[T.WEIGHT_BYTES],
            "lane": np.where(ops.is_matrix, compute.MATRIX, compute.VECTOR),
            "step_s": step_s, "start_s": start_s, "end_s": end_s,
            "compute_s": ops.compute_s, "dequant_s": ops.dequant_s, "onchip_s": onchip_s,
            "memory_s": memory_s, "launch_s": launch_s, "bound": bound,
            "matrix_flops": np.where(ops.is_matrix, flops, 0.0),
            "vector_flops": np.where(ops.is_matrix, 0.0, flops) + ops.dequant_flops,
            **served,
        }
        for key, value in (label or {}).items():
            columns[key] = np.full(n, value, dtype=object if isinstance(value, str) else None)
        on_chip_act = float(served["act_sram_bytes"].max()) if n else 0.0
        self.sram_peak_bytes = max(self.sram_peak_bytes, self.residency.peak_bytes + on_chip_act)
        return columns

    def _seconds(self, num_bytes: np.ndarray) -> np.ndarray:
        """Channel time of one transfer per op (zero where nothing moves)."""
        return np.where(num_bytes > 0, self.dram_latency_s + num_bytes / self.dram_rate, 0.0)

    def _onchip_seconds(self, served: dict[str, np.ndarray]) -> np.ndarray:
        """Time the engines spend reading operands from SRAM (the main memory of an all-SRAM
        design); zero where the device models no SRAM level."""
        sram = self.hardware.sram
        if sram is None:
            return np.zeros(len(served["sram_read_bytes"]))
        moved = served["sram_read_bytes"] if self.has_dram else served["sram_read_bytes"] + served["sram_write_bytes"]
        rate = sram.bandwidth_bytes_per_s * sram.efficiency
        return np.where(moved > 0, moved / rate + (0.0 if self.has_dram else sram.latency_s), 0.0)

    def _within_op(self, memory_s, read_bytes, busy_s, launch_s: np.ndarray, is_matrix, trace, bound, token_step):
        """One kernel after another, each loading and storing its own operands in one transfer
        that starts at its launch; returns (time each op adds, engine start, end) per op.
        An op takes launch + max(first tile + busy, transfer + last tile's share of busy)."""
        reads = read_bytes > 0
        tile = np.where(reads, np.minimum(1.0, TILE_BYTES / np.maximum(read_bytes, 1.0)), 0.0)
        first_tile_s = np.where(reads, self.dram_latency_s + tile * read_bytes / self.dram_rate, 0.0)
        step_s = launch_s + np.maximum(first_tile_s + busy_s, memory_s + last_tile_share(read_bytes) * busy_s)
        origin = self.env.now
        end = origin + np.cumsum(step_s)
        issued = end - step_s + launch_s            # the kernel runs and its transfer starts
        start = issued + first_tile_s
        if len(end) and end[-1] > origin:
            self.env.run(until=float(end[-1]))
        moving = np.flatnonzero(memory_s > 0)
        self._record(trace, start, end, is_matrix, bound, token_step,
                     (moving, issued[moving], issued[moving] + memory_s[moving]))
        return step_s, start, end

    def _cross_op(self, read_s, write_s, read_bytes, lane_s, is_matrix, trace, bound, token_step):
        """Event simulation of one run with a DMA engine running ahead of the compute engines;
        returns (time each op adds, start, end) per op.

        Double buffering in bytes: the DMA runs ahead of the engines while what it has loaded
        but they have not consumed fits two of the largest loads (tiny ops take no buffer); it
        writes an op's results back once the op is done and its buffer is released."""
        env, n = self.env, len(read_s)
        origin = env.now
        read_s, write_s, read_bytes, lane_s = (np.asarray(a, dtype=float).tolist()
                                               for a in (read_s, write_s, read_bytes, lane_s))
        tile = [min(1.0, TILE_BYTES / max(b, 1.0)) for b in read_bytes]
        last = last_tile_share(np.asarray(read_bytes, dtype=float)).tolist()
        loaded = [env.event() for _ in range(n)]
        first_tile = [env.event() if tile[i] < 1.0 and read_s[i] > 0 else loaded[i] for i in range(n)]
        done = [env.event() for _ in range(n)]
        start, end = [0.0] * n, [0.0] * n
        transfers: list[Transfer] = []
        staging = 2.0 * max(read_bytes) if n else 0.0

        def dma():
            outstanding: list[int] = []
            queued = 0.0
            for i in range(n):
                while outstanding and queued + read_bytes[i] > staging:
                    j = outstanding.pop(0)
                    queued -= read_bytes[j]
                    yield from release(j)
                if read_s[i] > 0:
                    tiled = first_tile[i] is not loaded[i]
                    yield from self.transfer(read_s[i], transfers, i, first_tile[i] if tiled else None, tile[i])
                outstanding.append(i)
                queued += read_bytes[i]
                loaded[i].succeed()
            for j in outstanding:
                yield from release(j)

        def release(j):
            """Wait for op j to finish, then write its results back."""
            yield done[j]
            if write_s[j] > 0:
                yield from self.transfer(write_s[j], transfers, j)

        def engines():
            for i in range(n):
                yield first_tile[i]
                start[i] = env.now
                yield env.timeout(lane_s[i])
                if not loaded[i].processed:
                    yield loaded[i]
                    yield env.timeout(last[i] * lane_s[i])
                end[i] = env.now
                done[i].succeed()

        channel = env.process(dma())
        env.process(engines())
        env.run(until=channel)
        start, end = np.array(start), np.array(end)
        step_s = np.diff(np.concatenate([[origin], end]))
        if n:
            step_s[-1] += env.now - end[-1]   # trailing write-back
        moving = np.array([t.op_index for t in transfers], dtype=np.int64)
        self._record(trace, start, end, is_matrix, bound, token_step,
                     (moving, np.array([t.start_s for t in transfers]), np.array([t.end_s for t in transfers])))
        return step_s, start, end

    def _record(self, trace, start, end, is_matrix, bound, token_step: int, transfers) -> None:
        """Append the run's intervals to the timeline: the ops on their engine lanes, then the
        transfers (op index, start, end arrays) on the DMA lane."""
        ids, names = trace[T.OP_ID], trace[T.NAME]
        moving, begin, finish = transfers
        self.timeline.append({
            "op_id": np.concatenate([ids, ids[moving]]), "name": np.concatenate([names, names[moving]]),
            "lane": np.concatenate([np.where(is_matrix, compute.MATRIX, compute.VECTOR),
                                    np.full(len(moving), compute.DMA, dtype=object)]),
            "start_s": np.concatenate([start, begin]), "end_s": np.concatenate([end, finish]),
            "bound": np.concatenate([bound, bound[moving]]),
            "token_step": np.full(len(ids) + len(moving), token_step, dtype=np.int64)})

    def timeline_frame(self) -> pd.DataFrame:
        """Every recorded interval (TIMELINE_COLUMNS), in the order the runs happened."""
        if not self.timeline:
            return pd.DataFrame(columns=list(TIMELINE_COLUMNS))
        return _frame({c: np.concatenate([chunk[c] for chunk in self.timeline]) for c in TIMELINE_COLUMNS})


# -- whole runs: prefill, decode of N tokens, end to end ------------------------------------

PHASES = ("prefill", "decode", "e2e")
_SIGNATURE = [T.WEIGHT_ID, T.NAME, T.FLOPS, T.ACT_IN_BYTES, T.ACT_OUT_BYTES, T.KV_READ_BYTES,
              T.KV_WRITE_BYTES, T.TOKENS_ACTIVE]


def loop_plan(trace: dict[str, np.ndarray], full_loops: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(rows to simulate, multiplicity per row). A row stands for its `repeat` runs (a trace
    with compressed loops writes a run of alike iterations once). Beyond that, loop iterations
    after the first that demand exactly the same (same weights, FLOPs, bytes, active tokens)
    are one steady state: the first of them is simulated and stands for all. The warm-up
    iteration 0 always runs, and so does every iteration that differs (an exit step, the
    last-k KV writers)."""
    loop_iter = trace[T.LOOP_ITER]
    keep = np.ones(len(loop_iter), dtype=bool)
    multiplicity = trace[T.REPEAT].astype(float)
    iterations = np.unique(loop_iter[loop_iter >= 0])
    if full_loops or len(iterations) <= 2:
        return keep, multiplicity
    row_hash = pd.util.hash_pandas_object(pd.DataFrame({c: trace[c] for c in _SIGNATURE}), index=False).to_numpy()
    representative: dict[int, int] = {}
    for iteration in iterations[1:]:
        rows = loop_iter == iteration
        key = hash(row_hash[rows].tobytes())
        if key in representative:
            keep[rows] = False
            multiplicity[loop_iter == representative[key]] += multiplicity[rows]
        else:
            representative[key] = iteration
    return keep, multiplicity


def decode_points(gen_len: int, groups: list[tuple[int, int]] | None = None) -> tuple[list[int], np.ndarray]:
    """Decode steps to simulate and the number of steps each stands for. Step 0 is the warm-up
    (SRAM filling). `groups` are the [first, end) ranges of steps that share per-sequence loop
    depths (one range for a fixed depth); within a range the steps are steady and linear in
    context length, so the first, middle and last are simulated and the sum over the range is
    their piecewise-linear interpolation's. Ranges of at most 3 steps simulate every step."""
    if gen_len <= 5:
        return list(range(gen_len)), np.ones(gen_len)
    steps, weights = [0], [1.0]
    for first, end in groups or [(0, gen_len)]:
        first = max(first, 1)
        if end - first <= 3:
            steps.extend(range(first, end))
            weights.extend([1.0] * (end - first))
            continue
        sampled = [first, (first + end - 1) // 2, end - 1]
        covered = np.arange(first, end)
        steps.extend(sampled)
        weights.extend(np.interp(covered, sampled, np.eye(3)[j]).sum() for j in range(3))
    return steps, np.array(weights)


def _run(engine: Engine, trace: pd.DataFrame, weight: float, full_loops: bool, label: dict) -> dict:
    columns = op_cost.trace_columns(trace)
    demand = op_cost.trace_demand(trace, engine.quant)
    keep, multiplicity = loop_plan(columns, full_loops)
    if not keep.all():
        columns, demand = {k: v[keep] for k, v in columns.items()}, demand.take(keep)
    columns = engine.run(columns, demand, label)
    _steady_cost_floor(columns, multiplicity[keep])
    columns["multiplicity"] = multiplicity[keep] * weight
    return columns


def _steady_cost_floor(frame: dict, multiplicity: np.ndarray) -> None:
    """A steady iteration stands for copies of itself run back to back, and each copy keeps the
    engines busy for its lane time and the channel for its transfers. The simulated instance's
    finish-to-finish time can be shorter (the DMA prefetched part of it during the iteration
    before), so where it is, the difference is added to its last op: otherwise the copies would
    move their bytes faster than the channel allows."""
    loop_iter = frame[T.LOOP_ITER]
    steady = np.unique(loop_iter[(multiplicity > 1) & (loop_iter >= 0)])
    if not len(steady):
        return
    lane_s = frame["launch_s"] + np.maximum(np.maximum(frame["compute_s"], frame["dequant_s"]), frame["onchip_s"])
    memory_s, step_s = frame["memory_s"], frame["step_s"].copy()
    for iteration in steady:
        rows = np.flatnonzero(loop_iter == iteration)
        deficit = max(lane_s[rows].sum(), memory_s[rows].sum()) - step_s[rows].sum()
        if deficit > 0:
            step_s[rows[-1]] += deficit
    frame["step_s"] = step_s


def des_run(model, hardware: HardwareSpec, *, phase: str, prompt_len: int, gen_len: int, batch: int,
            policy: str, full_loops: bool) -> tuple[RunSums, Callable, Callable]:
    """The event simulation of a whole run: (sums for the results builder, and functions building
    the per-op costs with the multiplicity each row stands for, and the timeline intervals). `model` is a ModelSpec, or an OpTrace
    DataFrame run once as given. Steady loop iterations and decode steps are simulated once and
    multiplied (full_loops: every loop iteration is simulated)."""
    if isinstance(model, pd.DataFrame):
        sim = Engine(hardware, policy=policy)
        trace_phase = str(model[T.PHASE].iloc[0]) if len(model) else "prefill"
        token_step = int(model[T.TOKEN_STEP].iloc[0]) if trace_phase == "decode" else -1
        runs = [_run(sim, model, 1.0, True, {"phase": trace_phase, "token_step": token_step})]
    else:
        sim = Engine(hardware, policy=policy, quant=model.quant, kv_policy=model.loop.kv_policy)
        runs = []
        task = model.task is not None or not model.has_decode
        compress = not full_loops
        if phase in ("prefill", "e2e") or task:
            trace = cached_trace(model, "prefill", batch, prompt_len, compress_loops=compress)
            runs.append(_run(sim, trace, 1.0, full_loops, {"phase": "prefill", "token_step": -1}))
        if phase in ("decode", "e2e") and not task and gen_len > 0:
            steps, weights = decode_points(gen_len, depth_groups(model, batch, gen_len))
            for step, weight in zip(steps, weights):
                trace = cached_trace(model, "decode", batch, prompt_len + step, token_step=step, num_steps=gen_len,
                                     compress_loops=compress)
                runs.append(_run(sim, trace, weight, full_loops, {"phase": "decode", "token_step": step}))
    columns = {key: np.concatenate([run[key] for run in runs]) for key in runs[0]}
    return _sums(sim, columns), lambda: _frame(columns), sim.timeline_frame


def _frame(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """The per-op table (text columns kept as Python objects, as in the trace)."""
    return pd.DataFrame({k: pd.Series(v, dtype=object, copy=False) if v.dtype == object else v
                         for k, v in columns.items()})


def _sums(sim: Engine, ops: dict[str, np.ndarray]) -> RunSums:
    """Per-op costs times their multiplicity, summed for the results builder."""
    weight = ops["multiplicity"]
    phase, bound = ops["phase"], ops["bound"]
    step_s = ops["step_s"] * weight

    def total(column: str) -> float:
        return float(ops[column] @ weight)

    return RunSums(
        prefill_s=float(step_s[phase == "prefill"].sum()), decode_s=float(step_s[phase == "decode"].sum()),
        seconds_by_bound={label: float(step_s[bound == label].sum()) for label in ("compute", "memory", "overhead")},
        dtype=sim.dtype, matrix_flops=total("matrix_flops"), vector_flops=total("vector_flops"),
        dram_read_bytes=total("dram_read_bytes"), dram_write_bytes=total("dram_write_bytes"),
        sram_read_bytes=total("sram_read_bytes"), sram_write_bytes=total("sram_write_bytes"),
        weight_first_fetch_bytes=total("weight_first_fetch_bytes"), weight_refetch_bytes=total("weight_refetch_bytes"),
        kv_dram_bytes=total("kv_dram_bytes"),
        activation_spill_bytes=total("spill_read_bytes") + total("spill_write_bytes"),
        sram_peak_bytes=sim.sram_peak_bytes,
    )
