"""Sweep throughput: a 1,000-point roofline sweep (target < 10 s) and a 200-point DES sweep
(target < 60 s) with 2 worker processes, timed end to end (validation of every point,
evaluation, journal, tables). A third row runs the 1,000 points with an evaluation that only
reads two spec fields, to show what the sweep machinery itself costs apart from `simulate`.

    .venv/bin/python bench/sweep_throughput.py [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from hwsim.spec import loader
from hwsim.sweep import run_sweep
from hwsim.sweep.spec import SweepSpec

QUANTS = ["bf16", "int8", "int4-g128", "q4_0", "int8-w8a16"]
SRAM = ["1 MiB", "4 MiB", "16 MiB", "64 MiB", "256 MiB"]
GRID_1000 = {"model.loop.count": [1, 2, 3, 4, 5, 6, 7, 8], "model.quant": QUANTS,
             "hardware.memory.sram.capacity": SRAM, "batch": [1, 2, 4, 8, 16]}
CASES = [
    # name, engine (None: no simulation), axes, target seconds
    ("roofline-1000", "roofline", GRID_1000, 10.0),
    ("machinery-1000", None, GRID_1000, 10.0),
    ("des-200", "des", {"model.loop.count": [1, 2, 4, 8], "model.quant": QUANTS,
                        "hardware.memory.sram.capacity": SRAM, "batch": [1, 4]}, 60.0),
]


def spec_fields_only(point, engine):
    """No simulation: isolates validation, dispatch, journal and table costs."""
    return {"tpot_s": point.hardware.sram.capacity_bytes / point.run.batch,
            "energy_per_token_j": float(point.model.loop.count), "fits": True}


def spec_for(name: str, axes: dict) -> SweepSpec:
    return loader.validate(SweepSpec, {
        "name": name, "model": "ouro-1.4b", "hardware": "edge-npu", "prompt_len": 512, "gen_len": 128,
        "axes": axes, "constraints": ["fits == True"],
        "objectives": {"tpot_s": "min", "energy_per_token_j": "min"}}, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    load = os.getloadavg()
    rows = []
    for name, engine, axes, target in CASES:
        spec = spec_for(name, axes)
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            frame = run_sweep(spec, out, jobs=args.jobs, engine=engine or "roofline", progress=False,
                              evaluate=None if engine else spec_fields_only)
            seconds = time.perf_counter() - start
        status = frame["status"].value_counts().to_dict()
        rows.append([name, engine or "none", str(len(frame)), str(args.jobs), f"{seconds:.2f}", f"{len(frame) / seconds:.1f}",
                     f"< {target:g}", "yes" if seconds < target else "NO",
                     ", ".join(f"{n} {s}" for s, n in status.items())])
    headers = ["sweep", "engine", "points", "jobs", "wall s", "points/s", "target s", "met", "status"]
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows)]
    for line in [headers, ["-" * w for w in widths], *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip())
    print(f"\nmachine: {os.cpu_count()} CPUs visible, load average at the start {load[0]:.2f} and the end "
          f"{os.getloadavg()[0]:.2f}; model ouro-1.4b on edge-npu, prompt 512, gen 128")


if __name__ == "__main__":
    main()
