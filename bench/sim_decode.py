"""Wall time of `simulate` (DES engine) for decode runs: one core, warm imports.

    python bench/sim_decode.py

Target: a 1,024-token decode of Ouro-1.4B at 4 loops in under 1 s. The load average is printed
with the table: the figures are only comparable on an equally quiet machine.
"""

from __future__ import annotations

import os
import time

from hwsim.sim import simulate
from hwsim.spec.loader import load_hardware, load_model
from hwsim.spec.variants import configure_model

CASES = [  # (model, loops, gen tokens, policy, full_loops)
    ("ouro-1.4b", 4, 1024, "lru", False),
    ("ouro-1.4b", 4, 1024, "belady", False),
    ("ouro-1.4b", 16, 1024, "belady", False),
    ("ouro-1.4b", 64, 1024, "belady", False),
    ("ouro-1.4b", 4, 1024, "belady", True),
    ("llama-3.2-1b", 1, 1024, "lru", False),
]


def main() -> None:
    hardware = load_hardware("edge-npu", {"memory.sram.capacity": "64 MiB"})
    simulate(load_model("llama-3.2-1b"), hardware, phase="decode", prompt_len=16, gen_len=2)  # warm-up
    print(f"{'model':<14}{'loops':>6}{'tokens':>8}{'policy':>8}{'full':>6}{'wall s':>9}{'sim tok/s':>11}")
    for name, loops, gen, policy, full in CASES:
        model = load_model(name)
        if model.is_looped:
            model = configure_model(model, loops=loops)
        start = time.perf_counter()
        result = simulate(model, hardware, phase="decode", prompt_len=512, gen_len=gen, policy=policy,
                          full_loops=full)
        wall = time.perf_counter() - start
        print(f"{name:<14}{loops:>6}{gen:>8}{policy:>8}{str(full):>6}{wall:>9.3f}"
              f"{result.totals['tokens_per_s']:>11.2f}")
    print(f"\nload average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
