"""Time the reference executor and measure the CPU, with NumPy's BLAS pinned to one thread.

Both sides of `hwsim validate local` (the calibration and the timed decode) run in a child
process whose BLAS uses one thread: the environment variables must be set before NumPy loads,
and a multi-threaded BLAS on small GEMVs swings by several times with the machine's load,
which would make the comparison measure the scheduler rather than the model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict

import numpy as np

from hwsim.errors import HwsimError
from hwsim.spec.model import ModelSpec

SINGLE_THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def decode_seconds_per_token(model: ModelSpec, prompt_len: int, gen_len: int, seed: int = 0) -> list[float]:
    """Wall time of each of `gen_len` decode steps after a `prompt_len` prefill (batch 1,
    nothing recorded), so the figure is the arithmetic and memory traffic of the model."""
    from hwsim.reference.executor import ReferenceExecutor

    executor = ReferenceExecutor(model, seed=seed)
    rng = np.random.default_rng(seed)
    executor.prefill(rng.integers(0, model.vocab_size, (1, prompt_len)))
    seconds = []
    for token in rng.integers(0, model.vocab_size, gen_len):
        start = time.perf_counter()
        executor.decode(np.array([token]))
        seconds.append(time.perf_counter() - start)
    return seconds


def run_single_threaded(task: dict) -> dict:
    """Run `task` ({"task": "calibrate"} or {"task": "decode", "model", "scale", "prompt_len",
    "gen_len"}) in a child process with one BLAS thread; returns its JSON result."""
    done = subprocess.run([sys.executable, "-m", "hwsim.reference.timing", json.dumps(task)],
                          env={**os.environ, **SINGLE_THREAD_ENV}, capture_output=True, text=True)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["no output"]
        raise HwsimError(f"timing run ({task['task']}) failed: {lines[-1]}")
    return json.loads(done.stdout)


def _child(task: dict) -> dict:
    if task["task"] == "calibrate":
        from hwsim.reference.calibrate_local import measure

        return asdict(measure())
    from hwsim.reference.scale import scale_model
    from hwsim.spec.loader import load_model
    from hwsim.spec.variants import configure_model

    model = configure_model(scale_model(load_model(task["model"]), task["scale"]), quant="fp32")
    return {"seconds": decode_seconds_per_token(model, task["prompt_len"], task["gen_len"])}


if __name__ == "__main__":
    print(json.dumps(_child(json.loads(sys.argv[1]))))
