"""Design-space sweeps: axes as data -> validated points -> parallel, resumable runs -> tidy
results, Pareto fronts and sensitivity tables.

    from hwsim.sweep import load_sweep, run_sweep
    frame = run_sweep(load_sweep("loop-quant-orin"), "reports/sweeps/loop-quant-orin")
"""

from hwsim.sweep.analysis import pareto_front, sensitivity
from hwsim.sweep.run import run_sweep
from hwsim.sweep.spec import SweepSpec, load_sweep, resolve_points

__all__ = ["SweepSpec", "load_sweep", "pareto_front", "resolve_points", "run_sweep", "sensitivity"]
