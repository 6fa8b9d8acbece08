"""Hardware budget figures a sweep can constrain next to the simulation totals: `area_mm2`
(hwsim.chip's derived die area), `tdp_w` (the preset's TDP, or the derived peak power where it
states none) and `idle_w`. They depend only on the hardware, so a constraint on them is decided
before any simulation (sweep pruning)."""

from __future__ import annotations

import math

from hwsim.errors import ConfigError
from hwsim.spec.hardware import HardwareSpec

HARDWARE_TOTALS = ("area_mm2", "tdp_w", "idle_w")


def hardware_totals(hardware: HardwareSpec) -> dict[str, float]:
    """Budget figures of `hardware`; NaN area (and derived TDP) where its node has no cost figures."""
    from hwsim.chip.describe import hardware_cost

    try:
        cost, _ = hardware_cost(hardware)
    except ConfigError:
        cost = None
    tdp = hardware.power.tdp_w if hardware.power.tdp_w is not None else (cost.tdp_w if cost else math.nan)
    return {"area_mm2": cost.total_area_mm2 if cost else math.nan, "tdp_w": tdp, "idle_w": hardware.power.idle_w}
