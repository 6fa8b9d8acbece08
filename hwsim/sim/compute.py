"""Compute engines of the simulated device: which lane runs an op and for how long.

GEMM kinds run on the matrix engine, everything else (softmax, norms, activations, adds) on the
vector engine. How long an op computes comes from `hwsim.cost.op_cost.demand_compute_seconds`,
the one definition shared with the closed-form engine and its floor, so the two cannot disagree: a GEMM whose M is
below the engine's `tile_m` runs at M / tile_m of peak (a batch-1 decode GEMV fills one row of
the tile), and M is padded to whole tiles. Weight-only quantisation that unpacks to a wider
compute type (w4a16) adds vector work proportional to the weight elements used; the engine
overlaps it with the GEMM tile by tile.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwsim.cost import op_cost
from hwsim.spec.hardware import HardwareSpec

MATRIX, VECTOR, DMA = "matrix", "vector", "dma"   # timeline lanes


@dataclass(frozen=True)
class OpCompute:
    """Per-op compute costs (arrays aligned with the trace rows)."""

    is_matrix: np.ndarray      # bool: runs on the matrix engine
    compute_s: np.ndarray      # engine busy time for the op's FLOPs
    dequant_s: np.ndarray      # vector-engine time unpacking the op's weights (0 without dequant)
    dequant_flops: np.ndarray
    launch_s: float            # fixed dispatch cost paid by every op
    dtype: str                 # the dtype the matrix engine runs at


def op_compute(demand: op_cost.TraceDemand, hardware: HardwareSpec) -> OpCompute:
    """Compute costs of every op of a trace's demand (op_cost.trace_demand: the compute dtype,
    and whether weights are unpacked to it, come from the QuantSpec or the trace's bit columns)."""
    compute_s = op_cost.demand_compute_seconds(demand, hardware)
    dequant_s = np.asarray(op_cost.dequant_seconds(demand.dequant_elements, hardware), dtype=float)
    return OpCompute(demand.is_gemm, np.asarray(compute_s, dtype=float), dequant_s.reshape(len(demand.flops)),
                     np.asarray(op_cost.dequant_flops(demand.dequant_elements, hardware), dtype=float),
                     hardware.overhead.op_launch_s, demand.dtype)
