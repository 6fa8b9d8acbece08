"""Achievable fraction of a matrix engine's peak, by GEMM size and dtype.

A single fraction per engine cannot describe a runtime whose small GEMMs and large GEMMs run
different kernels: llama.cpp reaches ~14% of H100 tensor peak in prefill while its decode GEMVs
stay bandwidth-bound, and cuBLAS reaches ~94% of A100 peak on large GEMMs but a few percent on
tiny ones. An engine's `efficiency_curve` (hwsim.spec.hardware.EfficiencyCurve, per dtype or
`any`) gives the fraction as a function of size, piecewise-linear in log2(size) and flat beyond
its end points; an engine without one uses its scalar `efficiency` at every size. Which curve
an engine uses for a dtype is hwsim.cost.datapath's choice (curve_for, matrix_efficiency).
"""

from __future__ import annotations

import numpy as np

from hwsim.spec.hardware import EfficiencyCurve


def curve_fraction(curve: EfficiencyCurve, size) -> np.ndarray:
    """The curve's fraction at `size` (array): linear in log2(size) between points, flat beyond."""
    sizes = np.log2([s for s, _ in curve.points])
    fractions = np.array([f for _, f in curve.points])
    return np.interp(np.log2(np.maximum(np.asarray(size, dtype=float), 1.0)), sizes, fractions)


def gemm_size(curve: EfficiencyCurve, flops, m) -> np.ndarray:
    """What the curve's size axis counts for GEMMs of `flops` FLOPs and `m` rows."""
    return np.asarray(m if curve.size == "rows" else np.asarray(flops, dtype=float) / 2.0, dtype=float)
