"""Leave-one-device-out without leakage, runtimes on runs, and where `calibrate measured` writes."""

import dataclasses
import json

import pytest
from click.testing import CliRunner

from hwsim.cli import main
from hwsim.errors import ConfigError
from hwsim.spec import loader
from hwsim.spec.runtime import DEFAULT_RUNTIME, Runtime, parse_runtime
from hwsim.validation.fit import Fitter
from hwsim.validation.mapping import load_mapping, map_rows
from hwsim.validation.measured import load_measured
from hwsim.validation.run import calibrated_hardware
from hwsim.validation.predict import predict_seconds

# Four Apple chips on one model: decode and prefill rows, enough for a class slope.
DEVICES = ("apple-m1-pro-14c", "apple-m2-ultra-76c", "apple-m4-pro-16c", "apple-m4-max-40c")
HELD_OUT = "apple-m4-max-40c"


@pytest.fixture(scope="module")
def cases():
    found, _ = map_rows(load_measured(loader.REPO_ROOT / "validation" / "measured.csv"), load_mapping())
    return [c for c in found if c.hardware in DEVICES and c.model == "llama-2-7b"]


def _scaled(case, factor):
    return dataclasses.replace(case, row=dataclasses.replace(case.row, value=case.row.value * factor))


def _predictions(cases, calibration):
    hardware_for = calibrated_hardware(calibration)
    return {c.row.id: predict_seconds(c, hardware_for(c)) for c in cases if c.hardware == HELD_OUT}


def _perturb(case):
    """Slow every row of the held-out device, its non-q4_0 decode rows most: that moves the format
    offsets, which reach the neighbours' prefill solves (the leak a fit made once would have)."""
    if case.hardware != HELD_OUT:
        return case
    uneven = case.row.spec.group == "decode" and case.quant != "q4_0"
    return _scaled(case, 0.5 if uneven else 0.8)


def test_held_out_device_does_not_influence_its_own_prediction(cases):
    """The held-out device's measured figures perturbed: its held-out predictions (from a fit
    without it) stay exactly the same, while the in-sample fit moves (so the test can fail)."""
    own = [c for c in cases if c.hardware == HELD_OUT]
    assert {c.row.spec.group for c in own} == {"decode", "prefill"}
    perturbed = [_perturb(c) for c in cases]
    base, moved = Fitter(cases), Fitter(perturbed)
    assert _predictions(cases, base.fit(exclude=(HELD_OUT,))) == _predictions(perturbed, moved.fit(exclude=(HELD_OUT,)))
    in_sample = _predictions(cases, base.fit()), _predictions(perturbed, moved.fit())
    assert all(abs(in_sample[1][k] / in_sample[0][k] - 1) > 0.1 for k in in_sample[0])


def test_a_fit_made_once_on_all_rows_would_leak(cases):
    """Why every fold re-solves prefill: a neighbour's prefill fraction solved under the
    all-device decode fit moves when only the held-out device's rows change."""
    neighbour = next(c for c in cases if c.hardware != HELD_OUT and c.row.spec.group == "prefill"
                     and c.quant != "q4_0")
    solved = []
    for rows in (cases, [_perturb(c) for c in cases]):
        fitter = Fitter(rows)
        solved.append(fitter._prefill(neighbour, fitter.fit()).efficiency)
    assert abs(solved[1] / solved[0] - 1) > 1e-3


def test_fold_has_no_entry_for_the_held_out_device(cases):
    fitter = Fitter(cases)
    full, fold = fitter.fit(), fitter.fit(exclude=(HELD_OUT,))
    assert HELD_OUT in full.presets and HELD_OUT not in fold.presets
    assert set(fold.presets) == set(DEVICES) - {HELD_OUT}


def test_parse_runtime_names_and_aliases():
    assert parse_runtime("Ollama") is Runtime.LLAMA_CPP
    assert parse_runtime("trt-llm") is Runtime.TENSORRT_LLM
    assert parse_runtime("mlx") is Runtime.MLX
    with pytest.raises(ConfigError, match="--runtime: unknown runtime 'cuda'; known: llama.cpp"):
        parse_runtime("cuda", "--runtime")
    assert set(DEFAULT_RUNTIME) >= {"datacenter_gpu", "apple_gpu", "mobile_npu", "edge_npu", "cpu"}


def test_load_hardware_runtime_selects_the_calibration():
    by_default = loader.load_hardware("h100-sxm")
    with_llama = loader.load_hardware("h100-sxm", runtime="llama.cpp")
    assert "runtime tensorrt-llm" in by_default.calibration
    assert "runtime llama.cpp" in with_llama.calibration
    with pytest.raises(ConfigError, match="unknown runtime"):
        loader.load_hardware("h100-sxm", runtime="cuda")


def test_calibrate_writes_under_cwd_unless_write(tmp_path, monkeypatch):
    """Without --write the tracked file is left alone: the output lands in ./calibration.yaml."""
    csv = tmp_path / "rows.csv"
    frame = load_measured(loader.REPO_ROOT / "validation" / "measured.csv")
    frame[frame["id"].str.startswith("lcpp4167-m4-")].to_csv(csv, index=False)
    tracked = (loader.REPO_ROOT / "configs" / "calibration.yaml").read_bytes()
    runner = CliRunner()
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["calibrate", "measured", "--csv", str(csv)])
    assert result.exit_code == 0, result.output
    assert "presets:" in (tmp_path / "calibration.yaml").read_text()
    assert "Tokens/s MAPE (held_out)" in result.output
    assert (loader.REPO_ROOT / "configs" / "calibration.yaml").read_bytes() == tracked
    result = runner.invoke(main, ["calibrate", "measured", "--csv", str(csv), "--out", "-"])
    assert result.exit_code == 0 and "format_offsets:" in result.output


def test_simulate_runtime_option_changes_the_calibration():
    from hwsim.spec.runtime import Runtime

    runner = CliRunner()
    args = ["simulate", "--model", "llama-2-7b", "--hardware", "h100-sxm", "--quant", "q4_0", "--phase", "decode",
            "--prompt", "16", "--gen", "4", "--engine", "roofline", "--json"]
    tps = {}
    for runtime in ("llama.cpp", "tensorrt-llm"):
        result = runner.invoke(main, args + ["--runtime", runtime])
        assert result.exit_code == 0, result.output
        tps[runtime] = json.loads(result.output)["totals"]["tokens_per_s"]
    assert tps["llama.cpp"] != tps["tensorrt-llm"]
    bad = runner.invoke(main, args + ["--runtime", "cuda"])
    assert bad.exit_code == 2 and "--runtime: unknown runtime 'cuda'" in bad.output
    assert {r.value for r in Runtime} >= {"llama.cpp", "tensorrt-llm"}


def test_runtime_is_a_sweep_axis():
    from hwsim.sweep.spec import SweepSpec, resolve_points

    spec = loader.validate(SweepSpec, {"name": "rt", "model": "llama-2-7b", "hardware": "h100-sxm",
                                       "axes": {"runtime": ["llama.cpp", "tensorrt-llm"]},
                                       "objectives": {"tpot_s": "min"}}, "test")
    points = resolve_points(spec).points
    assert [p.labels["runtime"] for p in points] == ["llama.cpp", "tensorrt-llm"]
    assert "runtime llama.cpp" in points[0].hardware.calibration
    assert "runtime tensorrt-llm" in points[1].hardware.calibration
    bad = loader.validate(SweepSpec, {"name": "rt", "model": "llama-2-7b", "hardware": "h100-sxm",
                                      "axes": {"runtime": ["cuda"]}, "objectives": {"tpot_s": "min"}}, "test")
    with pytest.raises(ConfigError, match=r"point \[runtime=cuda\]: runtime: unknown runtime"):
        resolve_points(bad)


def test_calibration_does_not_import_the_loader():
    """The loader applies the calibration at load time; the calibration reads its file through
    hwsim.spec.documents, so the two modules do not import each other."""
    import subprocess
    import sys

    code = "import sys, hwsim.calibration; assert 'hwsim.spec.loader' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_headline_and_worst_rows_use_tokens_per_s_errors():
    import pandas as pd

    from hwsim.validation.report import add_errors, headline, worst_rows

    # A TTFT predicted at half the measured time is a tokens/s error of +100% (measured/predicted - 1).
    frame = add_errors(pd.DataFrame([
        {"id": "a", "preset": "p", "class": "c", "runtime": "r", "metric": "tg_tokens_per_s", "group": "decode",
         "measured": 10.0, "predicted": 11.0, "mode": "held_out"},
        {"id": "b", "preset": "q", "class": "c", "runtime": "r", "metric": "ttft_ms", "group": "prefill",
         "measured": 100.0, "predicted": 50.0, "mode": "held_out"}]))
    table = headline(frame).set_index("class")
    assert table.loc["all", "decode MAPE %"] == pytest.approx(10.0)
    assert table.loc["all", "prefill MAPE %"] == pytest.approx(100.0)
    assert table.loc["c", "decode devices"] == 1
    worst = worst_rows(frame)
    assert list(worst["id"]) == ["b", "a"] and list(worst["share of phase %"]) == [100.0, 100.0]


def test_source_disagreement_floor_by_hand():
    import pandas as pd

    from hwsim.validation.report import add_errors, source_disagreement

    same = {"preset": "p", "class": "c", "runtime": "r", "model": "m", "quant": "q", "mode": "held_out"}
    frame = add_errors(pd.DataFrame([
        # one decode run timed at 10 and 20 tokens/s by two sources: the best single figure, 10,
        # is 0% and 50% off (20 would be 100% and 0%), so the floor is 25% on these two rows
        {**same, "id": "a", "metric": "tg_tokens_per_s", "group": "decode", "measured": 10.0, "predicted": 12.0,
         "source": "s1", "prompt_tokens": 0},
        {**same, "id": "b", "metric": "tg_tokens_per_s", "group": "decode", "measured": 20.0, "predicted": 12.0,
         "source": "s2", "prompt_tokens": 128},
        # a third decode row from a single source adds no floor but counts in the phase's MAPE
        {**same, "id": "c", "model": "n", "metric": "tg_tokens_per_s", "group": "decode", "measured": 5.0,
         "predicted": 5.0, "source": "s1", "prompt_tokens": 0},
        # TTFTs of different prompt lengths are different runs, whatever their sources
        {**same, "id": "d", "metric": "ttft_ms", "group": "prefill", "measured": 100.0, "predicted": 90.0,
         "source": "s1", "prompt_tokens": 64},
        {**same, "id": "e", "metric": "ttft_ms", "group": "prefill", "measured": 300.0, "predicted": 90.0,
         "source": "s2", "prompt_tokens": 128}]))
    table, floor = source_disagreement(frame)
    assert len(table) == 1
    assert table.loc[0, "spread x"] == pytest.approx(2.0) and table.loc[0, "floor %"] == pytest.approx(25.0)
    assert floor == {"decode": pytest.approx(50.0 / 3), "prefill": 0.0}


def test_headline_interval_resamples_devices_not_rows():
    import pandas as pd

    from hwsim.validation.report import add_errors, headline, headline_interval

    def row(preset, measured, predicted, group="decode"):
        metric = "tg_tokens_per_s" if group == "decode" else "pp_tokens_per_s"
        return {"id": f"{preset}-{measured}", "preset": preset, "class": "c", "runtime": "r", "mode": "held_out",
                "metric": metric, "group": group, "measured": measured, "predicted": predicted}

    # decode: device a has three exact rows, device b one row 40% off. Rows pooled give 10%;
    # a resample of devices holds 0, 1 or 2 copies of each, so the MAPE of one ranges from 0%
    # (only a) to 40% (only b), and a resample of a and b once each gives the 10% itself.
    # prefill: every device 20% off, so no resample can move it.
    frame = add_errors(pd.DataFrame([row("a", 10.0, 10.0), row("a", 20.0, 20.0), row("a", 30.0, 30.0),
                                     row("b", 10.0, 14.0),
                                     row("a", 100.0, 120.0, "prefill"), row("b", 100.0, 80.0, "prefill")]))
    assert headline(frame).set_index("class").loc["all", "decode MAPE %"] == pytest.approx(10.0)
    intervals = headline_interval(frame, level=0.9, resamples=4000)
    low, high = intervals["decode"]
    # two devices: P(both draws a) = P(both b) = 1/4, so the 5% and 95% points are the ends
    assert low == pytest.approx(0.0) and high == pytest.approx(40.0)
    assert intervals["prefill"] == (pytest.approx(20.0), pytest.approx(20.0))
    assert headline_interval(frame, resamples=500) == headline_interval(frame, resamples=500)  # seeded


def test_llama_cpp_quantised_gemms_see_two_thirds_of_hoppers_int8_peak():
    """Hopper reaches its tensor peak only through wgmma; llama.cpp's MMQ kernels issue mma.sync,
    which reaches about 2/3 of it (FlashAttention-3, arXiv 2407.08608). The cap follows the
    runtime and the type: llama.cpp's int8 GEMMs on an H100, not its cuBLAS fp16 ones, not
    TensorRT-LLM's, not an Ada card's."""
    h100 = loader.load_hardware("h100-sxm", calibrated=False)
    seen = loader.load_hardware("h100-sxm", runtime="llama.cpp").matrix.peak
    assert seen["int8"] == pytest.approx(1978.9e12 * 0.667) and seen["fp16"] == h100.matrix.peak["fp16"]
    assert loader.load_hardware("h100-sxm", runtime="tensorrt-llm").matrix.peak["int8"] == h100.matrix.peak["int8"]
    l40s = loader.load_hardware("l40s", calibrated=False)
    assert loader.load_hardware("l40s", runtime="llama.cpp").matrix.peak == l40s.matrix.peak
