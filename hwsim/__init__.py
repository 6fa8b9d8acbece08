"""hwsim: a hardware simulator and design-space explorer for looped and standard transformers.

The Python API (docs/api.md shows it in use, as a notebook would):

    load_model(name_or_path, overrides=None)        -> ModelSpec (a preset, YAML, or HF config.json)
    load_hardware(name_or_path, overrides=None)     -> HardwareSpec (calibrated)
    configure_model(model, loops=, quant=, kv_policy=, kv_last_k=) -> a validated variant
    build_trace(model, phase, batch, context_len)   -> OpTrace DataFrame (one row per op)
    simulate(model, hardware, phase=, prompt_len=, gen_len=, ...) -> SimResult (totals, ops, timeline)
    load_sweep(name_or_path) / run_sweep(spec, out_dir, ...)    -> one tidy row per design point
    list_presets(kind)                              -> preset names ("model", "hardware", "sweep", "report")

Every error a user can cause is an `HwsimError` (`ConfigError` for inputs) with a one-line
message. Names are imported on first use, so `import hwsim` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# Public name -> module that defines it.
_API = {
    "load_model": "hwsim.spec.loader",
    "load_hardware": "hwsim.spec.loader",
    "configure_model": "hwsim.spec.variants",
    "build_trace": "hwsim.workload.transformer",
    "simulate": "hwsim.sim",
    "SimResult": "hwsim.result",
    "load_sweep": "hwsim.sweep.spec",
    "run_sweep": "hwsim.sweep.run",
    "HwsimError": "hwsim.errors",
    "ConfigError": "hwsim.errors",
}

__all__ = ["ConfigError", "HwsimError", "SimResult", "__version__", "build_trace", "configure_model", "list_presets",
           "load_hardware", "load_model", "load_sweep", "run_sweep", "simulate"]

def list_presets(kind: str) -> list[str]:
    """Names of the presets of `kind` ("model", "hardware", "sweep" or "report"), the shipped
    ones and those of user directories (HWSIM_PATH), sorted."""
    from hwsim import resources
    from hwsim.errors import ConfigError

    if kind not in resources.KINDS:
        raise ConfigError(resources.unknown_name("preset kind", kind, list(resources.KINDS)))
    return sorted(resources.preset_index(kind))


def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hwsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
