"""`simulate`: run a model (or a trace) on a device with either engine, into one SimResult.

The two engines are peers: the discrete-event engine (`des`, hwsim.sim.engine) and the
closed-form one (`roofline`, hwsim.cost.closed_form). Both cost ops with the same kernel
(hwsim.cost.op_cost) and hand their sums to the one results builder (hwsim.totals), so the
totals mean the same whichever engine ran, and capacity totals are identical.
"""

from __future__ import annotations

import pandas as pd

from hwsim.cost.closed_form import closed_form_batch, closed_form_sums
from hwsim.errors import ConfigError
from hwsim.sim import memory
from hwsim.sim.engine import PHASES, des_run
from hwsim.spec.hardware import HardwareSpec
from hwsim.spec.model import ModelSpec
from hwsim.totals import build_result, build_totals, footprint_bytes
from hwsim.vocab import ENGINES
from hwsim.workload import trace as T



def roofline_totals(model: ModelSpec, hardware: HardwareSpec, *, phase: str = "e2e", prompt_len: int = 512,
                    gen_len: int = 128, batch: int = 1, bound: str = "op") -> dict:
    """The closed-form engine's totals (the SimResult totals keys) without building a SimResult:
    `bound="op"` the per-op roofline estimate, `bound="floor"` a lower bound on the DES's times
    (hwsim.cost.closed_form.closed_form_sums)."""
    return roofline_totals_batch(model, [hardware], phase=phase, prompt_len=prompt_len, gen_len=gen_len,
                                 batch=batch, bound=bound)[0]


def roofline_totals_batch(model: ModelSpec, hardware: list[HardwareSpec], *, phase: str = "e2e",
                          prompt_len: int = 512, gen_len: int = 128, batch: int = 1, bound: str = "op") -> list[dict]:
    """`roofline_totals` for many devices at once (closed_form_batch), one dict per device."""
    run = dict(phase=phase, prompt_len=prompt_len, gen_len=gen_len, batch=batch)
    footprint = footprint_bytes(model, **run)
    return [build_totals(sums, model, hw, **run, footprint=footprint)[0]
            for sums, hw in zip(closed_form_batch(model, hardware, **run, bound=bound), hardware)]


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
    if phase not in PHASES:
        raise ConfigError(f"phase: unknown {phase!r}; known: {', '.join(PHASES)}")
    if policy not in memory.POLICIES:
        raise ConfigError(f"policy: unknown {policy!r}; known: {', '.join(memory.POLICIES)}")
    if engine not in ENGINES:
        raise ConfigError(f"engine: unknown {engine!r}; known: {', '.join(ENGINES)}")
    if batch < 1 or prompt_len < 0 or gen_len < 0:
        raise ConfigError(f"batch >= 1, prompt >= 0 and gen >= 0 needed (got {batch}, {prompt_len}, {gen_len})")
    run = dict(phase=phase, prompt_len=prompt_len, gen_len=gen_len, batch=batch)
    inputs = {"model": model.name if isinstance(model, ModelSpec) else "trace", "hardware": hardware.name,
              **run, "policy": policy, "engine": engine, "full_loops": full_loops}
    if isinstance(model, pd.DataFrame):
        if engine != "des":
            raise ConfigError("engine: a trace given as a DataFrame runs on the des engine (the roofline needs a model)")
        T.validate_trace(model)
        sums, ops, timeline = des_run(model, hardware, **run, policy=policy, full_loops=True)
        return build_result(sums, None, hardware, inputs, ops=ops, timeline=timeline, trace=model)
    inputs.update(loops=model.loop.count, quant=model.quant.name, kv_policy=model.loop.kv_policy)
    if (model.task is not None or not model.has_decode) and phase == "decode":
        raise ConfigError(f"phase: {model.name} has no decode phase (non-causal or no LM head); use prefill")
    if engine == "roofline":
        sums = closed_form_sums(model, hardware, **run, bound="op")
        return build_result(sums, model, hardware, {**inputs, "bound": "op"})
    sums, ops, timeline = des_run(model, hardware, **run, policy=policy, full_loops=full_loops)
    return build_result(sums, model, hardware, inputs, ops=ops, timeline=timeline)
