"""Exact small scenarios: every (event, time) is computed by hand."""

import pytest

from hwsim.sim import simulate
from hwsim.sim.engine import Engine
from tests.sim.helpers import MiB, device, gemm, trace

LATENCY = 1e-6
ONE_MIB_S = 2.0**-10 + LATENCY      # 1 MiB over 1 GiB/s, plus the stated latency


def test_one_mib_over_one_gib_per_s():
    hw = device()
    assert Engine(hw).transfer_seconds(MiB) == ONE_MIB_S
    # A vector op with no FLOPs: only the load of its 1 MiB weight vector takes time.
    row = gemm("w", "w0", 1024, 1024)
    row.update(op_kind="norm", m=0, n=0, k=0, flops=0.0)
    result = simulate(trace([row]), hw, policy="stream")
    dma = result.timeline[result.timeline.lane == "dma"]
    assert list(zip(dma.name, dma.start_s, dma.end_s)) == [("w", 0.0, ONE_MIB_S)]
    assert result.totals["latency_s"] == ONE_MIB_S


def test_two_loads_on_one_channel_serialise():
    """Compute is negligible; the second load starts when the first ends (one channel)."""
    ops = trace([gemm("a", "wa", 1024, 1024), gemm("b", "wb", 1024, 1024)])
    result = simulate(ops, device(matrix="1 PFLOP/s"), policy="stream")
    dma = result.timeline[result.timeline.lane == "dma"]
    assert list(zip(dma.name, dma.start_s, dma.end_s)) == [("a", 0.0, ONE_MIB_S), ("b", ONE_MIB_S, 2 * ONE_MIB_S)]
    assert (result.timeline["token_step"] == 0).all()


def test_load_overlapping_compute_costs_the_max_not_the_sum():
    """Weights stream in 64 KiB tiles: an engine starts on the first tile (1/16 of 1 MiB) and
    the next op's weights load while this one computes."""
    hw = device()
    compute_s = 2 * 1024 * 1024 / 1e9          # 2 m n k FLOPs at 1 GFLOP/s, m = 1 = tile_m
    first_tile = LATENCY + 2.0**-10 / 16
    assert compute_s > ONE_MIB_S
    ops = trace([gemm("a", "wa", 1024, 1024), gemm("b", "wb", 1024, 1024)])
    result = simulate(ops, hw, policy="stream")
    events = sorted(zip(result.timeline.lane, result.timeline.name, result.timeline.start_s, result.timeline.end_s),
                    key=lambda e: (e[2], e[0]))
    expected = [
        ("dma", "a", 0.0, ONE_MIB_S),
        ("matrix", "a", first_tile, first_tile + compute_s),
        ("dma", "b", ONE_MIB_S, 2 * ONE_MIB_S),                  # prefetched while a computes
        ("matrix", "b", first_tile + compute_s, first_tile + 2 * compute_s),
    ]
    assert [e[:2] for e in events] == [e[:2] for e in expected]
    flat = lambda items: [t for e in items for t in e[2:]]  # noqa: E731
    assert flat(events) == pytest.approx(flat(expected), rel=1e-12)
    latency = result.totals["latency_s"]
    assert latency == pytest.approx(first_tile + 2 * compute_s, rel=1e-12)
    assert latency < 2 * (ONE_MIB_S + compute_s)


def test_memory_bound_pipeline_is_the_sum_of_loads():
    hw = device(matrix="1 TFLOP/s")               # compute is negligible: loads back to back
    ops = trace([gemm(f"op{i}", f"w{i}", 1024, 1024) for i in range(4)])
    result = simulate(ops, hw, policy="stream")
    compute_s = 2 * 1024 * 1024 / 1e12
    # The last op finishes its last tile's work after its last byte arrives.
    assert result.totals["latency_s"] == pytest.approx(4 * ONE_MIB_S + compute_s / 16, rel=1e-12)
    assert result.totals["bound"] == "memory"


def test_weight_resident_after_first_use_costs_no_dram():
    hw = device(sram="4 MiB")
    ops = trace([gemm("a", "w", 1024, 1024), gemm("b", "w", 1024, 1024)])
    for policy, expected_reads in (("stream", 2 * MiB), ("lru", MiB), ("belady", MiB), ("pin", MiB)):   # pin keeps every weight of a loop-free trace
        totals = simulate(ops, hw, policy=policy).totals
        assert totals["dram_read_bytes"] == expected_reads, policy
        assert totals["dram_weight_first_fetch_bytes"] == MiB
        assert totals["dram_weight_refetch_bytes"] == expected_reads - MiB


def test_kv_reads_and_weight_loads_share_the_channel():
    hw = device(matrix="1 TFLOP/s")
    kv = gemm("attn", "", 0, 0, m=0, op_kind="attn_score", kv_read_bytes=MiB)
    ops = trace([gemm("a", "wa", 1024, 1024), kv])
    result = simulate(ops, hw, policy="stream")
    dma = result.timeline[result.timeline.lane == "dma"].sort_values("start_s")
    assert list(zip(dma.name, dma.start_s, dma.end_s)) == [("a", 0.0, ONE_MIB_S), ("attn", ONE_MIB_S, 2 * ONE_MIB_S)]
    assert result.totals["dram_kv_bytes"] == MiB


def test_trace_footprint_counts_each_weight_once():
    ops = trace([gemm("a", "w", 1024, 1024), gemm("b", "w", 1024, 1024), gemm("c", "v", 512, 1024)])
    totals = simulate(ops, device(sram="4 MiB"), policy="lru").totals
    assert totals["memory_footprint_bytes"] == MiB + MiB / 2


def test_timeline_names_the_decode_step_of_every_interval():
    from hwsim.spec.loader import load_hardware, load_model

    model = load_model("llama-3.2-1b", overrides={"blocks": [{"name": "layers", "num_layers": 2}]})
    result = simulate(model, load_hardware("edge-npu"), prompt_len=8, gen_len=3)
    timeline = result.timeline
    assert sorted(timeline["token_step"].unique()) == [-1, 0, 1, 2]      # -1: the prefill
    for step in (-1, 0, 1, 2):
        mine = timeline[timeline["token_step"] == step]
        others = timeline[timeline["token_step"] > step]
        assert len(mine) and (others.empty or mine["start_s"].max() <= others["start_s"].min())
