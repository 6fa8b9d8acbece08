"""`hwsim validate measured` end to end on the fast subset, and hand-checked predictions."""

import pytest
from click.testing import CliRunner

from hwsim.calibration import with_efficiencies
from hwsim.cli import main
from hwsim.spec.loader import REPO_ROOT
from hwsim.validation.mapping import load_mapping, map_rows
from hwsim.validation.measured import load_measured
from hwsim.validation.predict import case_hardware, model_for, predict_seconds
from hwsim.validation.run import fast_subset
from hwsim.workload.weights import unique_weight_bytes


@pytest.fixture(scope="module")
def cases():
    found, _ = map_rows(load_measured(REPO_ROOT / "validation" / "measured.csv"), load_mapping())
    return found


def _case(cases, row_id):
    return next(c for c in cases if c.row.id == row_id)


def test_decode_prediction_is_weight_bytes_over_bandwidth(cases):
    # Batch-1 decode of a 7B model is memory-bound: each token reads every weight once, so the
    # time per token is close to weight bytes / (bandwidth x efficiency) (KV and launches add a
    # little). Hand check with the efficiency set to 0.5.
    case = _case(cases, "lcpp4167-m1pro-14c-q4_0-tg128")
    hardware = with_efficiencies(case_hardware(case.hardware), {"dram_efficiency": 0.5,
                                                                  "dram_efficiency_by_format": {}})
    weights = unique_weight_bytes(model_for(case))
    expected = weights / (hardware.main_memory.bandwidth_bytes_per_s * 0.5)
    predicted = predict_seconds(case, hardware, "roofline")
    assert expected <= predicted <= expected * 1.15


def test_prefill_prediction_is_flops_over_matrix_rate(cases):
    # pp512 is compute-bound on an Apple GPU: seconds per token ~ 2 x params FLOPs / rate.
    case = _case(cases, "lcpp4167-m2ultra-76c-f16-pp512")
    hardware = case_hardware(case.hardware)  # the preset as written (uncalibrated)
    model = model_for(case)
    _, peak = hardware.matrix.rate_for(model.quant.compute_dtype)
    flops_per_token = 2 * 6.74e9
    seconds = predict_seconds(case, hardware, "roofline")
    assert flops_per_token / peak <= seconds <= 1.3 * flops_per_token / peak


def test_fast_subset_cli_prints_mape_tables_and_plot(tmp_path):
    path = tmp_path / "pvm.png"
    result = CliRunner().invoke(main, ["validate", "measured", "--subset", "fast", "--plot", str(path)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "MAPE per metric" in out and "MAPE per hardware class" in out
    assert "tg_tokens_per_s" in out and "pp_tokens_per_s" in out
    assert "held_out" in out and "unmapped (listed with the reason)" in out
    assert "90% interval of the overall figures over devices" in out
    assert path.stat().st_size > 10_000 and path.read_bytes()[:4] == b"\x89PNG"


def test_fast_subset_has_both_phases_and_classes(cases):
    subset = fast_subset(cases)
    assert {c.row.spec.group for c in subset} == {"decode", "prefill"}
    assert len({c.hardware for c in subset}) >= 5


@pytest.mark.slow
def test_full_calibration_held_out_error(tmp_path):
    """The whole CSV: in-sample error below the uncalibrated presets, held-out reported."""
    out = tmp_path / "calibration.yaml"
    result = CliRunner().invoke(main, ["calibrate", "measured", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists() and "presets:" in out.read_text()
    tg = next(line for line in result.output.splitlines() if line.strip().startswith("tg_tokens_per_s"))
    calibrated, held_out, preset = (float(v) for v in tg.split()[1:4])
    assert calibrated < preset and held_out < preset


@pytest.mark.slow
def test_held_out_prefill_meets_its_target_with_the_event_simulator():
    """Issue acceptance, the part met today: held-out (leave-one-device-out) prefill tokens/s MAPE
    of the DES over every mapped row is at most 20% (decode, 17% today, misses its 10%; see
    docs/validation.md)."""
    result = CliRunner().invoke(main, ["validate", "measured", "--engine", "des"])
    assert result.exit_code == 0, result.output
    line = next(row for row in result.output.splitlines() if row.split()[:2] == ["all", "all"])
    decode, prefill = float(line.split()[2]), float(line.split()[5])
    assert prefill <= 20.0
    assert 0 < decode < 100
