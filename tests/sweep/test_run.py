"""run_sweep machinery: journal, resume, failure rows, pruning, executors. A stand-in
evaluation (tests/sweep/evaluators.py) keeps these independent of the simulator's figures."""

import json

import pandas as pd
import pytest

from hwsim.errors import ConfigError
from hwsim.spec import loader
from hwsim.sweep import run_sweep
from hwsim.sweep.journal import JOURNAL_NAME
from hwsim.sweep.spec import SweepSpec, resolve_points
from tests.sweep.evaluators import weight_streaming


def make_spec(**fields):
    data = {"name": "machinery", "model": "ouro-1.4b", "hardware": "edge-npu",
            "axes": {"model.loop.count": [1, 2, 4], "model.quant": ["bf16", "int8", "int4-g128"],
                     "batch": [1, 3]},
            "constraints": ["fits == True"],
            "objectives": {"tpot_s": "min", "energy_per_token_j": "min"}, **fields}
    return loader.validate(SweepSpec, data, "machinery.yaml")


def run(spec, out, **kwargs):
    return run_sweep(spec, out, evaluate=weight_streaming, progress=False, **{"jobs": 1, **kwargs})


def test_one_row_per_point_with_axes_status_and_totals(tmp_path):
    frame = run(make_spec(), tmp_path)
    assert len(frame) == 18
    assert list(frame.columns[:4]) == ["point", "model.loop.count", "model.quant", "batch"]
    for column in ("status", "engine", "feasible", "pareto", "pruned_by", "error", "latency_s", "tpot_s", "fits"):
        assert column in frame.columns
    ok = frame[frame["batch"] == 1]
    assert (ok["status"] == "ok").all() and ok["error"].isna().all()
    # The stand-in: tpot = weight bytes / bandwidth x 1.25 (des); int4 weights are ~4x smaller,
    # the 16-bit embedding / LM head (~200 MB of Ouro's 2.9 GB in bf16) is not.
    bf16 = ok[(ok["model.quant"] == "bf16") & (ok["model.loop.count"] == 1)]["tpot_s"].item()
    int4 = ok[(ok["model.quant"] == "int4-g128") & (ok["model.loop.count"] == 1)]["tpot_s"].item()
    assert 2.5 < bf16 / int4 < 3.0
    for name in ("results.parquet", "results.csv", "pareto.csv", "sensitivity.csv", "manifest.json"):
        assert (tmp_path / name).exists()
    assert pd.read_parquet(tmp_path / "results.parquet")["point"].tolist() == frame["point"].tolist()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["points"] == 18 and manifest["engine"] == "des"


def test_a_failing_point_records_its_error_and_the_sweep_goes_on(tmp_path):
    frame = run(make_spec(), tmp_path)
    failed = frame[frame["batch"] == 3]
    assert len(failed) == 9
    assert (failed["status"] == "error").all()
    assert failed["error"].str.fullmatch(r"ValueError: batch 3 is not supported by this stand-in").all()
    assert not failed["feasible"].any() and not failed["pareto"].any()
    assert failed["tpot_s"].isna().all()


def test_points_whose_floor_breaks_a_capacity_constraint_are_pruned(tmp_path):
    # bf16 Ouro-1.4B weighs ~2.9 GB: it does not fit 1.2 GB of DRAM; int4 (1.04 GB with its
    # 16-bit embedding) does.
    frame = run(make_spec(constraints=["fits == True"],
                          axes={"model.quant": ["bf16", "int4-g128"],
                                "hardware.memory.dram.capacity": ["1.2 GB"]}), tmp_path)
    bf16, int4 = frame.iloc[0], frame.iloc[1]
    assert bf16["status"] == "pruned" and bf16["engine"] == "floor"
    assert bf16["pruned_by"] == "fits == True"
    assert not bf16["feasible"] and bf16["fits"] == False  # noqa: E712
    assert int4["status"] == "ok" and int4["engine"] == "des" and int4["feasible"]


def test_time_limits_prune_on_the_floor(tmp_path):
    # Stand-in floor: tpot = weight bytes / bandwidth (x batch); the DES is 1.25x that.
    spec = make_spec(constraints=["tpot_s <= 0.03"],
                     axes={"model.quant": ["bf16", "int8", "int4-g128"]})
    frame = run(spec, tmp_path)
    points = resolve_points(spec).points
    for point, (_, row) in zip(points, frame.iterrows()):
        if point.run.batch == 3:
            continue   # the stand-in's error rows
        if weight_streaming(point, "floor")["tpot_s"] > 0.03:
            assert row["status"] == "pruned" and row["pruned_by"] == "tpot_s <= 0.03"
        else:
            assert row["status"] == "ok" and row["engine"] == "des"
    assert set(frame["status"]) == {"pruned", "ok"}


def test_roofline_engine_never_prunes(tmp_path):
    frame = run(make_spec(axes={"model.quant": ["bf16", "int4-g128"], "hardware.memory.dram.capacity": ["1.2 GB"]}),
                tmp_path, engine="roofline")
    assert frame["status"].tolist() == ["ok", "ok"]
    assert frame["feasible"].tolist() == [False, True]


def test_every_point_is_persisted_as_it_finishes(tmp_path):
    run(make_spec(), tmp_path)
    lines = (tmp_path / JOURNAL_NAME).read_text().splitlines()
    header, records = json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
    assert header["journal"] == "hwsim-sweep"
    assert sorted(r["index"] for r in records) == list(range(18))


def test_resume_after_an_interruption_gives_the_uninterrupted_result(tmp_path):
    spec = make_spec()
    full = run(spec, tmp_path / "full")
    journal = (tmp_path / "full" / JOURNAL_NAME).read_text().splitlines(keepends=True)
    partial = tmp_path / "partial"
    partial.mkdir()
    # As a kill leaves it: the header, 7 finished points, and half of the 8th line.
    (partial / JOURNAL_NAME).write_text("".join(journal[:8]) + journal[8][:25])
    resumed = run(spec, partial, resume=True)
    pd.testing.assert_frame_equal(resumed, full)
    indices = [json.loads(line)["index"] for line in (partial / JOURNAL_NAME).read_text().splitlines()[1:]]
    assert sorted(indices) == list(range(18))  # nothing duplicated, nothing lost


def test_an_existing_sweep_is_not_overwritten_without_resume(tmp_path):
    run(make_spec(), tmp_path)
    with pytest.raises(ConfigError, match="already holds sweep results; pass --resume"):
        run(make_spec(), tmp_path)


def test_resume_refuses_a_different_sweep_or_engine(tmp_path):
    run(make_spec(), tmp_path)
    with pytest.raises(ConfigError, match="holds a different sweep"):
        run(make_spec(axes={"batch": [1, 2]}), tmp_path, resume=True)
    with pytest.raises(ConfigError, match="engine 'des', not 'roofline'"):
        run(make_spec(), tmp_path, resume=True, engine="roofline")


def test_process_pool_returns_the_same_frame(tmp_path):
    serial = run(make_spec(), tmp_path / "serial")
    parallel = run(make_spec(), tmp_path / "parallel", jobs=2)
    pd.testing.assert_frame_equal(parallel, serial)


def test_dask_returns_the_same_frame(tmp_path):
    distributed = pytest.importorskip("distributed")
    serial = run(make_spec(), tmp_path / "serial")
    with distributed.LocalCluster(n_workers=2, processes=False, dashboard_address=None) as cluster:
        on_dask = run(make_spec(), tmp_path / "dask", jobs=2, dask=cluster.scheduler_address)
    pd.testing.assert_frame_equal(on_dask, serial)


def test_progress_bar_reports_points_and_eta(tmp_path, capsys):
    run_sweep(make_spec(), tmp_path, evaluate=weight_streaming, jobs=1, progress=True)
    err = capsys.readouterr().err
    assert "machinery: 100%" in err and "18/18" in err and "pt/s" in err
