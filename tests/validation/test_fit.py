"""Calibration fitting pieces against hand-computed cases."""

import math
from types import SimpleNamespace

import pytest

from hwsim.calibration import DECODE_ROWS, PREFILL_ROWS, GroupModel, apply_calibration, group_figures
from hwsim.spec import loader
from hwsim.spec.runtime import Runtime
from hwsim.validation.fit import Implied, _additive_fit, _kernel_curve, _line, choose_launch, solve_efficiency


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


def test_line_keeps_only_a_falling_slope():
    # ln e rising by 0.2 per doubling of bandwidth: the mean of the three, no slope
    rising = [(0.0, -0.5), (1.0, -0.3), (2.0, -0.1)]
    assert _line(rising, allow_slope=True) == {"intercept": -0.3, "slope": 0.0}
    falling = [(x, -y - 0.6) for x, y in rising]
    assert _line(falling, allow_slope=True) == {"intercept": -0.1, "slope": -0.2}


def test_line_needs_three_devices_and_a_doubling_for_a_slope():
    points = [(0.0, -0.1), (1.0, -0.3), (2.0, -0.5)]
    assert _line(points, allow_slope=True) == {"intercept": -0.1, "slope": -0.2}
    assert _line(points[:2], allow_slope=True)["slope"] == 0.0
    assert _line([(0.0, 1.0), (0.5, 2.0), (0.2, 3.0)], allow_slope=True)["slope"] == 0.0


def test_class_model_at_a_bandwidth():
    # ln e = -0.2 - 0.1 * log2(400/100) = -0.4 ; q8_0 offset +0.1 -> -0.3
    model = GroupModel.model_validate({"dram": {"intercept": -0.2, "slope": -0.1},
                                      "matrix": {"intercept": math.log(0.6)}, "launch": {"op_launch_s": 2e-6}})
    figures = group_figures(model, {"q8_0": 0.1}, 400e9)
    assert figures["dram_efficiency"] == pytest.approx(math.exp(-0.4), abs=1e-4)
    assert figures["dram_efficiency_by_format"]["q8_0"] == pytest.approx(math.exp(-0.3), abs=1e-4)
    assert figures["prefill_efficiency"] == pytest.approx(0.6, abs=1e-4)
    assert figures["op_launch"] == 2e-6


def test_apply_calibration_own_fit_then_class_default():
    h100 = loader.load_hardware("h100-sxm", calibrated=False)
    own = {"presets": {"h100-sxm": {"class": "datacenter_gpu", "runtimes": {"llama.cpp": {
        "dram_efficiency": 0.5, "dram_efficiency_by_format": {"q4_0": 0.4}, "prefill_efficiency": 0.3,
        "provenance": "test fit"}}}}}
    fitted = apply_calibration(h100, own, runtime="llama.cpp")
    # The prefill fraction becomes a rows curve: the preset's scalar (1.0) for decode-sized GEMMs.
    curve = fitted.matrix.efficiency_curve["any"]
    assert curve.size == "rows" and curve.points == [(DECODE_ROWS, 1.0), (PREFILL_ROWS, 0.3)]
    assert fitted.dram.efficiency == 0.5 and fitted.matrix.efficiency == 1.0
    assert fitted.dram_efficiency_by_format == {"q4_0": 0.4} and fitted.calibration == "test fit (runtime llama.cpp)"
    assert h100.dram.efficiency == 1.0  # the preset itself is untouched
    # Another runtime does not get this runtime's fit (and there is nothing else to fall back to).
    assert apply_calibration(h100, own, runtime="tensorrt-llm") is h100
    by_class = apply_calibration(h100, {"classes": {"datacenter_gpu": {
        "dram": {"intercept": 0.0, "slope": -0.1}, "runtimes": {"tensorrt-llm": {}}}}})
    expected = math.exp(-0.1 * math.log2(3350e9 / 100e9))
    assert by_class.dram.efficiency == pytest.approx(expected, abs=1e-4)
    assert apply_calibration(h100, {}) is h100


def test_fallback_order_preset_runtime_then_class_runtime_then_class_then_pooled():
    h100 = loader.load_hardware("h100-sxm", calibrated=False)
    doc = {"pooled": {"dram": {"intercept": math.log(0.2)}, "matrix": {"intercept": math.log(0.1)}},
           "classes": {"datacenter_gpu": {"dram": {"intercept": math.log(0.3)}, "matrix": {"intercept": math.log(0.5)},
                                          "runtimes": {"tensorrt-llm": {"dram": {"intercept": math.log(0.9)}},
                                                       "llama.cpp": {"matrix": {"intercept": math.log(0.4)}}}},
                       "cpu": {"dram": {"intercept": math.log(0.4)}}},
           "presets": {"h100-sxm": {"class": "datacenter_gpu",
                                    "runtimes": {"mlc": {"dram_efficiency": 0.7, "provenance": "own"}}}}}
    def dram(runtime):
        return apply_calibration(h100, doc, runtime=runtime).dram.efficiency

    def prefill(runtime):
        return apply_calibration(h100, doc, runtime=runtime).matrix.efficiency_curve["any"].points[1][1]
    assert dram("mlc") == 0.7            # preset x runtime
    assert dram("tensorrt-llm") == 0.9   # class x runtime
    assert dram("llama.cpp") == 0.3      # class, which has a model under llama.cpp
    assert prefill("tensorrt-llm") == 0.5   # the class fills what its runtime's model lacks
    # A runtime the class was never fitted under takes the pooled model, not the class's
    # figures from other stacks.
    assert dram("vllm") == 0.2 and prefill("vllm") == 0.1
    # The prefill fraction only the pooled model has comes through at every level.
    assert apply_calibration(h100, doc, runtime="mlc").matrix.efficiency_curve["any"].points[1][1] == 0.1
    l4 = loader.load_hardware("l4", calibrated=False).model_copy(update={"device_class": "edge_gpu"})
    assert apply_calibration(l4, doc, runtime="mlc").dram.efficiency == 0.2   # pooled


def test_default_runtime_is_the_class_runtime():
    h100 = loader.load_hardware("h100-sxm", calibrated=False)
    doc = {"classes": {"datacenter_gpu": {"runtimes": {"tensorrt-llm": {"dram": {"intercept": math.log(0.9)}},
                                                       "llama.cpp": {"dram": {"intercept": math.log(0.5)}}}}}}
    assert apply_calibration(h100, doc).dram.efficiency == 0.9
    assert apply_calibration(h100, doc, runtime="ollama").dram.efficiency == 0.5


def test_calibration_schema_names_file_and_field(tmp_path):
    from hwsim.calibration import load_calibration
    from hwsim.errors import ConfigError

    path = tmp_path / "cal.yaml"
    path.write_text("classes:\n  datacenter_gpu:\n    dram: {intercept: -0.1, slop: 0.2}\n")
    with pytest.raises(ConfigError, match=r"cal.yaml: classes.datacenter_gpu.dram.slop: unknown field"):
        load_calibration(path)
    path.write_text("presets:\n  h100-sxm: {class: datacenter_gpu, runtimes: {cuda: {}}}\n")
    with pytest.raises(ConfigError, match=r"cal.yaml: presets.h100-sxm.runtimes.cuda"):
        load_calibration(path)


def test_apply_calibration_sets_launch_unless_the_preset_states_it():
    h100 = loader.load_hardware("h100-sxm", calibrated=False)
    doc = {"classes": {"datacenter_gpu": {"runtimes": {"tensorrt-llm": {"launch": {"op_launch_s": 1.5e-6}}}}}}
    assert apply_calibration(h100, doc).overhead.op_launch_s == 1.5e-6
    assert apply_calibration(h100, doc, written={"op_launch"}) is h100


def test_loader_treats_estimated_launch_as_open_and_stated_figures_as_written():
    h100 = loader.load_hardware("h100-sxm", calibrated=False)
    data = {"overhead": {"op_launch": "4 us", "source": "estimate: CUDA launch"},
            "compute": {"matrix": {"efficiency_curve": {}}}}
    assert loader._written_efficiencies(data, h100) == {"matrix_efficiency"}
    data["overhead"]["source"] = "measured with nsys"
    assert "op_launch" in loader._written_efficiencies(data, h100)


def _decode(device, cls, launch_s, efficiency, excess=0.0, preset=False):
    case = SimpleNamespace(runtime=Runtime.LLAMA_CPP)
    return Implied(case, device, cls, "q4_0", "decode", efficiency, excess > 0, launch_s=launch_s,
                   preset_launch=preset, excess=excess)


def test_choose_launch_picks_the_value_that_makes_devices_agree():
    hardware = {d: loader.load_hardware("rtx-3090", calibrated=False) for d in ("a", "b")}
    # At 1 us both devices imply ln e = -0.1; at 5 us (the presets' value) one needs more than
    # full bandwidth (excess 0.2) and the other 0.5: the spread picks 1 us.
    rows = [_decode("a", "consumer_gpu", 1e-6, math.exp(-0.1)), _decode("b", "consumer_gpu", 1e-6, math.exp(-0.1)),
            _decode("a", "consumer_gpu", 5e-6, 1.0, excess=0.2, preset=True),
            _decode("b", "consumer_gpu", 5e-6, 0.5, preset=True)]
    assert choose_launch(rows, hardware) == {("consumer_gpu", Runtime.LLAMA_CPP): 1e-6}
    # When the presets' launch already fits as well, nothing is fitted.
    flat = [_decode(d, "consumer_gpu", s, 0.8, preset=s == 5e-6) for d in ("a", "b") for s in (1e-6, 5e-6)]
    assert choose_launch(flat, hardware) == {}


def test_kernel_curve_bins_points_and_drops_memory_bound_rows():
    def point(size, e, saturated=False):
        case = SimpleNamespace(row=SimpleNamespace(id=f"gemm-{size:.0f}"))
        return Implied(case, "x", "datacenter_gpu", "fp16", "kernel", e, saturated, launch_s=2.5e-5,
                       preset_launch=False, size=size)
    rows = [point(2**20, 0.2), point(2**20.5, 0.8), point(2**30, 0.9), point(2**31, 1.0, saturated=True)]
    fitted = _kernel_curve(rows)
    curve = fitted["efficiency_curve"]["fp16"]
    # 2^20 and 2^20.5 are within an octave: geometric means 2^20.25 and sqrt(0.2 * 0.8) = 0.4.
    assert curve["size"] == "macs" and len(curve["points"]) == 2
    assert curve["points"][0] == [pytest.approx(2**20.25, rel=1e-3), pytest.approx(0.4, abs=1e-4)]
    assert curve["points"][1] == [pytest.approx(2**30, rel=1e-3), 0.9]
    assert fitted["kernel_overhead_s"] == 2.5e-5
