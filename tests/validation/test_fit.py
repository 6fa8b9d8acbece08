"""Calibration fitting pieces against hand-computed cases."""

import math

import pytest

from hwsim.calibration import apply_calibration, class_efficiencies
from hwsim.spec import loader
from hwsim.validation.fit import _additive_fit, _line, solve_efficiency


def test_solve_efficiency_inverts_an_affine_time():
    # t(e) = 2 ms / e + 1 ms: a measured 5 ms implies e = 2 / (5 - 1) = 0.5.
    e, saturated = solve_efficiency(lambda eff: 2e-3 / eff + 1e-3, 5e-3)
    assert not saturated and e == pytest.approx(0.5, rel=1e-3)


def test_solve_efficiency_piecewise_time():
    # Compute-bound floor of 4 ms until memory (3 ms / e) dominates: 9 ms implies e = 1/3.
    e, _ = solve_efficiency(lambda eff: max(4e-3, 3e-3 / eff), 9e-3)
    assert e == pytest.approx(1 / 3, rel=1e-2)


def test_solve_efficiency_saturates_when_measurement_beats_peak():
    e, saturated = solve_efficiency(lambda eff: 2e-3 / eff, 1e-3)
    assert saturated and e == 1.0


def test_additive_fit_recovers_device_and_format_effects():
    u = {"a": math.log(0.8), "b": math.log(0.5)}
    g = {"q4_0": 0.0, "fp16": 0.2}
    cell = {(d, f): u[d] + g[f] for d in u for f in g}
    effect, offset = _additive_fit(cell)
    assert offset["fp16"] == pytest.approx(0.2, abs=1e-6)
    assert effect["b"] == pytest.approx(math.log(0.5), abs=1e-6)


def test_line_needs_three_devices_and_a_doubling_for_a_slope():
    points = [(0.0, -0.1), (1.0, -0.3), (2.0, -0.5)]
    assert _line(points, allow_slope=True) == {"intercept": -0.1, "slope": -0.2}
    assert _line(points[:2], allow_slope=True)["slope"] == 0.0
    assert _line([(0.0, 1.0), (0.5, 2.0), (0.2, 3.0)], allow_slope=True)["slope"] == 0.0


def test_class_model_at_a_bandwidth():
    # ln e = -0.2 - 0.1 * log2(400/100) = -0.4 ; q8_0 offset +0.1 -> -0.3
    cls = {"dram": {"intercept": -0.2, "slope": -0.1}, "matrix": {"intercept": math.log(0.6)}}
    figures = class_efficiencies(cls, {"q8_0": 0.1}, 400e9, "test")
    assert figures["dram_efficiency"] == pytest.approx(math.exp(-0.4), abs=1e-4)
    assert figures["dram_efficiency_by_format"]["q8_0"] == pytest.approx(math.exp(-0.3), abs=1e-4)
    assert figures["matrix_efficiency"] == pytest.approx(0.6, abs=1e-4)


def test_apply_calibration_own_fit_then_class_default():
    h100 = loader.load_hardware("h100-sxm", calibrated=False)
    own = {"presets": {"h100-sxm": {"dram_efficiency": 0.5, "dram_efficiency_by_format": {"q4_0": 0.4},
                                    "matrix_efficiency": 0.3, "provenance": "test fit"}}}
    fitted = apply_calibration(h100, own)
    assert fitted.dram.efficiency == 0.5 and fitted.matrix.efficiency == 0.3
    assert fitted.dram_efficiency_by_format == {"q4_0": 0.4} and fitted.calibration == "test fit"
    assert h100.dram.efficiency == 1.0  # the preset itself is untouched
    by_class = apply_calibration(h100, {"classes": {"datacenter_gpu": {"dram": {"intercept": 0.0, "slope": -0.1}}}})
    expected = math.exp(-0.1 * math.log2(3350e9 / 100e9))
    assert by_class.dram.efficiency == pytest.approx(expected, abs=1e-4)
    assert apply_calibration(h100, {}) is h100
