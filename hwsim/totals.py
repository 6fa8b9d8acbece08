"""The one results builder: what an engine measured (hwsim.cost.sums.RunSums) -> SimResult totals.

Both engines end here, so the 25 totals mean the same thing whichever engine ran. Capacity
(memory_footprint_bytes, fits, shortfall_bytes) is a property of the workload, not of how it
was timed: it is computed here from the model and the run settings only, so it is identical for
every engine (and for the floor a sweep prunes with) by construction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hwsim import cache
from hwsim.cost.energy import ActionCounts, price
from hwsim.cost.sums import RunSums
from hwsim.result import TIMELINE_COLUMNS, SimResult
from hwsim.spec.hardware import HardwareSpec
from hwsim.spec.model import ModelSpec
from hwsim.workload import trace as T
from hwsim.workload.trace_cache import cached_decode_pair, cached_sum_columns
from hwsim.workload.weights import kv_cache_bytes, unique_weight_bytes


def has_decode(model: ModelSpec, phase: str, gen_len: int) -> bool:
    """Whether a run decodes: a causal LM, a phase other than prefill, and tokens to generate."""
    return model.task is None and model.has_decode and phase != "prefill" and gen_len > 0


def run_tokens(model: ModelSpec | None, phase: str, prompt_len: int, gen_len: int, batch: int) -> float:
    """Tokens a run delivers: generated ones; a prefill-only run counts the prompt it processed
    (a task model its task sequence); a bare trace counts one."""
    if model is None:
        return 1.0
    if has_decode(model, phase, gen_len):
        return float(batch * gen_len)
    return float(batch * (model.task.seq_len + model.task.prefix_tokens if model.task else prompt_len))


def working_set_bytes(model: ModelSpec, phase: str, prompt_len: int, gen_len: int, batch: int) -> float:
    """Largest activations one op holds (inputs + outputs) over the run: the prefill's ops, and
    the decode ops at the last context (activation bytes are linear in the context, so they are
    read off the traces at contexts 0 and 1 the engines build anyway)."""
    largest = 0.0
    if phase != "decode" or not has_decode(model, phase, gen_len):
        columns, _ = cached_sum_columns(model, "prefill", batch, prompt_len)
        largest = float((columns[T.ACT_IN_BYTES] + columns[T.ACT_OUT_BYTES]).max())
    if has_decode(model, phase, gen_len):
        pair, _ = cached_decode_pair(model, batch, 0, token_step=0, num_steps=gen_len)
        act0, act1 = (pair[T.ACT_IN_BYTES] + pair[T.ACT_OUT_BYTES]).reshape(2, -1)
        largest = max(largest, float(np.max(act0 + (act1 - act0) * (prompt_len + gen_len - 1))))
    return largest


def footprint_bytes(model: ModelSpec | None, *, phase: str, prompt_len: int, gen_len: int, batch: int,
                    trace: pd.DataFrame | None = None) -> float:
    """Distinct weights + the KV cache at the run's last context + the largest working set. A
    bare trace: its weights and working set."""
    if model is None:
        weighted = trace[trace[T.WEIGHT_ID] != ""]
        return (float(weighted.drop_duplicates(T.WEIGHT_ID)[T.WEIGHT_BYTES].sum())
                + float((trace[T.ACT_IN_BYTES] + trace[T.ACT_OUT_BYTES]).max()) if len(trace) else 0.0)
    def total() -> float:
        if model.task is not None or not model.has_decode:
            context = 0
        else:
            context = prompt_len + (gen_len if has_decode(model, phase, gen_len) else 0)
        return (unique_weight_bytes(model) + kv_cache_bytes(model, context) * batch
                + working_set_bytes(model, phase, prompt_len, gen_len, batch))
    return cache.per_spec.get(f"footprint:{phase}:{prompt_len}:{gen_len}:{batch}", model, total)


def capacity_totals(footprint: float, hardware: HardwareSpec) -> dict:
    """The footprint against the main memory's capacity."""
    capacity = hardware.main_memory.capacity_bytes
    return {"memory_footprint_bytes": footprint, "memory_capacity_bytes": capacity,
            "fits": bool(footprint <= capacity), "shortfall_bytes": max(footprint - capacity, 0.0)}


def build_totals(sums: RunSums, model: ModelSpec | None, hardware: HardwareSpec, *, phase: str,
                 prompt_len: int, gen_len: int, batch: int, trace: pd.DataFrame | None = None,
                 footprint: float | None = None) -> tuple[dict, ActionCounts]:
    """The SimResult totals (result.TOTAL_KEYS) and the action counts they were priced from.
    `footprint` (footprint_bytes of the same run) saves recomputing it for a batch of devices."""
    # A run that processes a prompt pays the runtime's fixed time per request once, before its first token.
    ttft_s = sums.prefill_s + (hardware.overhead.request_s if sums.prefill_s > 0 else 0.0)
    latency_s = ttft_s + sums.decode_s                   # decode waits for the prefill
    tokens = run_tokens(model, phase, prompt_len, gen_len, batch)
    dtype_used, peak_flops = hardware.matrix.rate_for(sums.dtype)
    actions = ActionCounts({dtype_used: sums.matrix_flops}, sums.vector_flops, sums.sram_read_bytes,
                           sums.sram_write_bytes, sums.dram_read_bytes, sums.dram_write_bytes)
    joules = price(actions, hardware, latency_s)
    if footprint is None:
        footprint = footprint_bytes(model, phase=phase, prompt_len=prompt_len, gen_len=gen_len, batch=batch,
                                    trace=trace)
    capacity = capacity_totals(footprint, hardware)
    on_chip_only = hardware.dram is None
    decoded = gen_len if (model is None or has_decode(model, phase, gen_len)) and sums.decode_s > 0 else 0
    by_bound = {k: v for k, v in sums.seconds_by_bound.items() if v > 0} or {"overhead": 0.0}
    totals = {
        "latency_s": latency_s,
        "ttft_s": ttft_s,
        "tpot_s": sums.decode_s / decoded if decoded else 0.0,
        "tokens_per_s": tokens / latency_s if latency_s > 0 else 0.0,
        "energy_j": joules["energy_j"],
        "energy_per_token_j": joules["energy_j"] / tokens,
        "power_w": joules["energy_j"] / latency_s if latency_s > 0 else 0.0,
        "dram_read_bytes": actions.dram_read_bytes,
        "dram_write_bytes": actions.dram_write_bytes,
        "dram_bytes_per_token": (actions.dram_read_bytes + actions.dram_write_bytes) / tokens,
        "dram_weight_first_fetch_bytes": sums.weight_first_fetch_bytes,
        "dram_weight_refetch_bytes": sums.weight_refetch_bytes,
        "dram_kv_bytes": sums.kv_dram_bytes,
        "dram_activation_spill_bytes": sums.activation_spill_bytes,
        # An all-SRAM design holds the whole footprint on chip (up to its capacity).
        "sram_peak_bytes": (min(capacity["memory_footprint_bytes"], capacity["memory_capacity_bytes"])
                            if on_chip_only else sums.sram_peak_bytes),
        **capacity,
        "compute_utilization": sums.matrix_flops / (latency_s * peak_flops) if latency_s > 0 else 0.0,
        "bound": max(by_bound, key=by_bound.get),
        **{key: joules[key] for key in ("energy_compute_j", "energy_sram_j", "energy_dram_j", "energy_static_j")},
    }
    return totals, actions


def build_result(sums: RunSums, model: ModelSpec | None, hardware: HardwareSpec, inputs: dict, *,
                 ops=None, timeline=None, trace: pd.DataFrame | None = None) -> SimResult:
    """A SimResult from an engine's sums; `ops` and `timeline` (DataFrames, or functions building
    them on first read) where the engine has them."""
    totals, actions = build_totals(sums, model, hardware, phase=inputs["phase"], prompt_len=inputs["prompt_len"],
                                   gen_len=inputs["gen_len"], batch=inputs["batch"], trace=trace)
    return SimResult(inputs=inputs, totals=totals, ops=ops if ops is not None else pd.DataFrame(),
                     timeline=timeline if timeline is not None else pd.DataFrame(columns=list(TIMELINE_COLUMNS)),
                     actions=actions)
