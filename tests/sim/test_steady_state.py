"""Extrapolating loops (and decode steps) from a warm-up and a steady state matches the full run."""

import pytest

from hwsim.sim import simulate
from hwsim.spec.loader import load_hardware, load_model
from hwsim.spec.variants import configure_model

KEYS = ("latency_s", "energy_j", "dram_read_bytes", "dram_weight_refetch_bytes", "dram_kv_bytes")


@pytest.mark.parametrize("policy", ["stream", "lru", "belady", "pin"])
@pytest.mark.parametrize("loops", [3, 8])
def test_loop_extrapolation_matches_full_event_simulation(policy, loops):
    hw = load_hardware("edge-npu", {"memory.sram.capacity": "48 MiB"})
    model = configure_model(load_model("ouro-1.4b"), loops=loops, quant="int4-g128")
    fast = simulate(model, hw, phase="decode", prompt_len=32, gen_len=3, policy=policy).totals
    full = simulate(model, hw, phase="decode", prompt_len=32, gen_len=3, policy=policy, full_loops=True).totals
    for key in KEYS:
        assert fast[key] == pytest.approx(full[key], rel=0.01), key


@pytest.mark.parametrize("policy", ["lru", "belady"])
def test_trm_loop_extrapolation_matches(policy):
    hw = load_hardware("edge-npu", {"memory.sram.capacity": "4 MiB"})
    model = configure_model(load_model("trm"), loops=6, quant="int8")
    fast = simulate(model, hw, phase="prefill", policy=policy).totals
    full = simulate(model, hw, phase="prefill", policy=policy, full_loops=True).totals
    for key in KEYS:
        assert fast[key] == pytest.approx(full[key], rel=0.01), key


def test_decode_interpolation_matches_every_step():
    """Steps 1..N-1 interpolated from three simulated steps vs all five steps simulated."""
    hw = load_hardware("edge-npu")
    model = load_model("llama-3.2-1b")
    sampled = simulate(model, hw, phase="decode", prompt_len=2048, gen_len=9, policy="lru").totals
    # gen_len <= 5 simulates every step: compare per-token figures at matching mean context.
    exact = simulate(model, hw, phase="decode", prompt_len=2050, gen_len=5, policy="lru").totals
    assert sampled["tpot_s"] == pytest.approx(exact["tpot_s"], rel=0.01)
    assert sampled["dram_kv_bytes"] / 9 == pytest.approx(exact["dram_kv_bytes"] / 5, rel=0.01)


def test_decode_points_interpolate_within_each_depth_range():
    from hwsim.sim.engine import decode_points

    steps, weights = decode_points(20, [(0, 3), (3, 11), (11, 20)])
    assert steps == [0, 1, 2, 3, 6, 10, 11, 15, 19]
    assert weights.sum() == pytest.approx(20)
    # A range's weights add up to its length: no step stands in for another range's.
    assert weights[3:6].sum() == pytest.approx(8) and weights[6:].sum() == pytest.approx(9)
    single, grouped = decode_points(20), decode_points(20, [(0, 20)])
    assert single[0] == grouped[0] == [0, 1, 10, 19] and list(single[1]) == list(grouped[1])
