"""Time of the `chip-codesign-edge` report (target: under 2 minutes on 2 cores): wall and CPU
seconds of one cold run in this process, and how many candidates and event simulations it took.

Run: .venv/bin/python bench/chip_codesign.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hwsim.chip.report import run_report  # noqa: E402


def main() -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as out:
        path, _ = run_report(out)
        footer = Path(path).read_text().strip().splitlines()[-1]
    print(f"chip-codesign-edge: {time.perf_counter() - wall:.1f} s wall, {time.process_time() - cpu:.1f} s CPU; {footer}")


if __name__ == "__main__":
    main()
