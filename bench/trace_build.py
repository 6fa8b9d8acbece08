"""Trace build speed: wall time of build_trace over repeated builds (after one warm-up, which
also fills the weight-table cache), one row per case: median and fastest of the repeats (the
fastest is the least disturbed by other load on the machine).

Run: .venv/bin/python bench/trace_build.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import time

from hwsim.spec import loader
from hwsim.workload.transformer import build_trace

# (preset, phase, loops, batch, context)
CASES = [
    ("huginn-0125", "decode", 64, 1, 4096),
    ("huginn-0125", "decode", 32, 8, 4096),
    ("huginn-0125", "prefill", 32, 1, 512),
    ("ouro-1.4b", "decode", 4, 1, 4096),
    ("ouro-1.4b", "prefill", 4, 4, 512),
    ("llama-3.2-1b", "decode", None, 1, 4096),
    ("olmoe-1b-7b", "decode", None, 1, 4096),
    ("olmoe-1b-7b", "prefill", None, 1, 512),
    ("trm", "prefill", None, 1, 0),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    header = f"{'model':<14}{'phase':<9}{'loops':>6}{'batch':>6}{'context':>8}{'rows':>8}{'median ms':>11}{'min ms':>8}"
    print(header)
    print("-" * len(header))
    for preset, phase, loops, batch, context in CASES:
        model = loader.load_model(preset)
        frame = build_trace(model, phase, batch, context, loops=loops)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            build_trace(model, phase, batch, context, loops=loops)
            times.append(time.perf_counter() - start)
        shown = loops if loops is not None else (model.loop.count if model.is_looped else "-")
        print(f"{preset:<14}{phase:<9}{shown!s:>6}{batch:>6}{context:>8}{len(frame):>8}"
              f"{statistics.median(times) * 1e3:>11.1f}{min(times) * 1e3:>8.1f}")


if __name__ == "__main__":
    main()
