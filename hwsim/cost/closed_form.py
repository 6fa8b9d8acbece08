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
from functools import partial

import numpy as np

from hwsim import cache
from hwsim.cost.datapath import tiles_fit
from hwsim.cost.op_cost import (TraceDemand, buffer_bytes, columns_demand, demand_compute_seconds, dequant_flops,
                                dequant_seconds, dram_efficiency, fill_compute_seconds)
from hwsim.cost.sums import RunSums
from hwsim.errors import ConfigError
from hwsim.spec.hardware import HardwareSpec
from hwsim.spec.model import ModelSpec
from hwsim.spec.quant import QuantSpec
from hwsim.workload.depth import depth_groups
from hwsim.workload.trace_cache import cached_decode_pair, cached_sum_columns
from hwsim.workload.weights import unique_weight_bytes

_demands = cache.register(cache.Memo(256))


def _demand(model: ModelSpec, phase: str, batch: int, context_len: int, token_step: int = 0,
            num_steps: int = 1) -> TraceDemand:
    """Demand of a trace with alike loop iterations and layers merged (build_sum_columns: sums
    over its rows are the trace's), read from its columns without a DataFrame; both are kept per
    process (hwsim.cache). A decode step's demand holds its rows at `context_len` and then at the
    next context (cached_decode_pair), so both are read and priced in one pass."""
    def make() -> TraceDemand:
        read = cached_decode_pair if phase == "decode" else partial(cached_sum_columns, phase=phase)
        columns, used_weight_bytes = read(model, batch=batch, context_len=context_len, token_step=token_step,
                                          num_steps=num_steps)
        # Merged rows name the first layer's tensors only: the distinct bytes come from the builder.
        return columns_demand(columns, model.quant, used_weight_bytes)

    return _demands.get((cache.spec_text(model), phase, batch, context_len, token_step, num_steps), make)


@dataclass
class _Run:
    """Sums of one phase for a batch of devices: seconds by what bounds them, the floor's terms,
    and actions. Time terms are arrays with one value per device; demand terms (bytes, matrix
    FLOPs) do not depend on the device and are plain numbers."""

    compute_s: np.ndarray | float = 0.0       # time of ops (or steps) where compute exceeds memory
    memory_s: np.ndarray | float = 0.0        # time where memory exceeds compute
    launch_s: np.ndarray | float = 0.0
    serial_s: np.ndarray | float = 0.0        # sum over ops of max(engine, unpacking): ops run one after another
    floor_memory_s: np.ndarray | float = 0.0  # channel time of the DRAM traffic no residency policy avoids
    matrix_flops: float = 0.0
    vector_flops: np.ndarray | float = 0.0    # includes unpacking, which depends on the device
    weight_bytes: float = 0.0
    kv_bytes: float = 0.0
    act_bytes: float = 0.0
    read_bytes: float = 0.0
    write_bytes: float = 0.0
    kv_write_bytes: float = 0.0
    peak_act_bytes: float = 0.0

    @property
    def seconds(self):
        """Sum over ops of max(compute, memory) + launch: the classic per-op roofline."""
        return self.compute_s + self.memory_s + self.launch_s

    @property
    def floor_s(self):
        """A time the simulator cannot beat under any residency policy: its engines run the ops
        one after another (launch included), and its one DRAM channel moves at least the
        unavoidable bytes."""
        return np.maximum(self.serial_s + self.launch_s, self.floor_memory_s)

    def time(self, bound: str):
        return self.seconds if bound == "op" else self.floor_s

    def plus(self, other: _Run) -> _Run:
        """The sums of both runs (the larger peak)."""
        mine = vars(self)
        return _Run(**{name: max(mine[name], value) if name == "peak_act_bytes" else mine[name] + value
                       for name, value in vars(other).items()})


def _linear_sum(first: np.ndarray, slope: np.ndarray, lo, hi) -> np.ndarray:
    """sum_{j=lo}^{hi-1} (first + slope * j), elementwise (empty ranges give 0)."""
    count = np.maximum(hi - lo, 0)
    return count * first + slope * count * (lo + hi - 1) / 2.0


def _split_sums(a_first, a_slope, b_first, b_slope, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise over j = 0 .. steps-1 of a_j = a_first + a_slope * j against b_j likewise:
    (sum of a_j where a_j >= b_j, sum of b_j where a_j < b_j), so their total is sum max(a_j, b_j).
    Two linear functions cross at most once, so each side is one arithmetic series: a wins on
    [lo, hi), b on the rest."""
    d_first, d_slope = np.subtract(a_first, b_first), np.subtract(a_slope, b_slope)
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = -d_first / d_slope            # a >= b on one side of this step
    rising, falling = d_slope > 0, d_slope < 0
    lo = np.where(rising, np.minimum(np.maximum(np.ceil(crossing), 0), steps),
                  np.where(falling | (d_first >= 0), 0, steps))
    hi = np.where(falling, np.minimum(np.maximum(np.floor(crossing) + 1, 0), steps), steps)
    count, middle = hi - lo, (lo + hi - 1) / 2.0
    b_all = steps * b_first + b_slope * (steps * (steps - 1) / 2.0)
    return count * (a_first + a_slope * middle), b_all - count * (b_first + b_slope * middle)


class _Devices:
    """The device figures the sums need, one row per device (column vectors broadcast over ops),
    so a batch of devices is priced with one pass of array arithmetic per trace."""

    def __init__(self, hardware: list[HardwareSpec], quant: QuantSpec | None = None):
        self.hardware = hardware
        self.kept = False          # set when the object is kept in hwsim.cache (op_seconds memo)
        (main_rate, main_latency_s, self.has_dram, self.dram_rate, self.dram_latency_s, self.launch_s, grouped_moe,
         fused_kernel, self.attention_tile, self.sram_bytes, self.dequant_per_weight, dequant_s_per_weight) = \
            np.array([_device_figures(h, quant) for h in hardware], dtype=float).T
        self.main_rate, self.main_latency_s = main_rate[:, None], main_latency_s[:, None]
        # Devices whose runtime launches a layer's experts as one grouped kernel (datapath.grouped_moe).
        self.grouped_moe, self.fused_kernel = grouped_moe > 0, fused_kernel > 0
        self.dequant_s_per_weight = dequant_s_per_weight[:, None]
        self._fused: dict[tuple, np.ndarray] = {}    # fused() by attention shape

    def fused(self, demand: TraceDemand) -> np.ndarray:
        """1.0 per device whose fused attention keeps this trace's score matrix on chip, kept per
        attention shape (every trace of a model has the same)."""
        fused = self._fused.get(demand.attention)
        if fused is None:
            fused = self._fused[demand.attention] = tiles_fit(*demand.attention, self.fused_kernel, self.has_dram,
                                                              self.attention_tile, self.sram_bytes).astype(float)
        return fused

    def moved(self, demand: TraceDemand) -> np.ndarray:
        """Main-memory bytes per op and device when every op streams its operands: a fused
        attention kernel's score matrix never leaves its tiles."""
        return demand.read_bytes + demand.write_bytes - self.fused(demand)[:, None] * demand.score_bytes

    def streamed(self, sums: dict, demand: TraceDemand) -> dict:
        """The demand's byte sums as streamed on each device (score traffic of fused kernels out)."""
        fused = self.fused(demand)
        reads, writes = fused * sums["score_read_bytes"], fused * sums["score_write_bytes"]
        return dict(read_bytes=sums["read_bytes"] - reads, write_bytes=sums["write_bytes"] - writes,
                    act_bytes=sums["act_bytes"] - reads - writes)

    def op_seconds(self, demand: TraceDemand, moved: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(compute_s, memory_s), devices x ops: the kernel's op_seconds for each device. A kept
        device set (one device, memoised) remembers them per demand: decode traces do not depend
        on the prompt length, so a sweep over prompts and generated tokens reuses them."""
        if not self.kept:
            return self._op_seconds(demand, moved)
        key = (id(demand), id(self))
        held, _, seconds = _op_seconds_kept.get(key, lambda: (demand, self, self._op_seconds(demand, moved)))
        return seconds if held is demand else self._op_seconds(demand, moved)

    def step_seconds(self, pair: TraceDemand) -> tuple[np.ndarray, ...]:
        """(compute_s, its slope, memory_s, its slope) of a decode step's ops, devices x ops:
        op_seconds at context 0 and the change per token of context, priced in one pass over
        the pair's rows (kept like op_seconds)."""
        def make() -> tuple[np.ndarray, ...]:
            compute_s, memory_s = self._op_seconds(pair, self.moved(pair))
            return (*_first_and_slope(compute_s), *_first_and_slope(memory_s))

        if not self.kept:
            return make()
        held, _, seconds = _op_seconds_kept.get(("step", id(pair), id(self)), lambda: (pair, self, make()))
        return seconds if held is pair else make()

    def _op_seconds(self, demand: TraceDemand, moved: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        engine_s = np.array([demand_compute_seconds(demand, h) for h in self.hardware])
        compute_s = np.maximum(engine_s, self.dequant_s_per_weight * demand.dequant_elements)
        memory_s = moved / self.main_rate + np.where(moved > 0, self.main_latency_s, 0.0)
        return compute_s, memory_s

    def launch_seconds(self, launches: float, grouped_launches: float) -> np.ndarray:
        """Launch time per device: every op launches, except MoE experts a grouped kernel
        launched with an earlier one of the same layer (datapath.launch_seconds)."""
        return np.where(self.grouped_moe, grouped_launches, launches) * self.launch_s

    def channel_seconds(self, num_bytes, transfers) -> np.ndarray:
        """DRAM channel time of `num_bytes` in at least `transfers` transfers (one latency each);
        zero on an all-SRAM design, which has no channel."""
        return np.where(self.has_dram > 0, num_bytes / self.dram_rate + transfers * self.dram_latency_s, 0.0)


_op_seconds_kept = cache.register(cache.Memo(512))


def _device_figures(hardware: HardwareSpec, quant: QuantSpec | None) -> tuple:
    """One device's row of _Devices (in the order it unpacks them): memory rates at the
    achievable fraction, latencies, launch time, datapath choices, on-chip bytes a policy could
    keep weights or activations in between uses (the simulator splits the SRAM between the two,
    so charging each against all of it only lowers the floor), and unpacking cost per weight."""
    efficiency = dram_efficiency(hardware, quant)
    main, dram, path = hardware.main_memory, hardware.dram, hardware.resolved_datapath
    return (main.bandwidth_bytes_per_s * efficiency, main.latency_s, dram is not None,
            (dram.bandwidth_bytes_per_s if dram else 1.0) * efficiency, dram.latency_s if dram else 0.0,
            hardware.overhead.op_launch_s, path.grouped_moe, path.fused_attention, path.attention_tile,
            buffer_bytes(hardware), float(dequant_flops(1.0, hardware)), dequant_seconds(1.0, hardware))


def _kept(devices: _Devices) -> _Devices:
    devices.kept = True
    return devices


def _kv_transfers(demand: TraceDemand, rows: int | None = None) -> float:
    """Transfers every schedule makes: KV lives in DRAM, so an op that reads KV has a read
    transfer (unless a looped layer's cache may be kept on chip) and one that writes KV a write
    transfer (each repeat of a row its own), counted over the first `rows` rows (default: all).
    KV bytes only grow with the context, so a count taken at the shortest context holds for
    every longer one."""
    kv_write, repeat = demand.kv_write_bytes[:rows], demand.repeat[:rows]
    kv_read = demand.kv_bytes[:rows] - kv_write - demand.kv_keepable_bytes[:rows]
    return float(repeat[kv_read > 0].sum() + repeat[kv_write > 0].sum())


def _first_and_slope(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(value at context 0, change per token of context) of per-op values over a decode pair's
    rows (the last axis: the rows at context 0, then at context 1)."""
    by_context = values.reshape(*values.shape[:-1], 2, -1)
    at0 = by_context[..., 0, :]
    return at0, by_context[..., 1, :] - at0


_step_sums = cache.register(cache.Memo(512))
_prefill_sums = cache.register(cache.SpecMemo(256))

# Per-op demand summed over a run (with the vector FLOPs, `_summed_rows`): bytes and FLOPs.
_SUMMED = ("matrix_flops", "weight_bytes", "kv_bytes", "act_bytes", "read_bytes", "write_bytes", "kv_write_bytes",
           "dequant_elements", "score_read_bytes", "score_write_bytes")


def _summed_rows(demand: TraceDemand) -> np.ndarray:
    """One row per _SUMMED quantity, then the vector FLOPs: summed with one matrix product."""
    return np.array([getattr(demand, name) for name in _SUMMED] + [np.where(demand.is_gemm, 0.0, demand.flops)])


def _per_step_range(kind: str, pair: TraceDemand, first_context: int, steps: int, make) -> dict:
    """`make()`, kept per decode pair and step range (hwsim.cache): a hardware sweep sums them once."""
    held, sums = _step_sums.get((kind, id(pair), first_context, steps), lambda: (pair, make()))
    return sums if held is pair else make()     # else an id reused after its demand left the cache


def _demand_step_sums(pair: TraceDemand, first_context: int, steps: int) -> dict:
    """The device-independent sums of `_steps_run` (bytes, FLOPs, launches, the peak activations)."""
    def make() -> dict:
        rows = len(pair.repeat) // 2
        repeat = pair.repeat[:rows]
        column0, slope = _first_and_slope(_summed_rows(pair))
        totals = _linear_sum(column0 + slope * first_context, slope, 0, steps) @ repeat
        sums = dict(zip(_SUMMED + ("vector_flops",), totals.tolist()))
        act = _SUMMED.index("act_bytes")
        sums.update(
            peak_act_bytes=float(np.max(column0[act] + slope[act] * (first_context + steps - 1), initial=0.0)),
            launches=steps * float(repeat.sum()),
            grouped_launches=steps * float(repeat @ ~pair.grouped_followers[:rows]))
        return sums

    return _per_step_range("demand", pair, first_context, steps, make)


def _floor_step_sums(pair: TraceDemand, first_context: int, steps: int) -> dict:
    """The device-independent terms of the decode floor's traffic (`_steps_floor_seconds`)."""
    def make() -> dict:
        rows = len(pair.repeat) // 2
        # What may spill: activations but the score matrix a fused kernel keeps in its tiles.
        spill0, spill_slope = _first_and_slope(pair.act_bytes - pair.score_bytes)
        keep0, keep_slope = _first_and_slope(pair.kv_keepable_bytes)
        streamed0, streamed_slope = _first_and_slope(pair.kv_bytes - pair.kv_keepable_bytes)
        return dict(
            spill_first=spill0 + spill_slope * first_context, spill_slope=spill_slope,
            keep_first=keep0 + keep_slope * first_context, keep_slope=keep_slope,
            kv_streamed_bytes=float(_linear_sum(streamed0 + streamed_slope * first_context,
                                                streamed_slope, 0, steps) @ pair.repeat[:rows]),
            kv_transfers=steps * _kv_transfers(pair, rows))

    return _per_step_range("floor", pair, first_context, steps, make)


def _steps_floor_seconds(pair: TraceDemand, devices: _Devices, first_context: int, steps: int,
                         cold: bool) -> np.ndarray:
    """Channel time of the traffic no policy avoids over the steps. Each step uses its unique
    weights; at most the SRAM's worth can be left from the step before, the rest crosses the
    channel again. Activations beyond the SRAM spill (a fused kernel's score tiles never do); a
    looped layer's KV reads may be served on chip up to the SRAM's size, the rest of the KV
    crosses the channel."""
    sums = _floor_step_sums(pair, first_context, steps)
    repeat = pair.repeat[:len(pair.repeat) // 2]
    sram = devices.sram_bytes
    unique = pair.unique_weight_bytes
    weight_floor = steps * np.maximum(unique - sram, 0.0) + (np.minimum(unique, sram) if cold and steps else 0.0)
    spilled, _ = _split_sums(sums["spill_first"] - sram[:, None], sums["spill_slope"], 0.0, 0.0, steps)
    kv_beyond, _ = _split_sums(sums["keep_first"] - sram[:, None], sums["keep_slope"], 0.0, 0.0, steps)
    return devices.channel_seconds(weight_floor + sums["kv_streamed_bytes"] + kv_beyond @ repeat + spilled @ repeat,
                                   sums["kv_transfers"])


def _steps_run(pair: TraceDemand, devices: _Devices, first_context: int, steps: int, cold: bool = False,
               floor: bool = True) -> _Run:
    """Closed-form sum over `steps` decode steps at contexts first_context, first_context+1, ...
    Every per-op quantity is linear in the context (attention reads one more key per step), so it
    is read off a step's rows at contexts 0 and 1 (`pair`: those at 0, then those at 1, in one
    demand); per op, max(compute, memory) of a linear pair switches side at most once, so each
    side is an arithmetic series. A row counts its `repeat` times. `cold`: the SRAM holds no
    weight when the first step starts (a decode-only run). `floor=False` leaves the floor's
    terms out (the estimate does not need them)."""
    repeat = pair.repeat[:len(pair.repeat) // 2]
    sums = _demand_step_sums(pair, first_context, steps)

    c0, c_slope, m0, m_slope = devices.step_seconds(pair)
    c_first = c0 + c_slope * first_context
    compute_s, memory_s = _split_sums(c_first, c_slope, m0 + m_slope * first_context, m_slope, steps)
    serial_s = floor_memory_s = 0.0
    if floor:
        serial_s = _linear_sum(c_first, c_slope, 0, steps) @ repeat
        floor_memory_s = _steps_floor_seconds(pair, devices, first_context, steps, cold)
    return _Run(
        compute_s=compute_s @ repeat, memory_s=memory_s @ repeat,
        launch_s=devices.launch_seconds(sums["launches"], sums["grouped_launches"]),
        serial_s=serial_s, floor_memory_s=floor_memory_s, matrix_flops=sums["matrix_flops"],
        vector_flops=sums["vector_flops"] + devices.dequant_per_weight * sums["dequant_elements"],
        **devices.streamed(sums, pair),
        **{name: sums[name] for name in ("weight_bytes", "kv_bytes", "kv_write_bytes", "peak_act_bytes")},
    )


_prefill_kept = cache.register(cache.Memo(512))


def _prefill_run(demand: TraceDemand, devices: _Devices, floor: bool = True) -> _Run:
    """One prefill trace, op by op (a row counts its `repeat` times); `floor=False` leaves the
    floor's terms out. A kept device set (one device) remembers the run per demand: it does not
    depend on the decode that follows."""
    if not devices.kept:
        return _price_prefill(demand, devices, floor)
    held, _, run = _prefill_kept.get((id(demand), id(devices), floor),
                                     lambda: (demand, devices, _price_prefill(demand, devices, floor)))
    return run if held is demand else _price_prefill(demand, devices, floor)


def _price_prefill(demand: TraceDemand, devices: _Devices, floor: bool) -> _Run:
    repeat = demand.repeat

    def make() -> dict:
        sums = dict(zip(_SUMMED + ("vector_flops",), (_summed_rows(demand) @ repeat).tolist()))
        sums.update(peak_act_bytes=float(np.max(demand.act_bytes, initial=0.0)), launches=float(repeat.sum()),
                    grouped_launches=float(repeat @ ~demand.grouped_followers))
        return sums

    sums = _prefill_sums.get("prefill", demand, make)
    compute_s, memory_s = devices.op_seconds(demand, devices.moved(demand))
    serial_s = floor_memory_s = 0.0
    if floor:
        serial_s = compute_s @ repeat
        floor_memory_s = _prefill_floor_seconds(demand, devices)
    return _Run(
        compute_s=np.where(compute_s >= memory_s, compute_s, 0.0) @ repeat,
        memory_s=np.where(compute_s < memory_s, memory_s, 0.0) @ repeat,
        launch_s=devices.launch_seconds(sums["launches"], sums["grouped_launches"]),
        serial_s=serial_s, floor_memory_s=floor_memory_s, matrix_flops=sums["matrix_flops"],
        vector_flops=sums["vector_flops"] + devices.dequant_per_weight * sums["dequant_elements"],
        **devices.streamed(sums, demand),
        **{name: sums[name] for name in ("weight_bytes", "kv_bytes", "kv_write_bytes", "peak_act_bytes")},
    )


def _prefill_floor_seconds(demand: TraceDemand, devices: _Devices) -> np.ndarray:
    """Channel time of the prefill's traffic no policy avoids: the SRAM starts empty, so every
    weight the prompt uses is fetched once; KV and activations beyond the SRAM cross the channel."""
    repeat = demand.repeat
    sram = devices.sram_bytes[:, None]
    spilled = np.maximum(demand.act_bytes - demand.score_bytes - sram, 0.0)
    kv_beyond = np.maximum(demand.kv_keepable_bytes - sram, 0.0)
    kv_streamed = float(repeat @ (demand.kv_bytes - demand.kv_keepable_bytes))
    floor_bytes = demand.unique_weight_bytes + kv_streamed + (kv_beyond + spilled) @ repeat
    return devices.channel_seconds(floor_bytes, _kv_transfers(demand))


def _decode_pairs(model: ModelSpec, batch: int, steps: int) -> list[tuple[int, int, TraceDemand]]:
    """(first step, end step, the step's demand at contexts 0 and 1) of each range of decode
    steps whose sequences loop to the same depths."""
    return [(first, end, _demand(model, "decode", batch, 0, first, steps)) for first, end in depth_groups(model, batch, steps)]


_decode_kept = cache.register(cache.Memo(512))


def _decode_run(pairs: list[tuple[int, int, TraceDemand]], devices: _Devices, prompt_len: int, cold: bool,
                floor: bool) -> _Run:
    """The decode steps, range by range (_decode_pairs). A kept device set (one device) remembers
    the run per step ranges and prompt length: a warm point only looks it up."""
    if not devices.kept:
        return _price_decode(pairs, devices, prompt_len, cold, floor)
    key = (tuple((first, end, id(pair)) for first, end, pair in pairs), id(devices), prompt_len, cold, floor)
    # The entry holds the pairs and the devices, so their ids stay theirs while it is kept.
    return _decode_kept.get(key, lambda: (pairs, devices, _price_decode(pairs, devices, prompt_len, cold, floor)))[2]


def _price_decode(pairs: list[tuple[int, int, TraceDemand]], devices: _Devices, prompt_len: int, cold: bool,
                  floor: bool) -> _Run:
    run = None
    for first, end, pair in pairs:
        group = _steps_run(pair, devices, prompt_len + first, end - first, cold and first == 0, floor)
        run = group if run is None else run.plus(group)
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
    return closed_form_batch(model, [hardware], phase=phase, prompt_len=prompt_len, gen_len=gen_len,
                             batch=batch, bound=bound)[0]


def closed_form_batch(model: ModelSpec, hardware: list[HardwareSpec], *, phase: str = "e2e",
                      prompt_len: int = 512, gen_len: int = 128, batch: int = 1, bound: str = "op") -> list[RunSums]:
    """`closed_form_sums` for many devices at once (one RunSums per device, in order): the
    traces are read once and every device is priced in the same array operations, which is
    what makes a hardware sweep cost tens of microseconds a point."""
    if phase not in ("prefill", "decode", "e2e"):
        raise ConfigError(f"phase: must be prefill, decode or e2e, got {phase!r}")
    if bound not in BOUNDS:
        raise ConfigError(f"bound: must be one of {', '.join(BOUNDS)}, got {bound!r}")
    if len(hardware) == 1:     # one device: its figures are kept per spec object and quantisation
        devices = cache.per_spec.get(f"devices:{cache.spec_text(model.quant)}", hardware[0],
                                     lambda: _kept(_Devices(hardware, model.quant)))
    else:
        devices = _Devices(hardware, model.quant)
    has_decode = model.has_decode and phase != "prefill" and gen_len > 0
    has_prefill = phase != "decode" or not model.has_decode
    floor = bound == "floor"
    prompt = [_demand(model, "prefill", batch, prompt_len)] if has_prefill else []
    pairs = _decode_pairs(model, batch, gen_len) if has_decode else []
    for device in hardware:     # every trace's engine seconds in one pass per device
        fill_compute_seconds(prompt + [pair for _, _, pair in pairs], device)
    prefill = _prefill_run(prompt[0], devices, floor) if prompt else _Run()
    decode = _decode_run(pairs, devices, prompt_len, cold=not has_prefill, floor=floor) if pairs else _Run()
    run = prefill.plus(decode)
    memory_bytes = run.read_bytes + run.write_bytes
    first_fetch = min(unique_weight_bytes(model), float(run.weight_bytes))
    if bound == "op":
        by_time = {"compute": run.compute_s, "memory": run.memory_s, "overhead": run.launch_s}
    else:
        by_time = {"compute": run.serial_s, "memory": run.floor_memory_s, "overhead": run.launch_s}
    count = len(hardware)

    def each(value) -> np.ndarray | list[float]:
        """One float per device: device-independent terms are plain numbers."""
        return value if isinstance(value, np.ndarray) else [float(value)] * count

    prefill_s, decode_s, vector_flops = each(prefill.time(bound)), each(decode.time(bound)), each(run.vector_flops)
    read_bytes, write_bytes, act_bytes = each(run.read_bytes), each(run.write_bytes), each(run.act_bytes)
    memory_bytes = each(memory_bytes)
    by_time = {k: each(v) for k, v in by_time.items()}
    sums = []
    for i in range(count):
        dram = float(devices.has_dram[i])
        sums.append(RunSums(
            prefill_s=float(prefill_s[i]), decode_s=float(decode_s[i]),
            seconds_by_bound={k: float(v[i]) for k, v in by_time.items()},
            dtype=model.quant.compute_dtype, matrix_flops=float(run.matrix_flops), vector_flops=float(vector_flops[i]),
            dram_read_bytes=dram * float(read_bytes[i]), dram_write_bytes=dram * float(write_bytes[i]),
            # Every main-memory byte is staged once through the on-chip buffer (one write, one read).
            sram_read_bytes=float(memory_bytes[i]), sram_write_bytes=float(memory_bytes[i]),
            weight_first_fetch_bytes=dram * first_fetch, weight_refetch_bytes=dram * (run.weight_bytes - first_fetch),
            kv_dram_bytes=dram * float(run.kv_bytes), activation_spill_bytes=dram * float(act_bytes[i]),
        ))
    return sums
