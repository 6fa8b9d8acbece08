"""Size-dependent matrix efficiency against hand-computed cases."""

import pytest
from pydantic import ValidationError

from hwsim.cost.datapath import matrix_efficiency
from hwsim.cost.efficiency import curve_fraction
from hwsim.cost.op_cost import compute_seconds
from hwsim.spec import loader
from hwsim.spec.hardware import EfficiencyCurve


def _with_curves(curves, efficiency=1.0):
    """H100 with the given matrix curves, GEMMs on the matrix engine only (no GEMV path)."""
    hardware = loader.load_hardware("h100-sxm", {"datapath.gemv_on_vector": False}, calibrated=False)
    matrix = hardware.matrix.model_copy(update={"efficiency": efficiency, "efficiency_curve": curves})
    return hardware.model_copy(update={"compute": {**hardware.compute, "matrix": matrix}})


def test_curve_is_linear_in_log2_size_and_flat_beyond():
    curve = EfficiencyCurve(points=[(2**20, 0.2), (2**30, 0.8)])
    # Half way in log2 (2^25) is half way in fraction; outside the points the end values hold.
    assert curve_fraction(curve, [2**25, 2**10, 2**40]) == pytest.approx([0.5, 0.2, 0.8])


def test_macs_curve_sets_gemm_time_on_top_of_tile_padding():
    hardware = _with_curves({"any": EfficiencyCurve(size="macs", points=[(2**20, 0.2), (2**30, 0.8)])})
    peak = hardware.matrix.peak["bf16"]
    tile = hardware.matrix.tile_m
    # m=1024 rows (whole tiles), n*k = 2^15: 2^25 MACs -> fraction 0.5.
    flops = 2.0 * 2**25
    assert compute_seconds(flops, 1024, "matmul", "bf16", hardware) == pytest.approx(flops / (peak * 0.5))
    # m=1, n*k=2^24: 2^24 MACs -> 0.2 + 0.6 * 4/10 = 0.44, and the row pads to a whole tile.
    flops = 2.0 * 2**24
    assert compute_seconds(flops, 1, "matmul", "bf16", hardware) == pytest.approx(flops * tile / (peak * 0.44))
    # Vector ops ignore the matrix curve.
    vector = hardware.vector
    assert compute_seconds(1e9, 1, "softmax", "bf16", hardware) == pytest.approx(
        1e9 / (vector.rate_for("bf16")[1] * vector.efficiency))


def test_rows_curve_separates_decode_from_prefill():
    hardware = _with_curves({"any": EfficiencyCurve(size="rows", points=[(16, 1.0), (256, 0.25)])})
    engine = hardware.matrix
    # M=1 -> 1.0, M=64 (two octaves of four past 16) -> 1 - 0.75/2, M=512 -> 0.25.
    assert matrix_efficiency(engine, "bf16", [2e9, 2e9, 2e9], [1, 64, 512]) == pytest.approx([1.0, 0.625, 0.25])


def test_curve_chosen_by_dtype_then_any_then_scalar():
    curves = {"fp8": EfficiencyCurve(points=[(1, 0.3)]), "any": EfficiencyCurve(points=[(1, 0.6)])}
    engine = _with_curves(curves, efficiency=0.9).matrix
    assert matrix_efficiency(engine, "fp8", 1e9, 64) == pytest.approx(0.3)
    assert matrix_efficiency(engine, "bf16", 1e9, 64) == pytest.approx(0.6)
    assert matrix_efficiency(_with_curves({}, efficiency=0.9).matrix, "fp8", [1e9, 1e3], 64) == pytest.approx([0.9, 0.9])


@pytest.mark.parametrize("points", [[(4, 0.5), (2, 0.6)], [(0, 0.5)], [(1, 1.5)]])
def test_bad_curves_are_rejected(points):
    with pytest.raises(ValidationError):
        EfficiencyCurve(points=points)


def test_curve_is_yaml_settable_and_wins_over_calibration():
    curve = {"size": "macs", "points": [[1e6, 0.1], [1e9, 0.7]], "source": "test"}
    hardware = loader.load_hardware("h100-sxm", overrides={"compute.matrix.efficiency_curve": {"bf16": curve}})
    assert hardware.matrix.efficiency_curve["bf16"].points == [(1e6, 0.1), (1e9, 0.7)]
    assert "any" not in hardware.matrix.efficiency_curve  # the calibration's prefill curve stays out
    with pytest.raises(Exception, match="efficiency_curve"):
        loader.load_hardware("h100-sxm", overrides={"compute.matrix.efficiency_curve": {"bf16": {"points": [[2, 2.0]]}}})
