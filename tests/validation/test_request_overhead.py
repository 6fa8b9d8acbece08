"""A runtime's fixed time per request: added once to the time to first token, carried by the
calibration per class x runtime, and fitted only where TTFT rows pin it down."""

import math
from types import SimpleNamespace

import pytest

from hwsim.calibration import apply_calibration
from hwsim.sim import roofline_totals, simulate
from hwsim.spec import loader
from hwsim.spec.runtime import Runtime
from hwsim.validation.fit import REQUEST_MIN_GAIN, Fitter, Implied


@pytest.mark.parametrize("engine", ["roofline", "des"])
def test_request_time_is_added_once_to_ttft_and_latency(engine):
    model = loader.load_model("qwen2-0.5b")
    plain = loader.load_hardware("rk3588", calibrated=False)
    slow = loader.load_hardware("rk3588", {"overhead.request": "50 ms"}, calibrated=False)

    def totals(hardware, **run):
        if engine == "roofline":
            return roofline_totals(model, hardware, **run)
        return simulate(model, hardware, engine="des", **run).totals

    run = dict(phase="e2e", prompt_len=16, gen_len=4, batch=1)
    base, with_request = totals(plain, **run), totals(slow, **run)
    assert with_request["ttft_s"] - base["ttft_s"] == pytest.approx(0.05, abs=1e-9)
    assert with_request["latency_s"] - base["latency_s"] == pytest.approx(0.05, abs=1e-9)
    assert with_request["tpot_s"] == pytest.approx(base["tpot_s"], rel=1e-12)
    # A decode-only run processes no prompt: no request time.
    decode = dict(phase="decode", prompt_len=16, gen_len=4, batch=1)
    assert totals(slow, **decode)["latency_s"] == pytest.approx(totals(plain, **decode)["latency_s"], rel=1e-12)


def test_calibration_request_applies_per_class_x_runtime_unless_the_preset_states_it():
    rk3588 = loader.load_hardware("rk3588", calibrated=False)
    doc = {"classes": {"edge_npu": {"runtimes": {"rkllm": {"request": {"request_s": 0.1}}}}}}
    assert apply_calibration(rk3588, doc, runtime="rkllm").overhead.request_s == 0.1
    assert apply_calibration(rk3588, doc, runtime="llama.cpp").overhead.request_s == 0.0
    assert apply_calibration(rk3588, doc, runtime="rkllm", written={"request"}) is rk3588
    assert loader._written_efficiencies({"overhead": {"request": "20 ms"}}, rk3588) == {"request"}


def _prefill_stub(slopes: dict[str, float], true_request_s: float):
    """_prefill for two rows of one unit: ln e = -0.5 - slope * (true - r), so the rows agree
    only at r = true_request_s (the smaller model, with the larger slope, feels it more)."""
    def prefill(case, _fit, request_s=0.0):
        needed = -0.5 - slopes[case.row.id] * (true_request_s - request_s)
        return Implied(case, "rk3588", "edge_npu", "int8", "prefill", math.exp(needed), False, request_s=request_s)
    return prefill


def _fitter(prefill) -> Fitter:
    fitter = Fitter.__new__(Fitter)
    fitter.hardware = {"rk3588": loader.load_hardware("rk3588", calibrated=False)}
    fitter._prefill = prefill
    return fitter


def _case(row_id: str, metric: str, seconds: float = 0.2):
    return SimpleNamespace(hardware="rk3588", runtime=Runtime.RKLLM,
                           row=SimpleNamespace(id=row_id, metric=metric, seconds=seconds))


def test_choose_request_picks_the_time_that_makes_model_sizes_agree():
    cases = [_case("small", "ttft_ms"), _case("large", "ttft_ms")]
    # At r = 0 the rows differ by (10 - 2) * 0.05 = 0.4 in ln e: sum of squares 2 * 0.2^2 = 0.08.
    assert 0.08 > REQUEST_MIN_GAIN
    fitter = _fitter(_prefill_stub({"small": 10.0, "large": 2.0}, 0.05))
    assert fitter.choose_request(cases, None) == {("edge_npu", Runtime.RKLLM): 0.05}
    # Rows that already agree without one get none; llama-bench pp rows never get one.
    assert _fitter(_prefill_stub({"small": 1.0, "large": 1.0}, 0.05)).choose_request(cases, None) == {}
    pp = [_case("small", "pp_tokens_per_s"), _case("large", "pp_tokens_per_s")]
    assert fitter.choose_request(pp, None) == {}


def test_choose_request_stays_below_half_the_shortest_ttft():
    # The rows would agree at 50 ms, but the shortest TTFT is 60 ms: candidates stop at 30 ms.
    cases = [_case("small", "ttft_ms", seconds=0.06), _case("large", "ttft_ms")]
    fitter = _fitter(_prefill_stub({"small": 10.0, "large": 2.0}, 0.05))
    assert fitter.choose_request(cases, None) == {("edge_npu", Runtime.RKLLM): 0.03}


def test_fit_calibration_keeps_the_request_time_of_a_cohort_whose_rows_sit_at_a_bound():
    from hwsim.validation.fit import fit_calibration

    case = SimpleNamespace(runtime=Runtime.TENSORRT_LLM, row=SimpleNamespace(id="ttft-isl2048"))
    saturated = Implied(case, "l40s", "datacenter_gpu", "fp16", "prefill", 1.0, True, excess=0.3, request_s=0.005)
    hardware = {"l40s": loader.load_hardware("l40s", calibrated=False)}
    fitted = fit_calibration([saturated], hardware, request={("datacenter_gpu", Runtime.TENSORRT_LLM): 0.005})
    group = fitted.classes["datacenter_gpu"].runtimes[Runtime.TENSORRT_LLM]
    assert group.request.request_s == 0.005 and group.request.devices == ["l40s"] and group.matrix is None
    assert fitted.preset_fit("l40s", Runtime.TENSORRT_LLM).request_s == 0.005
    assert apply_calibration(hardware["l40s"], fitted, runtime="tensorrt-llm").overhead.request_s == 0.005
