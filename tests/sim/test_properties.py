"""Property tests on small random traces: monotonicity, conservation, non-negative energy."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from hwsim.sim import simulate
from hwsim.workload import trace as T
from tests.sim.helpers import device, gemm, trace

SETTINGS = settings(max_examples=15, deadline=None)


@st.composite
def small_traces(draw, equal_sizes=False):
    """A handful of GEMMs over a small pool of weights (so some are reused), with KV reads and
    activations."""
    pool = draw(st.integers(1, 5))
    sizes = [256] * pool if equal_sizes else [draw(st.sampled_from([64, 128, 256, 512])) for _ in range(pool)]
    rows = []
    for i in range(draw(st.integers(1, 12))):
        w = draw(st.integers(0, pool - 1))
        m = draw(st.integers(1, 8))
        row = gemm(f"op{i}", f"w{w}", sizes[w], 256, m=m, act_bytes=float(draw(st.sampled_from([0, 1024, 65536]))))
        row["kv_read_bytes"] = float(draw(st.sampled_from([0, 4096])))
        rows.append(row)
    return trace(rows)


def _latency(ops, **hw):
    return simulate(ops, device(**hw), policy="lru").totals["latency_s"]


@SETTINGS
@given(small_traces(), st.sampled_from(["lru", "belady", "pin", "stream"]))
def test_latency_never_rises_with_dram_bandwidth(ops, policy):
    slow = simulate(ops, device(bandwidth="1 GB/s", sram="256 KiB"), policy=policy).totals["latency_s"]
    fast = simulate(ops, device(bandwidth="4 GB/s", sram="256 KiB"), policy=policy).totals["latency_s"]
    assert fast <= slow * (1 + 1e-12)


@SETTINGS
@given(small_traces(), st.sampled_from(["lru", "belady", "pin", "stream"]))
def test_latency_never_rises_with_peak_compute(ops, policy):
    slow = simulate(ops, device(matrix="1 GFLOP/s", sram="256 KiB"), policy=policy).totals["latency_s"]
    fast = simulate(ops, device(matrix="8 GFLOP/s", sram="256 KiB"), policy=policy).totals["latency_s"]
    assert fast <= slow * (1 + 1e-12)


@SETTINGS
@given(small_traces(equal_sizes=True), st.integers(0, 6), st.integers(0, 6))
def test_dram_bytes_never_rise_with_sram_under_belady(ops, small, extra):
    """Equal-sized tensors: farthest-next-use is optimal there, hence monotone in capacity."""
    def dram(kib):
        totals = simulate(ops, device(sram=f"{kib} KiB"), policy="belady").totals
        return totals["dram_read_bytes"] + totals["dram_write_bytes"]
    assert dram(64 * (small + extra)) <= dram(64 * small)


@SETTINGS
@given(small_traces(), st.sampled_from(["lru", "belady", "pin", "stream"]), st.sampled_from([None, "128 KiB", "1 MiB"]))
def test_bytes_served_equal_bytes_demanded_and_energy_is_positive(ops, policy, sram):
    result = simulate(ops, device(sram=sram), policy=policy)
    o = result.ops
    weights = o.weight_first_fetch_bytes + o.weight_refetch_bytes + o.weight_sram_bytes
    np.testing.assert_allclose(weights.sum(), ops[T.WEIGHT_BYTES].sum())
    np.testing.assert_allclose((o.act_sram_bytes + o.spill_read_bytes + o.spill_write_bytes).sum(),
                               (ops[T.ACT_IN_BYTES] + ops[T.ACT_OUT_BYTES]).sum())
    np.testing.assert_allclose((o.kv_dram_bytes + o.kv_sram_bytes).sum(),
                               (ops[T.KV_READ_BYTES] + ops[T.KV_WRITE_BYTES]).sum())
    totals = result.totals
    assert totals["dram_read_bytes"] + totals["dram_write_bytes"] == pytest.approx(
        totals["dram_weight_first_fetch_bytes"] + totals["dram_weight_refetch_bytes"] + totals["dram_kv_bytes"]
        + totals["dram_activation_spill_bytes"])
    for key in ("energy_j", "energy_compute_j", "energy_sram_j", "energy_dram_j", "energy_static_j"):
        assert totals[key] >= 0
    assert totals["energy_j"] > 0
