"""The discrete-event accelerator simulator: `simulate(model or trace, hardware, ...)`."""

from hwsim.sim.engine import simulate

__all__ = ["simulate"]
