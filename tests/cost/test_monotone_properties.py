"""Monotonicity over random models x hardware x formats: more bandwidth, more compute, fewer
weight bits never make a point slower; H100 is never slower than A100 on a preset model."""

import pytest
from hypothesis import given, settings, strategies as st

from hwsim.sim import roofline_totals
from hwsim.sim import simulate
from hwsim.spec import loader
from hwsim.spec.loader import load_hardware, load_model
from hwsim.spec.variants import configure_model
from tests.sim.test_floor import tiny_model

HARDWARE = ["edge-npu", "jetson-orin-nano", "h100-sxm", "a100-sxm-80gb", "raspberry-pi-5", "snapdragon-8-gen3-npu"]
FORMATS = ["bf16", "int8", "int4-g128", "q4_0", "w4a8", "fp8"]
REL = 1e-9
POINT = dict(base=st.sampled_from(["looped", "decoder"]), loops=st.integers(1, 4), quant=st.sampled_from(FORMATS),
             hardware=st.sampled_from(HARDWARE), phase=st.sampled_from(["prefill", "decode", "e2e"]),
             batch=st.integers(1, 8), engine=st.sampled_from(["roofline", "roofline", "des"]))


def _latency(model, hw, phase, batch, engine) -> float:
    return simulate(model, hw, phase=phase, prompt_len=24, gen_len=4, batch=batch, engine=engine).totals["latency_s"]


def _scaled(name: str, factor: float, what: str):
    """`name` with its DRAM bandwidth, or every compute peak, times `factor`."""
    hw = load_hardware(name)
    if what == "bandwidth":
        key = hw.main_memory_name
        return load_hardware(name, {f"memory.{key}.bandwidth": f"{hw.main_memory.bandwidth_bytes_per_s * factor} B/s"})
    sets = {f"compute.{engine}.peak.{dtype}": f"{rate * factor} FLOP/s"
            for engine, spec in hw.compute.items() for dtype, rate in spec.peak.items()}
    return load_hardware(name, sets)


@settings(max_examples=12, deadline=None)
@given(**POINT, what=st.sampled_from(["bandwidth", "compute"]), factor=st.sampled_from([1.5, 2.0, 10.0]))
def test_more_bandwidth_or_compute_never_slower(base, loops, quant, hardware, phase, batch, engine, what, factor):
    model = tiny_model(base, loops, quant)
    slow = _latency(model, load_hardware(hardware), phase, batch, engine)
    fast = _latency(model, _scaled(hardware, factor, what), phase, batch, engine)
    assert fast <= slow * (1 + REL)


@settings(max_examples=10, deadline=None)
@given(base=st.sampled_from(["looped", "decoder"]), loops=st.integers(1, 4), hardware=st.sampled_from(HARDWARE),
       batch=st.integers(1, 4), engine=st.sampled_from(["roofline", "des"]))
def test_fewer_weight_bits_never_slower_in_decode(base, loops, hardware, batch, engine):
    """Weight-only formats of one compute type (bf16): fewer bytes to stream, the same math."""
    model = tiny_model(base, loops, "bf16")
    hw = load_hardware(hardware, {"memory.sram.capacity": "0 B"} if load_hardware(hardware).dram else None)
    times = [simulate(configure_model(model, quant=q), hw, phase="decode", prompt_len=24, gen_len=4, batch=batch,
                      engine=engine, policy="stream").totals["tpot_s"]
             for q in ("bf16", "int8-w8a16", "int4-g128")]
    assert times[1] <= times[0] * (1 + REL) and times[2] <= times[1] * (1 + REL)


@pytest.mark.parametrize("calibrated, runtime", [(False, None), (True, None), (True, "llama.cpp")])
def test_h100_never_slower_than_a100_on_a_preset_model(calibrated, runtime):
    """Both phases, calibrated too: each chip's figures come from the same runtime's rows (the
    H100's llama.cpp Q4_0 fit was once set against the A100's cuBLAS GEMM curve)."""
    phases = ("prefill", "decode")
    h100 = loader.load_hardware("h100-sxm", calibrated=calibrated, runtime=runtime)
    a100 = loader.load_hardware("a100-sxm-80gb", calibrated=calibrated, runtime=runtime)
    for path in loader.list_presets(loader.MODELS_DIR):
        model = load_model(path.stem)
        for phase in phases:
            if phase == "decode" and not model.has_decode:
                continue
            run = dict(phase=phase, prompt_len=128, gen_len=2)
            h, a = (roofline_totals(model, hw, **run)["latency_s"] for hw in (h100, a100))
            assert h <= a * (1 + REL), (path.stem, phase, h, a)
