"""Simulating a model on a device: `simulate(model or trace, hardware, engine=...)` (either
engine, one SimResult) and `roofline_totals` (the closed-form engine's totals alone)."""

from hwsim.sim.run import roofline_totals, roofline_totals_batch, simulate

__all__ = ["roofline_totals", "roofline_totals_batch", "simulate"]
