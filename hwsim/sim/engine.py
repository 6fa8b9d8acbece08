"""The discrete-event engine: one simulated device serving an OpTrace's demand.

An `Engine` owns one simpy Environment; `env.now` is the device clock in seconds. Two processes
per run:
- the DMA engine moves each op's DRAM reads (weights missing from SRAM, KV, spilled
  activations) over one channel (a simpy Resource of capacity 1, so transfers serialise and KV
  reads contend with weight loads), each taking latency + bytes / (bandwidth x efficiency).
  Staging is double-buffered in bytes: it prefetches the loads of the next ops while the current
  one computes, as long as loaded-but-unconsumed bytes fit two of the run's largest loads; an
  op's writes (KV, spilled activations) go out once its buffer is released;
- the compute process runs the ops in order (each needs its predecessor's output) on the matrix
  or vector engine, for launch + max(compute, weight unpacking on the vector engine, on-chip
  read time): unpacking the next weight tile overlaps multiplying this one, as in the roofline.
So a load that overlaps compute costs max(load, compute), not the sum. Residency (which weights
the SRAM keeps) is decided before the timing, op by op, by `memory.Residency`.

`run` returns per-op costs: the time each op adds to the run (finish-to-finish), the bytes it
moved per memory level and cause, and its actions; callers multiply rows to extrapolate.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import simpy

from hwsim.cost import datapath, roofline
from hwsim.sim import compute, memory
from hwsim.spec.hardware import HardwareSpec
from hwsim.spec.quant import QuantSpec
from hwsim.workload import trace as T

ENGINES = ("des", "roofline")
TILE_BYTES = 64 * 1024   # DMA tile: an engine starts on an op once its first tile has arrived


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
        self.env = simpy.Environment()
        self.channel = simpy.Resource(self.env, capacity=1)
        dram, sram = hardware.dram, hardware.sram
        self.has_dram = dram is not None
        # With a DRAM the SRAM is a managed buffer; an all-SRAM design holds everything in it.
        self.sram_bytes = sram.capacity_bytes if (self.has_dram and sram is not None) else 0.0
        self.dram_efficiency = roofline.dram_efficiency(hardware, quant)
        self.dram_latency_s = dram.latency_s if dram is not None else 0.0
        self.dram_rate = dram.bandwidth_bytes_per_s * self.dram_efficiency if dram is not None else np.inf
        self.residency = memory.Residency(0.0, policy)
        self.position = 0          # logical op position across runs (belady's clock)
        self.sram_peak_bytes = 0.0
        self.timeline: list[tuple] = []

    # -- the DMA channel ------------------------------------------------------------------
    def transfer_seconds(self, num_bytes: float) -> float:
        """Channel time of one DRAM transfer: latency + bytes / (bandwidth x efficiency)."""
        if num_bytes <= 0:
            return 0.0
        return self.dram_latency_s + num_bytes / self.dram_rate

    def transfer(self, seconds: float, record: list, op_index: int, first_tile=None,
                 tile_fraction: float = 1.0):
        """Process: hold the channel for `seconds` (queueing behind earlier transfers). If given,
        `first_tile` fires once the first `tile_fraction` of the bytes has arrived."""
        with self.channel.request() as request:
            yield request
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
    def prepare(self, trace: pd.DataFrame) -> None:
        """Size the SRAM shares for this trace: activations of its largest op (up to half of the
        SRAM), weights the rest; `pin` chooses its pinned set for this capacity."""
        working = sum(memory.onchip_activations(trace, self.hardware, self.sram_bytes))
        self.act_reserve = memory.activation_reserve(working, self.sram_bytes) if self.has_dram else np.inf
        capacity = max(self.sram_bytes - self.act_reserve, 0.0) if self.has_dram else 0.0
        pinned = frozenset()
        if self.policy == "pin":
            pinned = memory.pinned_weights(*memory.access_sequence(trace, self.kv_policy), capacity)
        self.residency.resize(capacity, pinned)

    def serve(self, trace: pd.DataFrame) -> dict[str, np.ndarray]:
        """Decide where every byte of the trace's demand comes from (no timing)."""
        n = len(trace)
        weight_bytes = trace[T.WEIGHT_BYTES].to_numpy(float)
        act_in, act_out = memory.onchip_activations(trace, self.hardware, self.sram_bytes)
        kv_read, kv_write = trace[T.KV_READ_BYTES].to_numpy(float), trace[T.KV_WRITE_BYTES].to_numpy(float)
        first = np.zeros(n)
        refetch = np.zeros(n)
        if self.has_dram:
            ids, sizes = memory.access_sequence(trace, self.kv_policy)
            hit, is_first = memory.serve_accesses(self.residency, ids, sizes, self.position)
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

    def run(self, trace: pd.DataFrame, label: dict | None = None) -> pd.DataFrame:
        """Simulate `trace` from an idle device (SRAM contents carried over) and return per-op
        costs, one row per trace row."""
        self.prepare(trace)
        self.residency.peak_bytes = self.residency.resident_bytes
        served = self.serve(trace)
        ops = compute.op_compute(trace, self.hardware, self.quant)
        ops = replace(ops, dequant_s=datapath.dequant_after_residency(
            ops.dequant_s, trace[T.WEIGHT_BYTES].to_numpy(float),
            served["weight_first_fetch_bytes"] + served["weight_refetch_bytes"], self.hardware))
        onchip_s = self._onchip_seconds(served)
        read_s, write_s = (np.where(served[k] > 0, self.dram_latency_s + served[k] / self.dram_rate, 0.0)
                           for k in ("dram_read_bytes", "dram_write_bytes"))
        # The vector engine unpacks the next weight tile while the matrix engine multiplies this
        # one, and operands stream from SRAM meanwhile: the engines are busy for the longest.
        lane_s = ops.launch_s + np.maximum(np.maximum(ops.compute_s, ops.dequant_s), onchip_s)
        memory_s = read_s + write_s
        busy_s = np.maximum(np.maximum(ops.compute_s, ops.dequant_s), onchip_s)
        bound = roofline.bound_labels(busy_s, memory_s, np.full(len(trace), ops.launch_s))
        self.dtype = ops.dtype
        token_step = int((label or {}).get("token_step", 0))
        step_s, start_s, end_s = self._des(read_s, write_s, served["dram_read_bytes"], lane_s,
                                           ops.is_matrix, trace, bound, token_step)
        frame = pd.DataFrame({
            T.OP_ID: trace[T.OP_ID].to_numpy(), T.NAME: trace[T.NAME].to_numpy(dtype=object),
            T.LOOP_ITER: trace[T.LOOP_ITER].to_numpy(),
            T.WEIGHT_ID: trace[T.WEIGHT_ID].to_numpy(dtype=object), T.WEIGHT_BYTES: trace[T.WEIGHT_BYTES].to_numpy(float),
            "lane": np.where(ops.is_matrix, compute.MATRIX, compute.VECTOR),
            "step_s": step_s, "start_s": start_s, "end_s": end_s,
            "compute_s": ops.compute_s, "dequant_s": ops.dequant_s, "onchip_s": onchip_s,
            "memory_s": memory_s, "launch_s": ops.launch_s, "bound": bound,
            "matrix_flops": np.where(ops.is_matrix, trace[T.FLOPS].to_numpy(float), 0.0),
            "vector_flops": np.where(ops.is_matrix, 0.0, trace[T.FLOPS].to_numpy(float)) + ops.dequant_flops,
            **served,
        })
        for key, value in (label or {}).items():
            frame[key] = value
        on_chip_act = float(served["act_sram_bytes"].max()) if len(trace) else 0.0
        self.sram_peak_bytes = max(self.sram_peak_bytes, self.residency.peak_bytes + on_chip_act)
        return frame

    def _onchip_seconds(self, served: dict[str, np.ndarray]) -> np.ndarray:
        """Time the engines spend reading operands from SRAM (the main memory of an all-SRAM
        design); zero where the device models no SRAM level."""
        sram = self.hardware.sram
        if sram is None:
            return np.zeros(len(served["sram_read_bytes"]))
        moved = served["sram_read_bytes"] if self.has_dram else served["sram_read_bytes"] + served["sram_write_bytes"]
        rate = sram.bandwidth_bytes_per_s * sram.efficiency
        return np.where(moved > 0, moved / rate + (0.0 if self.has_dram else sram.latency_s), 0.0)

    def _des(self, read_s, write_s, read_bytes, lane_s, is_matrix, trace, bound, token_step):
        """Event simulation of one run; returns (time each op adds, start, end) per op.

        Within an op, weights stream in tiles of TILE_BYTES: the engine starts once the first
        tile has arrived and finishes no earlier than the last tile's share of its work after
        the last byte arrives, so one op costs about max(load, compute), not the sum.
        Double buffering in bytes: the DMA runs ahead of the engines while what it has loaded
        but they have not consumed fits two of the largest loads (tiny ops take no buffer); it
        writes an op's results back once the op is done and its buffer is released."""
        env, n = self.env, len(read_s)
        origin = env.now
        read_s, write_s, read_bytes, lane_s = (np.asarray(a, dtype=float).tolist()
                                               for a in (read_s, write_s, read_bytes, lane_s))
        tile = [min(1.0, TILE_BYTES / max(b, 1.0)) for b in read_bytes]
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
                    yield env.timeout(tile[i] * lane_s[i])
                end[i] = env.now
                done[i].succeed()

        channel = env.process(dma())
        env.process(engines())
        env.run(until=channel)
        start, end = np.array(start), np.array(end)
        step_s = np.diff(np.concatenate([[origin], end]))
        if n:
            step_s[-1] += env.now - end[-1]   # trailing write-back
        self._record(trace, start, end, transfers, is_matrix, bound, token_step)
        return step_s, start, end

    def _record(self, trace, start, end, transfers, is_matrix, bound, token_step: int) -> None:
        """Append the run's intervals to the timeline: (op_id, name, lane, start_s, end_s, bound,
        token_step)."""
        ids, names = trace[T.OP_ID].to_numpy(), trace[T.NAME].to_numpy(dtype=object)
        lanes = np.where(is_matrix, compute.MATRIX, compute.VECTOR)
        self.timeline.extend(zip(ids.tolist(), names.tolist(), lanes.tolist(), start.tolist(), end.tolist(),
                                 bound.tolist(), [token_step] * len(start)))
        for t in transfers:
            i = t.op_index
            self.timeline.append((int(ids[i]), names[i], compute.DMA, t.start_s, t.end_s, bound[i], token_step))


# -- whole runs: prefill, decode of N tokens, end to end ------------------------------------

PHASES = ("prefill", "decode", "e2e")
_SIGNATURE = [T.WEIGHT_ID, T.NAME, T.FLOPS, T.ACT_IN_BYTES, T.ACT_OUT_BYTES, T.KV_READ_BYTES,
              T.KV_WRITE_BYTES, T.TOKENS_ACTIVE]
_ADDITIVE = ["weight_first_fetch_bytes", "weight_refetch_bytes", "weight_sram_bytes", "kv_dram_bytes",
             "kv_sram_bytes", "spill_read_bytes", "spill_write_bytes", "act_sram_bytes",
             "dram_read_bytes", "dram_write_bytes", "sram_read_bytes", "sram_write_bytes",
             "matrix_flops", "vector_flops", "step_s"]


def loop_plan(trace: pd.DataFrame, full_loops: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(rows to simulate, multiplicity per row). Loop iterations after the first that demand
    exactly the same (same weights, FLOPs, bytes, active tokens) are one steady state: the
    first of them is simulated and stands for all. The warm-up iteration 0 always runs, and
    so does every iteration that differs (an exit step, the last-k KV writers)."""
    loop_iter = trace[T.LOOP_ITER].to_numpy()
    keep = np.ones(len(trace), dtype=bool)
    multiplicity = np.ones(len(trace))
    iterations = np.unique(loop_iter[loop_iter >= 0])
    if full_loops or len(iterations) <= 2:
        return keep, multiplicity
    row_hash = pd.util.hash_pandas_object(trace[_SIGNATURE], index=False).to_numpy()
    representative: dict[int, int] = {}
    for iteration in iterations[1:]:
        rows = loop_iter == iteration
        key = hash(row_hash[rows].tobytes())
        if key in representative:
            keep[rows] = False
            multiplicity[loop_iter == representative[key]] += 1
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


def _run(engine: Engine, trace: pd.DataFrame, weight: float, full_loops: bool, label: dict) -> pd.DataFrame:
    keep, multiplicity = loop_plan(trace, full_loops)
    frame = engine.run(trace[keep].reset_index(drop=True), label)
    _steady_cost_floor(frame, multiplicity[keep])
    frame["multiplicity"] = multiplicity[keep] * weight
    return frame


def _steady_cost_floor(frame: pd.DataFrame, multiplicity: np.ndarray) -> None:
    """A steady iteration stands for copies of itself run back to back, and each copy keeps the
    engines busy for its lane time and the channel for its transfers. The simulated instance's
    finish-to-finish time can be shorter (the DMA prefetched part of it during the iteration
    before), so where it is, the difference is added to its last op: otherwise the copies would
    move their bytes faster than the channel allows."""
    loop_iter = frame[T.LOOP_ITER].to_numpy()
    lane_s = (frame["launch_s"] + np.maximum(np.maximum(frame["compute_s"], frame["dequant_s"]), frame["onchip_s"])).to_numpy()
    memory_s, step_s = frame["memory_s"].to_numpy(), frame["step_s"].to_numpy().copy()
    for iteration in np.unique(loop_iter[(multiplicity > 1) & (loop_iter >= 0)]):
        rows = np.flatnonzero(loop_iter == iteration)
        deficit = max(lane_s[rows].sum(), memory_s[rows].sum()) - step_s[rows].sum()
        if deficit > 0:
            step_s[rows[-1]] += deficit
    frame["step_s"] = step_s


def simulate(model, hardware: HardwareSpec, *, phase: str = "e2e", prompt_len: int = 512,
             gen_len: int = 128, batch: int = 1, policy: str = "lru", engine: str = "des",
             full_loops: bool = False):
    """Simulate `model` (a ModelSpec, or an OpTrace DataFrame run once as given) on `hardware`.

    phase: `prefill` (the prompt), `decode` (gen_len tokens after a prompt of prompt_len, KV
    growing token by token) or `e2e` (both). Loops, quantisation and KV policy are set on the
    model beforehand (hwsim.spec.variants.configure_model). A model that does not fit main
    memory is still simulated; the result says `fits = False` with the shortfall.
    engine="roofline" gives the closed-form per-op roofline estimate instead (every op streams
    its operands, so `policy` and `full_loops` do not apply; no timeline)."""
    from hwsim.errors import ConfigError
    from hwsim.sim.trace_cache import cached_trace

    if phase not in PHASES:
        raise ConfigError(f"phase: unknown {phase!r}; known: {', '.join(PHASES)}")
    if policy not in memory.POLICIES:
        raise ConfigError(f"policy: unknown {policy!r}; known: {', '.join(memory.POLICIES)}")
    if engine not in ENGINES:
        raise ConfigError(f"engine: unknown {engine!r}; known: {', '.join(ENGINES)}")
    if batch < 1 or prompt_len < 0 or gen_len < 0:
        raise ConfigError(f"batch >= 1, prompt >= 0 and gen >= 0 needed (got {batch}, {prompt_len}, {gen_len})")
    if isinstance(model, pd.DataFrame):
        if engine != "des":
            raise ConfigError("engine: a trace given as a DataFrame runs on the des engine (the roofline needs a model)")
        T.validate_trace(model)
        sim = Engine(hardware, policy=policy)
        trace_phase = str(model[T.PHASE].iloc[0]) if len(model) else "prefill"
        token_step = int(model[T.TOKEN_STEP].iloc[0]) if trace_phase == "decode" else -1
        frames = [_run(sim, model, 1.0, True, {"phase": trace_phase, "token_step": token_step})]
        return build_result(sim, frames, None, hardware, _inputs(None, hardware, locals()))
    task = model.task is not None or not model.has_decode
    if task and phase == "decode":
        raise ConfigError(f"phase: {model.name} has no decode phase (non-causal or no LM head); use prefill")
    if engine == "roofline":
        result = roofline.roofline_result(model, hardware, phase=phase, prompt_len=prompt_len, gen_len=gen_len,
                                          batch=batch, bound="op")
        result.inputs = {**_inputs(model, hardware, locals()), "bound": "op"}
        return result
    sim = Engine(hardware, policy=policy, quant=model.quant, kv_policy=model.loop.kv_policy)
    frames = []
    if phase in ("prefill", "e2e") or task:
        trace = cached_trace(model, "prefill", batch, prompt_len)
        frames.append(_run(sim, trace, 1.0, full_loops, {"phase": "prefill", "token_step": -1}))
    if phase in ("decode", "e2e") and not task and gen_len > 0:
        steps, weights = decode_points(gen_len, roofline.depth_groups(model, batch, gen_len))
        for step, weight in zip(steps, weights):
            trace = cached_trace(model, "decode", batch, prompt_len + step, token_step=step, num_steps=gen_len)
            frames.append(_run(sim, trace, weight, full_loops, {"phase": "decode", "token_step": step}))
    return build_result(sim, frames, model, hardware, _inputs(model, hardware, locals()))


def _inputs(model, hardware: HardwareSpec, args: dict) -> dict:
    keys = ("phase", "prompt_len", "gen_len", "batch", "policy", "engine", "full_loops")
    inputs = {"model": model.name if model is not None else "trace", "hardware": hardware.name,
              **{k: args[k] for k in keys}}
    if model is not None:
        inputs.update(loops=model.loop.count, quant=model.quant.name, kv_policy=model.loop.kv_policy)
    return inputs


def build_result(sim: Engine, frames: list[pd.DataFrame], model, hardware: HardwareSpec, inputs: dict):
    """Sum the per-op costs (times their multiplicity) into a SimResult."""
    from hwsim.cost.energy import ActionCounts, price
    from hwsim.result import TIMELINE_COLUMNS, SimResult
    from hwsim.workload.weights import kv_bytes_per_token, unique_weight_bytes

    ops = pd.concat(frames, ignore_index=True)
    weight = ops["multiplicity"].to_numpy(float)

    def total(column: str, phase: str | None = None) -> float:
        values = ops[column].to_numpy(float) * weight
        return float(values.sum() if phase is None else values[(ops["phase"] == phase).to_numpy()].sum())

    prefill_s, decode_s = total("step_s", "prefill"), total("step_s", "decode")
    latency_s = prefill_s + decode_s
    batch, gen_len, prompt_len = inputs["batch"], inputs["gen_len"], inputs["prompt_len"]
    working = float((ops["act_sram_bytes"] + ops["spill_read_bytes"] + ops["spill_write_bytes"]).max()) if len(ops) else 0.0
    if model is None:
        tokens = 1.0
        weighted = ops[ops[T.WEIGHT_ID] != ""]
        weights_bytes = float(weighted.drop_duplicates(T.WEIGHT_ID)[T.WEIGHT_BYTES].sum())
        kv_bytes = 0.0
    else:
        decoding = inputs["phase"] != "prefill" and gen_len > 0
        if model.task is not None or not model.has_decode:
            tokens = batch * (model.task.seq_len + model.task.prefix_tokens if model.task else prompt_len)
            context = 0
        elif decoding:
            tokens, context = batch * gen_len, prompt_len + gen_len
        else:
            tokens, context = batch * prompt_len, prompt_len
        weights_bytes = unique_weight_bytes(model)
        kv_bytes = kv_bytes_per_token(model) * batch * context
    footprint = weights_bytes + kv_bytes + working
    main = hardware.main_memory
    actions = ActionCounts({sim.dtype: total("matrix_flops")}, total("vector_flops"),
                           total("sram_read_bytes"), total("sram_write_bytes"),
                           total("dram_read_bytes"), total("dram_write_bytes"))
    joules = price(actions, hardware, latency_s)
    dram_bytes = actions.dram_read_bytes + actions.dram_write_bytes
    by_bound = (ops["step_s"] * weight).groupby(ops["bound"]).sum()
    peak_flops = hardware.matrix.rate_for(sim.dtype)[1]
    totals = {
        "latency_s": latency_s,
        "ttft_s": prefill_s,
        "tpot_s": decode_s / gen_len if decode_s > 0 else 0.0,
        "tokens_per_s": tokens / latency_s if latency_s > 0 else 0.0,
        "energy_j": joules["energy_j"],
        "energy_per_token_j": joules["energy_j"] / tokens,
        "power_w": joules["energy_j"] / latency_s if latency_s > 0 else 0.0,
        "dram_read_bytes": actions.dram_read_bytes,
        "dram_write_bytes": actions.dram_write_bytes,
        "dram_bytes_per_token": dram_bytes / tokens,
        "dram_weight_first_fetch_bytes": total("weight_first_fetch_bytes"),
        "dram_weight_refetch_bytes": total("weight_refetch_bytes"),
        "dram_kv_bytes": total("kv_dram_bytes"),
        "dram_activation_spill_bytes": total("spill_read_bytes") + total("spill_write_bytes"),
        "sram_peak_bytes": sim.sram_peak_bytes if sim.has_dram else min(footprint, main.capacity_bytes),
        "memory_footprint_bytes": footprint,
        "memory_capacity_bytes": main.capacity_bytes,
        "fits": bool(footprint <= main.capacity_bytes),
        "shortfall_bytes": max(footprint - main.capacity_bytes, 0.0),
        "compute_utilization": total("matrix_flops") / (latency_s * peak_flops) if latency_s > 0 else 0.0,
        "bound": str(by_bound.idxmax()) if len(by_bound) else "overhead",
        **{key: joules[key] for key in ("energy_compute_j", "energy_sram_j", "energy_dram_j", "energy_static_j")},
    }
    timeline = pd.DataFrame(sim.timeline, columns=list(TIMELINE_COLUMNS))
    return SimResult(inputs=inputs, totals=totals, ops=ops, timeline=timeline, actions=actions)
