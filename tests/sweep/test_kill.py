"""A sweep is safe to kill and to start twice: workers die with their parent (SIGKILL
included), a second sweep on the same directory is refused while the first runs, and the lock of
a killed sweep is taken over by the next one."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hwsim.errors import ConfigError
from hwsim.spec import loader
from hwsim.sweep import run_sweep
from hwsim.sweep.spec import SweepSpec
from tests.sweep.evaluators import weight_streaming

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")

ROOT = Path(__file__).resolve().parents[2]
SPEC = {"name": "killable", "model": "ouro-1.4b", "hardware": "edge-npu",
        "axes": {"model.loop.count": [1, 2, 4, 8], "model.quant": ["bf16", "int8", "int4-g128"],
                 "batch": [1, 2, 4, 5, 6, 7]},
        "objectives": {"tpot_s": "min", "energy_per_token_j": "min"}}
SCRIPT = f"""
import sys
from hwsim.spec import loader
from hwsim.sweep import run_sweep
from hwsim.sweep.spec import SweepSpec
from tests.sweep.evaluators import slow_streaming
run_sweep(loader.validate(SweepSpec, {SPEC!r}, "killable"), sys.argv[1], jobs=2, evaluate=slow_streaming,
          progress=False, resume=True)
"""


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has exited; only its parent's wait is missing


def start_sweep(out: Path) -> tuple[subprocess.Popen, list[int]]:
    """A sweep in its own process, returned once its two workers compute and a point is journaled."""
    parent = subprocess.Popen([sys.executable, "-c", SCRIPT, str(out)], cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        workers = children(parent.pid)
        journal = out / "points.jsonl"
        if len(workers) >= 2 and journal.exists() and journal.read_text().count("\n") >= 2:
            return parent, workers
        assert parent.poll() is None, "the sweep ended before its workers started"
        time.sleep(0.1)
    parent.kill()
    raise AssertionError("the sweep's workers never started")


def test_sigkill_of_the_parent_leaves_no_worker_alive_after_5_s(tmp_path):
    parent, workers = start_sweep(tmp_path)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(pid) for pid in workers):
        time.sleep(0.1)
    assert not [pid for pid in workers if alive(pid)]
    # The killed sweep's lock is stale: the next sweep takes the directory over and resumes.
    frame = run_sweep(loader.validate(SweepSpec, SPEC, "killable"), tmp_path, jobs=1, resume=True,
                      evaluate=weight_streaming, progress=False)
    assert len(frame) == 72 and 0 < frame.attrs["points_reused"] < 72


def test_a_second_sweep_on_the_directory_is_refused_while_the_first_runs(tmp_path):
    parent, _ = start_sweep(tmp_path)
    try:
        with pytest.raises(ConfigError, match=rf"another sweep \(PID {parent.pid}\) is running in this directory"):
            run_sweep(loader.validate(SweepSpec, SPEC, "killable"), tmp_path, jobs=1, resume=True,
                      evaluate=weight_streaming, progress=False)
    finally:
        parent.kill()
        parent.wait()
