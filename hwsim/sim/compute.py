"""Compute engines of the simulated device: which lane runs an op and for how long.

GEMM kinds run on the matrix engine (or, where faster, as GEMV kernels on the vector engine),
everything else (softmax, norms, activations, adds) on the vector engine. How long an op
computes comes from `hwsim.cost.op_cost.demand_compute_seconds`, the one definition shared with
the closed-form engine and its floor, so the two cannot disagree; the datapath choices behind it
(row padding, GEMV path, where weights are unpacked, grouped MoE launches) are in
hwsim.cost.datapath.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwsim.cost import datapath, op_cost
from hwsim.spec.hardware import HardwareSpec

MATRIX, VECTOR, DMA = "matrix", "vector", "dma"   # timeline lanes


@dataclass(frozen=True)
class OpCompute:
    """Per-op compute costs (arrays aligned with the trace rows)."""

    is_matrix: np.ndarray      # bool: runs on the matrix engine
    compute_s: np.ndarray      # engine busy time for the op's FLOPs
    dequant_s: np.ndarray      # vector-engine time unpacking the op's weights (0 without dequant)
    dequant_flops: np.ndarray
    launch_s: np.ndarray       # dispatch cost per op (grouped MoE experts share one launch)
    dtype: str                 # the dtype the matrix engine runs at


def op_compute(demand: op_cost.TraceDemand, hardware: HardwareSpec) -> OpCompute:
    """Compute costs of every op of a trace's demand (op_cost.trace_demand: the compute dtype,
    and whether weights are unpacked to it, come from the QuantSpec or the trace's bit columns)."""
    compute_s = op_cost.demand_compute_seconds(demand, hardware)
    dequant_s = np.asarray(op_cost.dequant_seconds(demand.dequant_elements, hardware), dtype=float)
    return OpCompute(demand.is_gemm, np.asarray(compute_s, dtype=float), dequant_s.reshape(len(demand.flops)),
                     np.asarray(op_cost.dequant_flops(demand.dequant_elements, hardware), dtype=float),
                     datapath.launch_seconds(demand.grouped_followers, hardware), demand.dtype)
