"""Measure this machine's CPU into a HardwareSpec (class cpu), for `hwsim validate local`.

What is measured, all with NumPy (the library the reference executor runs on), best of a few
repeats so a busy moment does not lower the figure:
- matrix peak: float32 GEMM rate 2n^3 / t at a few square sizes; the best is the peak;
- vector peak: an element-wise multiply over an array that fits in cache;
- memory bandwidth: bytes read + written per second copying an array far larger than cache;
- achievable fraction of it when streaming weights: matrix bytes per second of a 1-row GEMM
  x @ W over that array (what a batch-1 decode does) divided by the copy rate; it becomes the
  DRAM level's `efficiency`, capped at 1;
- per-op overhead: the time of a tiny matmul (dispatch, not arithmetic).
Energy is not measured: power is left at zero; `process_node` and the DRAM type (which only
select energy tables) are stated assumptions.
"""

from __future__ import annotations

import datetime
import os
import time
from dataclasses import dataclass

import numpy as np

from hwsim import units

GEMM_SIZES = (256, 512, 1024)
COPY_BYTES = 256 * 10**6          # far beyond any L3 cache
VECTOR_ELEMENTS = 32 * 1024       # 128 KiB float32: stays in L1/L2
GEMV_ROWS = 4096                  # the copy buffer seen as a (4096, n) matrix for x @ W


@dataclass(frozen=True)
class LocalMeasurements:
    gemm_flops_per_s: dict[int, float]   # square size -> FLOP/s
    vector_flops_per_s: float
    copy_bytes_per_s: float
    gemv_bytes_per_s: float              # matrix bytes streamed per second by a 1-row GEMM
    op_overhead_s: float
    memory_capacity_bytes: float


def _best_seconds(run, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def measure(repeats: int = 5, copy_bytes: int = COPY_BYTES) -> LocalMeasurements:
    rng = np.random.default_rng(0)
    gemm = {}
    for n in GEMM_SIZES:
        a, b = rng.standard_normal((n, n), np.float32), rng.standard_normal((n, n), np.float32)
        gemm[n] = 2.0 * n**3 / _best_seconds(lambda: a @ b, repeats)
    x, y = rng.standard_normal(VECTOR_ELEMENTS, np.float32), rng.standard_normal(VECTOR_ELEMENTS, np.float32)
    out = np.empty_like(x)
    inner = 50
    vector = inner * VECTOR_ELEMENTS / _best_seconds(lambda: [np.multiply(x, y, out=out) for _ in range(inner)], repeats)
    source = np.ones(copy_bytes // 4, np.float32)
    target = np.empty_like(source)
    copy = 2.0 * source.nbytes / _best_seconds(lambda: np.copyto(target, source), repeats)  # noqa: F821 (del below)
    del target
    matrix = source.reshape(GEMV_ROWS, -1)
    vector_in = np.ones((1, GEMV_ROWS), np.float32)
    gemv = matrix.nbytes / _best_seconds(lambda: vector_in @ matrix, repeats)
    tiny_a, tiny_b = np.ones((1, 16), np.float32), np.ones((16, 16), np.float32)
    calls = 2000
    overhead = _best_seconds(lambda: [tiny_a @ tiny_b for _ in range(calls)], repeats) / calls
    capacity = float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    return LocalMeasurements(gemm, vector, copy, gemv, overhead, capacity)


def hardware_document(measured: LocalMeasurements, name: str = "local-cpu", process_node: str = "7nm",
                      today: datetime.date | None = None) -> dict:
    """The YAML document (unit strings) of the measured CPU."""
    stamp = f"measured on this machine by hwsim calibrate local, {(today or datetime.date.today()).isoformat()}"
    sizes = ", ".join(f"n={n}: {units.human(r, 'FLOP/s')}" for n, r in measured.gemm_flops_per_s.items())
    peak = max(measured.gemm_flops_per_s.values())
    return {
        "name": name,
        "display_name": f"This machine's CPU (NumPy float32, one BLAS thread of {os.cpu_count()})",
        "class": "cpu",
        "process_node": process_node,
        "source": stamp,
        "compute": {
            "matrix": {"kind": "matrix", "peak": {"fp32": units.format_si(peak, "flops_per_s")}, "tile_m": 1,
                       "source": f"{stamp}: best float32 NumPy GEMM rate ({sizes})"},
            "vector": {"kind": "vector", "peak": {"fp32": units.format_si(measured.vector_flops_per_s, "flops_per_s")},
                       "source": f"{stamp}: NumPy element-wise multiply over {VECTOR_ELEMENTS} in-cache floats"},
        },
        "memory": {
            "dram": {"kind": "dram", "type": "DDR4", "capacity": units.format_si(measured.memory_capacity_bytes, "bytes"),
                     "bandwidth": units.format_si(measured.copy_bytes_per_s, "bytes_per_s"),
                     "efficiency": min(1.0, measured.gemv_bytes_per_s / measured.copy_bytes_per_s),
                     "source": f"{stamp}: NumPy copy of {units.human(COPY_BYTES, 'B')} (read + write bytes / s); "
                               f"efficiency = 1-row GEMM streaming rate "
                               f"{units.human(measured.gemv_bytes_per_s, 'B/s')} / copy rate; "
                               "capacity = physical memory"},
        },
        "power": {"idle": "0 W", "source": "not measured (energy figures of this spec are not meaningful)"},
        "overhead": {"op_launch": units.format_si(measured.op_overhead_s, "s"),
                     "source": f"{stamp}: time of a 1x16 @ 16x16 NumPy matmul (per-op dispatch)"},
        "notes": f"process_node {process_node} and DRAM type DDR4 are assumptions (only energy depends on them)",
    }
