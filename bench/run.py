"""Speed table for the whole pipeline, so every change can be compared: trace build, one
roofline point, a 1,000-token DES decode, and sweep throughput (roofline points per second).

Each figure is the median wall time of several runs after one warm-up (which fills the
per-process caches a sweep also benefits from). Companion scripts go deeper on one item
(bench/trace_build.py, ...); this one is the summary.

Run: .venv/bin/python bench/run.py [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hwsim.spec.loader import load_hardware, load_model  # noqa: E402
from hwsim.spec.variants import configure_model  # noqa: E402


def median_seconds(work: Callable[[], object], repeats: int) -> float:
    work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_trace_build(repeats: int) -> list[tuple[str, float, str]]:
    from hwsim.workload.transformer import build_trace

    rows = []
    for preset, phase, loops, context in (("llama-3.2-1b", "decode", None, 1024),
                                          ("huginn-0125", "decode", 64, 4096),
                                          ("llama-2-7b", "prefill", None, 512)):
        model = load_model(preset)
        size = len(build_trace(model, phase, 1, context, loops=loops))
        seconds = median_seconds(lambda: build_trace(model, phase, 1, context, loops=loops), repeats)
        label = f"trace build {preset} {phase} ctx {context}" + (f" r={loops}" if loops else "")
        rows.append((label, seconds, f"{size} rows"))
    return rows


def bench_simulate(repeats: int) -> list[tuple[str, float, str]]:
    from hwsim.sim import roofline_totals, simulate

    llama = configure_model(load_model("llama-3.2-1b"), quant="q4_0")
    jetson = load_hardware("jetson-orin-nano")
    h100 = load_hardware("h100-sxm")
    point = median_seconds(lambda: simulate(llama, h100, phase="e2e", prompt_len=512, gen_len=128,
                                            engine="roofline"), repeats)
    floor = median_seconds(lambda: roofline_totals(llama, h100, phase="e2e", prompt_len=512, gen_len=128,
                                                   bound="floor"), repeats)
    des_repeats = max(1, repeats // 4)
    decode = median_seconds(lambda: simulate(llama, jetson, phase="decode", prompt_len=0, gen_len=1024,
                                             engine="des"), des_repeats)
    return [("roofline point llama-3.2-1b q4_0 h100-sxm e2e 512+128", point, ""),
            ("roofline floor llama-3.2-1b q4_0 h100-sxm e2e 512+128", floor, ""),
            ("DES decode 1k tokens llama-3.2-1b q4_0 jetson-orin-nano", decode, "")]


SWEEP_YAML = """
name: bench-sweep
model: llama-3.2-1b
axes:
  hardware: [h100-sxm, jetson-orin-nano, apple-m2-10c, rtx-3090, raspberry-pi-5]
  model.quant: [bf16, int8, q4_0, int4-g128]
  batch: [1, 2, 4, 8, 16]
  prompt_len: [128, 512]
objectives: {tpot_s: min}
"""


def bench_sweep() -> list[tuple[str, float, str]]:
    from hwsim.sweep import run_sweep

    with tempfile.TemporaryDirectory() as tmp:
        spec_path = Path(tmp) / "bench-sweep.yaml"
        spec_path.write_text(SWEEP_YAML)
        start = time.perf_counter()
        frame = run_sweep(str(spec_path), Path(tmp) / "out", jobs=1, engine="roofline", progress=False)
        seconds = time.perf_counter() - start
    return [(f"sweep {len(frame)} roofline points, 1 process", seconds,
             f"{len(frame) / seconds:.0f} points/s")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = bench_trace_build(args.repeats) + bench_simulate(args.repeats) + bench_sweep()
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'median':>10}  note")
    print("-" * (width + 30))
    for label, seconds, note in rows:
        shown = f"{seconds * 1e3:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"
        print(f"{label:<{width}}  {shown:>10}  {note}")
    print(f"\nload average (1, 5, 15 min) at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
