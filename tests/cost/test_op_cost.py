"""Per-op roofline costs against hand-computed cases on the round device (conftest.py)."""

import numpy as np
import pytest

from hwsim.cost import op_cost as R
from hwsim.spec.quant import quant_preset
from tests.cost.conftest import make_trace, op

TFLOP = 1e12


def test_large_gemm_runs_at_peak(device):
    # 2 * 1024^3 FLOPs on a 1 TFLOP/s engine, M a multiple of tile_m: 2^31 / 1e12 s.
    assert R.compute_seconds(2 * 1024**3, 1024, "matmul", "bf16", device()) == pytest.approx(2**31 / TFLOP, rel=1e-12)


def test_gemm_below_tile_m_runs_at_m_over_tile_m(device):
    # A decode GEMV (M = 1) on a 16-row unit costs 16 rows of work.
    flops = 2.0 * 1 * 1024 * 1024
    assert R.compute_seconds(flops, 1, "matmul", "bf16", device()) == pytest.approx(flops * 16 / TFLOP)


def test_tile_quantisation_pads_m_to_whole_tiles(device):
    flops = 2.0 * 17 * 64 * 64
    assert R.compute_seconds(flops, 17, "attn_score", "bf16", device()) == pytest.approx(flops * 32 / 17 / TFLOP)


def test_efficiency_and_dtype_fallback(device):
    half = device(**{"compute.matrix.efficiency": 0.5})
    assert R.compute_seconds(2e12, 64, "matmul", "bf16", half) == pytest.approx(4.0)
    # int4 and fp8 have no rate here: they run at the next wider dtype with one (int8, 2 TOPS).
    assert R.compute_seconds(2e12, 64, "matmul", "int4", device()) == pytest.approx(1.0)
    assert R.compute_seconds(2e12, 64, "lm_head", "fp8", device()) == pytest.approx(1.0)


def test_vector_kinds_run_on_the_vector_engine(device):
    # bf16 falls back to fp16 on the vector engine (100 GFLOP/s); tile_m does not apply.
    assert R.compute_seconds(1e9, 0, "softmax", "bf16", device()) == pytest.approx(0.01)
    assert R.compute_seconds(1e9, 1, "norm", "bf16", device()) == pytest.approx(0.01)


def test_array_variant_matches_scalar(device):
    hw = device()
    flops = np.array([2.0 * 3 * 5 * 7, 1e6, 2.0 * 64 * 8 * 8, 0.0])
    m = np.array([3, 0, 64, 0])
    kinds = np.array(["expert", "act", "matmul", "matmul"], dtype=object)
    expected = [R.compute_seconds(f, mm, k, "bf16", hw) for f, mm, k in zip(flops, m, kinds)]
    assert R.compute_seconds_array(flops, m, kinds, "bf16", hw) == pytest.approx(expected)
    assert expected[-1] == 0.0


def test_dequant_seconds(device):
    # 1e6 weights x 2 FLOP each on the 100 GFLOP/s vector engine.
    assert R.dequant_seconds(1e6, device()) == pytest.approx(2e6 / 1e11)
    assert R.dequant_seconds(1e6, device(**{"overhead.dequant_flops_per_weight": 0.0})) == 0.0


def test_memory_seconds(device):
    assert R.memory_seconds(2**20, device()) == pytest.approx(2**-10, rel=1e-12)
    slow = device(**{"memory.dram.latency": "1 us", "memory.dram.efficiency": 0.5})
    assert R.memory_seconds(2**20, slow) == pytest.approx(2 * 2**-10 + 1e-6)
    assert R.memory_seconds(0.0, slow) == 0.0  # nothing moved: no access latency
    assert R.memory_seconds(np.array([0.0, 2**30]), device()) == pytest.approx([0.0, 1.0])


def test_op_times_memory_bound_gemv_with_launch(device):
    hw = device(**{"overhead.op_launch": "1 us"})
    weight = 1024 * 1024 * 2.0
    trace = make_trace(op(name="w", m=1, n=1024, k=1024, weight_id="w", weight_bytes=weight,
                          act_in_bytes=2048.0, act_out_bytes=2048.0),
                       op(name="s", op_kind="softmax", flops=1e3, act_in_bytes=1.0))
    times = R.op_times(trace, hw)
    gemv = times.iloc[0]
    assert gemv.compute_s == pytest.approx(2.0 * 1024 * 1024 * 16 / TFLOP)
    assert gemv.memory_s == pytest.approx((weight + 4096) / 2**30)
    assert gemv.bound_s == pytest.approx(gemv.memory_s + 1e-6)
    assert gemv.bound == "memory"
    assert times.iloc[1].bound == "overhead"  # 1 us launch dwarfs 10 ns of work
    assert list(times.columns[:2]) == ["op_id", "name"]


def test_op_times_compute_bound_and_dram_override(device):
    trace = make_trace(op(name="big", m=4096, n=4096, k=4096, weight_id="w", weight_bytes=32.0 * 2**20))
    times = R.op_times(trace, device())
    assert times.bound.iloc[0] == "compute"
    assert times.compute_s.iloc[0] == pytest.approx(2.0 * 4096**3 / TFLOP)
    # Residency left nothing to fetch: memory time drops to zero, bound stays compute.
    resident = R.op_times(trace, device(), dram_bytes=np.array([0.0]))
    assert resident.memory_s.iloc[0] == 0.0 and resident.memory_bytes.iloc[0] == 0.0


def test_dequant_work_from_bits_or_quant(device):
    hw = device()
    row = dict(name="q", m=1, n=4096, k=4096, weight_id="w", weight_bytes=4096 * 4096 * 4.125 / 8)
    packed = make_trace(op(weight_bits=4.125, **row))
    dequant_s = 2.0 * 4096 * 4096 / 1e11
    times = R.op_times(packed, hw)
    assert times.dequant_s.iloc[0] == pytest.approx(dequant_s)
    assert times.compute_s.iloc[0] == pytest.approx(max(dequant_s, 2.0 * 4096 * 4096 * 16 / TFLOP))
    assert R.op_times(make_trace(op(**row)), hw).dequant_s.iloc[0] == 0.0  # 16-bit weights: none
    # w8a8 keeps int8 weights in the matrix unit: no unpacking, and GEMMs run at the int8 rate.
    w8a8 = R.op_times(make_trace(op(weight_bits=8.0, act_bits=8.0, **row)), hw, quant=quant_preset("int8"))
    assert w8a8.dequant_s.iloc[0] == 0.0
    assert w8a8.compute_s.iloc[0] == pytest.approx(2.0 * 4096 * 4096 * 16 / (2 * TFLOP))


def test_per_format_dram_efficiency(device):
    hw = device(**{"dram_efficiency_by_format": {"q4_0": 0.5}})
    trace = make_trace(op(name="q", m=1, n=1024, k=1024, weight_id="w", weight_bytes=2.0**30, weight_bits=4.5))
    assert R.op_times(trace, hw, quant=quant_preset("q4_0")).memory_s.iloc[0] == pytest.approx(2.0)
    assert R.op_times(trace, hw, quant=quant_preset("q8_0")).memory_s.iloc[0] == pytest.approx(1.0)
