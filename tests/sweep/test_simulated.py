"""Sweeps on the real simulator: the roofline-bound assumptions pruning relies on, pruning in a
real sweep, and the acceptance test (a sweep killed with SIGKILL and resumed equals an
uninterrupted one). A tiny looped model keeps each point to a fraction of a second."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import yaml

from hwsim.sim import simulate
from hwsim.spec import loader
from hwsim.sweep import run_sweep
from hwsim.sweep.constraints import ENGINE_INDEPENDENT
from hwsim.sweep.journal import JOURNAL_NAME
from hwsim.sweep.run import simulate_totals
from hwsim.sweep.spec import SweepSpec, resolve_points

TINY = {"model.name": "ouro-tiny", "model.hidden_size": 256, "model.vocab_size": 4096,
        "model.blocks": [{"name": "core", "num_layers": 2}],
        "model.attention": {"num_heads": 4, "num_kv_heads": 4, "head_dim": 64},
        "model.mlp": {"kind": "swiglu", "intermediate_size": 512}}


def tiny_spec(axes, **fields):
    data = {"name": "tiny", "model": "ouro-1.4b", "hardware": "edge-npu", "prompt_len": 32, "gen_len": 4,
            "set": TINY, "axes": axes, "objectives": {"tpot_s": "min", "energy_per_token_j": "min"}, **fields}
    return data


def test_capacity_totals_agree_between_engines():
    """What pruning relies on: the roofline engine decides capacity constraints as the DES does."""
    spec = loader.validate(SweepSpec, tiny_spec({"model.loop.count": [1, 4],
                                                 "hardware.memory.sram.capacity": ["256 KiB", "8 MiB"],
                                                 "hardware.memory.dram.capacity": ["4 MB", "1 GB"]}), "t")
    fits = set()
    for point in resolve_points(spec).points:
        run = point.run
        kwargs = dict(prompt_len=run.prompt_len, gen_len=run.gen_len, batch=run.batch, policy=run.policy)
        bound = simulate(point.model, point.hardware, engine="roofline", **kwargs).totals
        des = simulate(point.model, point.hardware, engine="des", **kwargs).totals
        for name in ENGINE_INDEPENDENT:
            assert bound[name] == des[name], (point.key, name)
        fits.add(des["fits"])
    assert fits == {True, False}


def test_real_sweep_prunes_points_that_do_not_fit(tmp_path):
    # The tiny model's bf16 weights (~6.6 MB) do not fit a 4 MB DRAM.
    spec = loader.validate(SweepSpec, tiny_spec({"hardware.memory.dram.capacity": ["4 MB", "1 GB"]},
                                                constraints=["fits == True"]), "t")
    frame = run_sweep(spec, tmp_path / "des", jobs=1, progress=False)
    points = resolve_points(spec).points
    floors = [simulate_totals(point, "floor") for point in points]
    assert frame["status"].tolist() == ["pruned", "ok"]
    assert frame["engine"].tolist() == ["floor", "des"]
    assert frame["pruned_by"][0] == "fits == True"
    assert frame["tpot_s"][0] == floors[0]["tpot_s"]     # a pruned row carries the floor figures
    assert frame["tpot_s"][1] > floors[1]["tpot_s"]      # an ok row carries the DES figures
    assert frame["feasible"].tolist() == [False, True]
    assert frame["pareto"].tolist() == [False, True]


def test_no_point_pruned_on_time_would_have_passed_under_the_des(tmp_path):
    limits = ["tpot_s <= 2e-4", "ttft_s < 2e-3", "tokens_per_s >= 4000"]
    spec = loader.validate(SweepSpec, tiny_spec({"model.loop.count": [1, 4],
                                                 "hardware.memory.sram.capacity": ["64 KiB", "8 MiB"],
                                                 "hardware.memory.dram.bandwidth": ["2 GB/s", "50 GB/s"],
                                                 "policy": ["lru", "belady"]},
                                                constraints=limits), "t")
    frame = run_sweep(spec, tmp_path, jobs=1, progress=False)
    assert {"pruned", "ok"} <= set(frame["status"])
    constraints = spec.parsed_constraints
    for point, (_, row) in zip(resolve_points(spec).points, frame.iterrows()):
        if row["status"] != "pruned":
            continue
        des = simulate_totals(point, "des")
        for constraint in constraints:
            if constraint.text in row["pruned_by"].split("; "):
                assert not constraint.holds(des), (point.key, constraint.text)


def _cli(spec_path, out, *extra):
    command = [sys.executable, "-c", "from hwsim.cli import main; main()", "sweep", str(spec_path),
               "--out", str(out), "--jobs", "2", "--no-progress", *extra]
    return command


def test_sigkilled_sweep_resumes_to_the_uninterrupted_result(tmp_path):
    data = tiny_spec({"model.loop.count": [1, 2, 3, 4], "batch": [1, 2]}, constraints=["fits == True"])
    spec_path = tmp_path / "tiny.yaml"
    spec_path.write_text(yaml.safe_dump(data))
    total = 8

    subprocess.run(_cli(spec_path, tmp_path / "whole"), check=True, capture_output=True, timeout=300)

    killed = tmp_path / "killed"
    process = subprocess.Popen(_cli(spec_path, killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    journal = killed / JOURNAL_NAME
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if journal.exists() and len(journal.read_bytes().splitlines()) >= 1 + 2:
            break
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    finished_before = len(journal.read_bytes().splitlines()) - 1
    assert 2 <= finished_before < total, "the kill must land halfway for this test to mean anything"
    assert not (killed / "results.parquet").exists()

    result = subprocess.run(_cli(spec_path, killed, "--resume"), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    indices = [json.loads(line)["index"] for line in journal.read_text().splitlines()[1:]]
    assert sorted(indices) == list(range(total))  # none lost, none run twice
    whole = pd.read_parquet(tmp_path / "whole" / "results.parquet")
    resumed = pd.read_parquet(killed / "results.parquet")
    pd.testing.assert_frame_equal(resumed, whole)
    assert (resumed["status"] == "ok").all()


def test_cli_reports_a_bad_axis_on_one_line_before_any_work(tmp_path):
    data = tiny_spec({"model.loop.count": [1, 2]}, model="llama-3.2-1b")
    data.pop("set")
    spec_path = tmp_path / "bad.yaml"
    spec_path.write_text(yaml.safe_dump(data))
    result = subprocess.run(_cli(spec_path, tmp_path / "out"), capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "point [model.loop.count=2]: loops: Llama-3.2-1B has no loop to repeat" in result.stderr
    assert not (tmp_path / "out").exists()

