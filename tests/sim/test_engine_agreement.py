"""The event simulator reproduces the closed-form engine on every mapped measured row.

The calibration (configs/calibration.yaml) was fitted with the closed-form engine, so its
efficiencies and launch times mean what that engine assumes: each op costs launch + max(compute,
memory), every op's operands streamed from main memory. Every measured row ran on a runtime that
launches kernels one after another (op_cost.PREFETCH_BY_CLASS: `within_op`), where the DES models
exactly that, so the two engines must agree on the rows the calibration came from: decode within
3%, prefill within 5%, and capacity totals (footprint, fits, shortfall) identical.
"""

import pytest

from hwsim.calibration import CALIBRATION_PATH, load_calibration
from hwsim.spec.loader import REPO_ROOT
from hwsim.validation.mapping import load_mapping, map_rows
from hwsim.validation.measured import load_measured
from hwsim.validation.predict import model_for, simulated_totals
from hwsim.validation.run import calibrated_hardware

TOLERANCE = {"decode": 0.03, "e2e": 0.03, "prefill": 0.05}
TIME_KEY = {"decode": "tpot_s", "e2e": "latency_s", "prefill": "ttft_s"}
CAPACITY = ("memory_footprint_bytes", "memory_capacity_bytes", "fits", "shortfall_bytes")


def _model_cases():
    cases, _ = map_rows(load_measured(REPO_ROOT / "validation" / "measured.csv"), load_mapping())
    return [c for c in cases if c.row.spec.group != "kernel"]   # a kernel row is one GEMM, not a run


CASES = _model_cases()


@pytest.fixture(scope="module")
def hardware_for():
    return calibrated_hardware(load_calibration(CALIBRATION_PATH))


def test_every_mapped_row_is_checked():
    groups = {c.row.spec.group for c in CASES}
    assert len(CASES) >= 100 and groups == {"decode", "prefill", "e2e"}


@pytest.mark.parametrize("case", CASES, ids=[c.row.id for c in CASES])
def test_des_reproduces_the_closed_form_engine(case, hardware_for):
    row, hardware = case.row, hardware_for(case)
    run = dict(phase=row.spec.phase, prompt_len=row.prompt_tokens,
               gen_len=row.gen_tokens if row.spec.phase != "prefill" else 0, batch=row.batch)
    model = model_for(case)
    closed = simulated_totals(model, hardware, "roofline", **run)
    des = simulated_totals(model, hardware, "des", **run)
    key = TIME_KEY[row.spec.group]
    assert des[key] == pytest.approx(closed[key], rel=TOLERANCE[row.spec.group]), (key, des[key], closed[key])
    assert {k: des[k] for k in CAPACITY} == {k: closed[k] for k in CAPACITY}
