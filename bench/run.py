"""Speed table for the whole pipeline, so every change can be compared: trace build, one
closed-form point (warm and cold, and at 1 vs 64 loops), a 1,024-token DES decode, `hwsim simulate
--loops 100000` with both engines, the vectorised closed-form batch path (1,000 and 100,000
points), and sweep throughput. Rows with a target (issues 11 and 15) say whether they meet it.

Each figure is the median wall time of several runs after one warm-up (which fills the
per-process caches a sweep also benefits from); `gc.freeze()` after the warm-up keeps full
collections of the long-lived caches out of the timings. Cold figures empty the process caches
(hwsim.cache.clear) first, so they include building the traces. Companion scripts go deeper on one
item (bench/trace_build.py, ...); this one is the summary. The machine's load average is printed:
figures are only comparable on an equally quiet machine.

Run: .venv/bin/python bench/run.py [--repeats N]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hwsim.spec.loader import load_hardware, load_model  # noqa: E402
from hwsim.spec.variants import configure_model  # noqa: E402


def median_seconds(work: Callable[[], object], repeats: int, cold: Callable[[], object] | None = None) -> float:
    """Median wall time of `work` after a warm-up; `cold` runs before each timed call (untimed)."""
    work()
    gc.freeze()
    times = []
    for _ in range(repeats):
        if cold:
            cold()
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_trace_build(repeats: int) -> list[tuple]:
    from hwsim.workload.transformer import build_trace

    rows = []
    for preset, phase, loops, context in (("llama-3.2-1b", "decode", None, 1024),
                                          ("huginn-0125", "decode", 64, 4096),
                                          ("llama-2-7b", "prefill", None, 512)):
        model = load_model(preset)
        size = len(build_trace(model, phase, 1, context, loops=loops))
        seconds = median_seconds(lambda: build_trace(model, phase, 1, context, loops=loops), repeats)
        label = f"trace build {preset} {phase} ctx {context}" + (f" r={loops}" if loops else "")
        rows.append((label, seconds, None, f"{size} rows"))
    return rows


def bench_simulate(repeats: int) -> list[tuple]:
    from hwsim import cache
    from hwsim.sim import roofline_totals, simulate

    llama = configure_model(load_model("llama-3.2-1b"), quant="q4_0")
    jetson = load_hardware("jetson-orin-nano")
    h100 = load_hardware("h100-sxm")
    run = dict(phase="e2e", prompt_len=512, gen_len=128)
    # Sub-millisecond points: many samples, so a garbage collection or a busy neighbour in a
    # few of them does not move the median.
    point = median_seconds(lambda: roofline_totals(llama, h100, **run), repeats * 100)
    cold = median_seconds(lambda: roofline_totals(llama, h100, **run), repeats * 100, cold=cache.clear)
    floor = median_seconds(lambda: roofline_totals(llama, h100, **run, bound="floor"), repeats * 100)
    ouro = load_model("ouro-1.4b")
    loops = {n: median_seconds(lambda n=n: roofline_totals(configure_model(ouro, loops=n), h100, **run), repeats,
                               cold=cache.clear) for n in (1, 64)}
    decode = median_seconds(lambda: simulate(llama, jetson, phase="decode", prompt_len=0, gen_len=1024,
                                             engine="des"), repeats * 4)
    return [("closed-form point llama-3.2-1b q4_0 h100-sxm e2e 512+128, warm", point, 1e-4, ""),
            ("closed-form point, cold (process caches emptied)", cold, 1e-3, "includes building the traces"),
            ("closed-form floor llama-3.2-1b q4_0 h100-sxm e2e 512+128, warm", floor, None, ""),
            ("closed-form point ouro-1.4b, cold, 1 loop", loops[1], None, ""),
            ("closed-form point ouro-1.4b, cold, 64 loops", loops[64], None,
             f"{loops[64] / loops[1]:.2f}x the 1-loop figure (O(1) in loops)"),
            ("DES decode 1,024 tokens llama-3.2-1b q4_0 jetson-orin-nano", decode, 0.010, "")]


def bench_loops_cli() -> list[tuple]:
    """`hwsim simulate --loops N` as a user runs it (a fresh process, imports included). On a
    loaded machine the wall time is mostly waiting for a core, so the process's CPU time is what
    is held against the target; 4 loops is shown for comparison (the loop count costs nothing)."""
    import resource

    hwsim = Path(sys.executable).with_name("hwsim")
    rows = []
    for engine, loops in (("des", 100_000), ("roofline", 100_000), ("roofline", 4)):
        command = [str(hwsim), "simulate", "--model", "ouro-1.4b", "--hardware", "edge-npu", "--loops", str(loops),
                   "--engine", engine]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        rows.append((f"hwsim simulate ouro-1.4b edge-npu --loops {loops} --engine {engine} (CPU)", cpu,
                     2.0 if loops == 100_000 else None, f"fresh process; wall {_shown(wall)}"))
    return rows


def batch_points(count: int) -> list:
    """`count` closed-form sweep points: 5 presets x 2 quantisations x 2 batches, each device at
    its own DRAM bandwidth (50%..150% of the preset's), so every point prices a distinct device."""
    from hwsim.sweep.spec import Point, RunSpec

    presets = [load_hardware(n) for n in ("h100-sxm", "jetson-orin-nano", "apple-m2-10c", "rtx-3090",
                                          "raspberry-pi-5")]
    models = [configure_model(load_model("llama-3.2-1b"), quant=q) for q in ("bf16", "q4_0")]
    points = []
    for i in range(count):
        base = presets[i % 5]
        name = base.main_memory_name
        level = base.memory[name].model_copy(update={"bandwidth": base.memory[name].bandwidth * (0.5 + (i % 997) / 997)})
        hardware = base.model_copy(update={"memory": {**base.memory, name: level}})
        run = RunSpec(phase="e2e", batch=1 + (i // 10) % 2, prompt_len=512, gen_len=128)
        points.append(Point(i, str(i), {}, models[(i // 5) % 2], hardware, run))
    return points


def bench_batch() -> list[tuple]:
    """The vectorised closed-form path a sweep takes (evaluate_chunk on chunks of 256 points)."""
    from hwsim.sweep.run import evaluate_chunk

    rows = []
    for count, target in ((1_000, 1.0), (100_000, 60.0)):
        points = batch_points(count)
        evaluate_chunk(points[:20], "roofline", [])        # traces built once, as in a sweep
        start = time.perf_counter()
        for first in range(0, count, 256):
            evaluate_chunk(points[first:first + 256], "roofline", [])
        seconds = time.perf_counter() - start
        rows.append((f"closed-form batch path, {count:,} points (1 process)", seconds, target,
                     f"{seconds / count * 1e6:.0f} us/point"))
    return rows


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


def bench_sweep() -> list[tuple]:
    from hwsim.sweep import run_sweep

    with tempfile.TemporaryDirectory() as tmp:
        spec_path = Path(tmp) / "bench-sweep.yaml"
        spec_path.write_text(SWEEP_YAML)
        start = time.perf_counter()
        frame = run_sweep(str(spec_path), Path(tmp) / "out", jobs=1, engine="roofline", progress=False)
        seconds = time.perf_counter() - start
    return [(f"sweep {len(frame)} roofline points, 1 process (resolve, evaluate, write)", seconds, None,
             f"{len(frame) / seconds:.0f} points/s")]


def _shown(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="skip the 100,000-point batch")
    args = parser.parse_args()
    rows = (bench_trace_build(args.repeats) + bench_simulate(args.repeats) + bench_loops_cli()
            + (bench_batch()[:1] if args.quick else bench_batch()) + bench_sweep())
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'median':>10}  {'target':>8}  {'':4}  note")
    print("-" * (width + 50))
    for label, seconds, target, note in rows:
        verdict = "" if target is None else ("ok" if seconds <= target else "OVER")
        shown_target = "" if target is None else f"<= {_shown(target)}"
        print(f"{label:<{width}}  {_shown(seconds):>10}  {shown_target:>8}  {verdict:4}  {note}")
    print(f"\nload average (1, 5, 15 min) at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
