"""Stand-in evaluations for testing the sweep machinery (journal, executors, failures) apart
from the simulator; the shipped path is hwsim.sweep.run.simulate_totals."""

from hwsim.spec.derived import model_figures


def weight_streaming(point, engine):
    """Decode time = weight bytes over DRAM bandwidth (x1.25 for the 'des' engine so the
    'floor' pruning evaluates stays a lower bound); fails on batch 3 to exercise error rows."""
    if point.run.batch == 3:
        raise ValueError("batch 3 is not supported by this stand-in")
    figures = model_figures(point.model, point.model.loop.count)
    bandwidth = point.hardware.main_memory.bandwidth_bytes_per_s
    tpot_s = figures["weight_bytes"] / bandwidth * (1.25 if engine == "des" else 1.0)
    return {"tpot_s": tpot_s * point.run.batch,
            "energy_per_token_j": figures["weight_bytes"] * 1e-11 * figures["loop_count"],
            "memory_footprint_bytes": figures["weight_bytes"],
            "memory_capacity_bytes": point.hardware.main_memory.capacity_bytes,
            "fits": figures["weight_bytes"] <= point.hardware.main_memory.capacity_bytes,
            "bound": "memory"}


def slow_streaming(point, engine):
    """weight_streaming after a pause, so a sweep runs long enough to be killed mid-way."""
    import time

    time.sleep(0.2)
    return weight_streaming(point, engine)
