"""The event simulation against the closed-form roofline: the per-op estimate and its own busy times."""

import numpy as np
import pytest

from hwsim.sim import roofline_totals, simulate
from hwsim.spec.loader import load_hardware, load_model
from hwsim.spec.variants import configure_model

CASES = [  # (model, quant, phase, prompt, batch): decode is memory-bound, big-batch prefill compute-bound
    ("llama-3.2-1b", "bf16", "decode", 256, 1),
    ("ouro-1.4b", "int4-g128", "decode", 64, 1),
    ("llama-3.2-1b", "int8", "prefill", 512, 4),
]


@pytest.mark.parametrize("name, quant, phase, prompt, batch", CASES)
def test_des_never_below_the_roofline_lower_bound(name, quant, phase, prompt, batch):
    """Engines serialise on their lane and transfers on the channel, so the run can finish no
    sooner than the larger of total busy time and total transfer time."""
    hw = load_hardware("edge-npu")
    model = configure_model(load_model(name), quant=quant)
    result = simulate(model, hw, phase=phase, prompt_len=prompt, gen_len=3, batch=batch, policy="lru")
    ops, weight = result.ops, result.ops["multiplicity"].to_numpy()
    engines = ((np.maximum(ops.compute_s, ops.dequant_s) + ops.launch_s) * weight).sum()
    memory = (ops.memory_s * weight).sum()
    assert result.totals["latency_s"] >= max(engines, memory) * (1 - 1e-9)


FAR_FROM_RIDGE = [  # (model, quant, phase, prompt, batch, hardware overrides, side)
    ("llama-3.2-1b", "bf16", "decode", 256, 1, {}, "memory"),
    ("ouro-1.4b", "int8", "decode", 64, 1, {}, "memory"),
    ("llama-3.2-1b", "int8", "prefill", 512, 1, {"memory.dram.bandwidth": "4 TB/s"}, "compute"),
]


@pytest.mark.parametrize("name, quant, phase, prompt, batch, overrides, side", FAR_FROM_RIDGE)
def test_des_equals_roofline_without_reuse_far_from_the_ridge(name, quant, phase, prompt, batch, overrides, side):
    hw = load_hardware("edge-npu", overrides or None)
    model = configure_model(load_model(name), quant=quant)
    kwargs = dict(phase=phase, prompt_len=prompt, gen_len=3, batch=batch, policy="stream")
    des = simulate(model, hw, **kwargs)
    bound = simulate(model, hw, engine="roofline", **kwargs)
    assert des.totals["bound"] == bound.totals["bound"] == side
    # Within 3%: the estimate also streams the activations the DES keeps on chip.
    assert des.totals["latency_s"] == pytest.approx(bound.totals["latency_s"], rel=0.03)
    # Under `stream` both fetch every weight at every use; the estimate also streams activations.
    weights = ("dram_weight_first_fetch_bytes", "dram_weight_refetch_bytes")
    assert sum(des.totals[k] for k in weights) == pytest.approx(sum(bound.totals[k] for k in weights), rel=1e-12)
    assert des.totals["dram_kv_bytes"] == pytest.approx(bound.totals["dram_kv_bytes"], rel=1e-12)
    assert des.totals["dram_read_bytes"] <= bound.totals["dram_read_bytes"]


def test_roofline_engine_is_the_closed_form_estimate():
    hw = load_hardware("edge-npu")
    model = load_model("llama-3.2-1b")
    result = simulate(model, hw, phase="e2e", prompt_len=128, gen_len=4, policy="belady", engine="roofline")
    theirs = roofline_totals(model, hw, phase="e2e", prompt_len=128, gen_len=4, bound="op")
    assert result.totals == theirs
    assert result.inputs["engine"] == "roofline" and result.inputs["bound"] == "op"
    assert result.timeline.empty


def test_a_trace_runs_only_on_the_des_engine():
    from hwsim.errors import ConfigError
    from hwsim.workload.transformer import build_trace

    trace = build_trace(load_model("llama-3.2-1b"), "decode", 1, 16)
    with pytest.raises(ConfigError, match="engine: a trace"):
        simulate(trace, load_hardware("edge-npu"), engine="roofline")
