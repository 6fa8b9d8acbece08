"""Capture speed: one full-size model captured from its transformers code on the meta device,
per preset with a published config (workloads/hf), prefill of 64 tokens and one decode step
with 64 cached (the decode figure includes the unrecorded prefill that fills the cache).

Each figure is the median wall time of several runs after one warm-up (imports, first builds).
Needs the capture extra. Run: .venv/bin/python bench/capture.py [--repeats N] [--model NAME ...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hwsim.capture.compare import HF_CONFIGS_DIR, presets_with_config, read_config  # noqa: E402
from hwsim.capture.record import capture  # noqa: E402


def seconds(config: dict, phase: str, repeats: int) -> float:
    capture(config, phase)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        capture(config, phase)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", action="append", help="preset (default: every one with a config)")
    args = parser.parse_args()
    print(f"{'preset':<16}{'prefill s':>11}{'decode s':>11}")
    for name in args.model or presets_with_config():
        config = read_config(HF_CONFIGS_DIR / f"{name}.json")
        prefill = seconds(config, "prefill", args.repeats)
        decode = seconds(config, "decode", args.repeats) if name != "albert-base" else float("nan")
        print(f"{name:<16}{prefill:>11.2f}{decode:>11.2f}")


if __name__ == "__main__":
    main()
