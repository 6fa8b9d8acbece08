"""llama.cpp-eager: a llama.cpp build that launches every kernel from the host (before CUDA graphs),
checked against the holohub #170 rows it was introduced for and by hand."""

import pytest

from hwsim.calibration import apply_calibration
from hwsim.spec import loader
from hwsim.spec.runtime import Runtime, parse_runtime
from hwsim.validation.mapping import load_mapping, map_rows
from hwsim.validation.measured import load_measured
from hwsim.validation.predict import case_hardware, case_model
from hwsim.sim import roofline_totals
from hwsim.workload.trace_cache import cached_trace

# holohub #170 (2024-01-23), llama.cpp CUDA on the RTX 6000 Ada, Llama-2 4-bit, decode tokens/s.
HOLOHUB_RTX6000ADA = {"llama-2-7b": 114.1, "llama-2-70b": 16.73}


@pytest.fixture(scope="module")
def holohub_cases():
    found, _ = map_rows(load_measured(loader.REPO_ROOT / "validation" / "measured.csv"), load_mapping())
    return [c for c in found if c.row.id.startswith("holohub170-")]


def test_holohub_llama_cpp_rows_run_eager_in_q4_0(holohub_cases):
    llama = [c for c in holohub_cases if "-lcpp-" in c.row.id]
    assert len(llama) == 6
    assert {c.runtime for c in llama} == {Runtime.LLAMA_CPP_EAGER} and {c.quant for c in llama} == {"q4_0"}
    assert {c.runtime for c in holohub_cases if "-trtllm-" in c.row.id} == {Runtime.TENSORRT_LLM}


def test_fixed_time_per_token_is_the_host_launches():
    """Outside reference: a line time = fixed + bytes / bandwidth through the RTX 6000 Ada's 7B
    and 70B rows leaves a fixed time per token (3.3 ms) that the trace's op count times the
    preset's estimated host launch (5 us) matches within 35%; the line's bandwidth is a plausible
    fraction of the card's 960 GB/s."""
    hardware = case_hardware("rtx-6000-ada")
    seconds = {m: 1.0 / tps for m, tps in HOLOHUB_RTX6000ADA.items()}
    step_bytes = {m: roofline_totals(case_model(m, "q4_0"), hardware, phase="decode", prompt_len=8,
                                     gen_len=1)["dram_bytes_per_token"] for m in HOLOHUB_RTX6000ADA}
    per_byte = (seconds["llama-2-70b"] - seconds["llama-2-7b"]) / (step_bytes["llama-2-70b"] - step_bytes["llama-2-7b"])
    fixed_s = seconds["llama-2-7b"] - per_byte * step_bytes["llama-2-7b"]
    ops = len(cached_trace(case_model("llama-2-7b", "q4_0"), "decode", context_len=8))
    launches_s = ops * hardware.overhead.op_launch_s
    assert fixed_s == pytest.approx(launches_s, rel=0.35)
    assert 0.5 < 1.0 / per_byte / hardware.main_memory.bandwidth_bytes_per_s < 0.9


def test_eager_run_keeps_the_host_launch_a_graph_fit_does_not_give_it():
    """By hand: a class fitted under llama.cpp (graph-replayed, 1 us) lends that launch to a
    llama.cpp run only; an eager run with no fit of its own keeps the preset's 5 us."""
    preset = loader.load_hardware("rtx-4090", calibrated=False)
    doc = {"classes": {"consumer_gpu": {"runtimes": {"llama.cpp": {"launch": {"op_launch_s": 1e-6}}}}}}
    assert apply_calibration(preset, doc, runtime="llama.cpp").overhead.op_launch_s == 1e-6
    eager = apply_calibration(preset, doc, runtime=parse_runtime("llama.cpp-eager"))
    assert eager.overhead.op_launch_s == preset.overhead.op_launch_s == pytest.approx(5e-6)
