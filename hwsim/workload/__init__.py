"""Workloads: from a ModelSpec to the OpTrace the simulator consumes."""
