"""The roofline floor is a true lower bound on the event simulation, for every residency policy:
latency, ttft and tpot of the DES never fall below `roofline_totals(..., bound="floor")`."""

import pytest
from hypothesis import given, settings, strategies as st

from hwsim.sim import roofline_totals
from hwsim.sim import simulate
from hwsim.spec.loader import load_hardware, load_model
from hwsim.spec.variants import configure_model

TINY_LOOPED = {"name": "ouro-tiny", "hidden_size": 256, "vocab_size": 4096,
               "blocks": [{"name": "core", "num_layers": 2}],
               "attention": {"num_heads": 4, "num_kv_heads": 4, "head_dim": 64},
               "mlp": {"kind": "swiglu", "intermediate_size": 512}}
TINY_DECODER = {"name": "llama-tiny", "hidden_size": 128, "vocab_size": 2048,
                "blocks": [{"name": "layers", "num_layers": 3}],
                "attention": {"num_heads": 2, "num_kv_heads": 1, "head_dim": 64},
                "mlp": {"kind": "swiglu", "intermediate_size": 384}}
BASES = {"looped": ("ouro-1.4b", TINY_LOOPED), "decoder": ("llama-3.2-1b", TINY_DECODER),
         # per-token loop depths drawn from a distribution (the loop count is the distribution's)
         "depths": ("ouro-1.4b", {**TINY_LOOPED, "loop.distribution": [0.5, 0.0, 0.25, 0.25]})}
TIMES = ("latency_s", "ttft_s", "tpot_s")
REL = 1e-9   # float rounding of sums taken in different orders


def tiny_model(base: str, loops: int, quant: str):
    name, fields = BASES[base]
    model = load_model(name, overrides=fields)
    return configure_model(model, loops=loops if base == "looped" else None, quant=quant)


def assert_floor_holds(des: dict, floor: dict) -> None:
    for key in TIMES:
        assert des[key] >= floor[key] * (1 - REL), (key, des[key], floor[key])


DESIGNS = dict(
    base=st.sampled_from(sorted(BASES)), loops=st.integers(1, 6), quant=st.sampled_from(["bf16", "int8", "int4-g128"]),
    policy=st.sampled_from(["stream", "lru", "belady", "pin"]),
    sram=st.sampled_from(["0 B", "64 KiB", "256 KiB", "1 MiB", "4 MiB", "32 MiB"]),
    bandwidth=st.sampled_from(["1 GB/s", "17 GB/s", "100 GB/s", "3 TB/s"]),
    launch=st.sampled_from(["0 s", "1 us", "20 us"]), batch=st.integers(1, 4),
    phase=st.sampled_from(["prefill", "decode", "e2e"]), prompt=st.integers(1, 48), gen=st.integers(1, 24))


@settings(max_examples=40, deadline=None)
@given(**DESIGNS)
def test_des_never_beats_the_floor(base, loops, quant, policy, sram, bandwidth, launch, batch, phase, prompt, gen):
    hw = load_hardware("edge-npu", {"memory.sram.capacity": sram, "memory.dram.bandwidth": bandwidth,
                                    "overhead.op_launch": launch})
    model = tiny_model(base, loops, quant)
    run = dict(phase=phase, prompt_len=prompt, gen_len=gen, batch=batch)
    des = simulate(model, hw, policy=policy, **run).totals
    floor = roofline_totals(model, hw, bound="floor", **run)
    assert_floor_holds(des, floor)


@pytest.mark.parametrize("hardware", ["edge-npu", "jetson-orin-nano", "h100-sxm"])
@pytest.mark.parametrize("policy", ["lru", "belady", "pin"])
def test_floor_holds_where_the_per_op_estimate_does_not(hardware, policy):
    """The cases that showed the per-op estimate is no bound: reuse and overlap beat it."""
    hw = load_hardware(hardware, {"memory.sram.capacity": "256 KiB"} if hardware == "edge-npu" else None)
    model = tiny_model("looped", 4, "int4-g128")
    run = dict(phase="e2e", prompt_len=32, gen_len=8)
    des = simulate(model, hw, policy=policy, **run).totals
    assert_floor_holds(des, roofline_totals(model, hw, bound="floor", **run))


def test_floor_is_below_the_per_op_estimate_and_tight_when_streaming_weights():
    hw = load_hardware("edge-npu", {"memory.sram.capacity": "0 B"})
    model = load_model("llama-3.2-1b")
    run = dict(phase="decode", prompt_len=64, gen_len=4)
    floor = roofline_totals(model, hw, bound="floor", **run)
    estimate = roofline_totals(model, hw, bound="op", **run)
    des = simulate(model, hw, policy="stream", **run).totals
    assert floor["tpot_s"] <= estimate["tpot_s"]
    # Decode of a 1B model with no SRAM streams every weight each step: the floor is that traffic.
    assert des["tpot_s"] == pytest.approx(floor["tpot_s"], rel=0.05)
