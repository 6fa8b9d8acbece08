"""Power modes of real devices (Jetson nvpmodel 7 / 15 / 25 W): a cap below the preset's rated
power throttles every engine's clock and the DRAM and SRAM bandwidth by the DVFS factor of
hwsim.chip.model.throttle_factor (the preset's peaks are taken as its rated TDP's)."""

from __future__ import annotations

from hwsim.chip.model import throttle_factor
from hwsim.errors import ConfigError
from hwsim.spec import loader
from hwsim.spec.hardware import HardwareSpec
from hwsim import units


def throttle_hardware(hardware: HardwareSpec, cap_w: float) -> HardwareSpec:
    """`hardware` in a `cap_w` power mode: peaks and bandwidths scaled, TDP = the cap. A cap at
    or above the rated TDP changes nothing but the TDP; one at or below idle is an error."""
    power = hardware.power
    if power.tdp_w is None:
        raise ConfigError(f"hardware {hardware.name}: power.tdp: needed to apply a {cap_w:g} W power mode")
    if cap_w <= power.idle_w:
        raise ConfigError(f"hardware {hardware.name}: power mode {cap_w:g} W is not above idle {power.idle_w:g} W")
    factor = throttle_factor(cap_w, power.idle_w, power.tdp_w)
    data = hardware.model_dump(mode="json", by_alias=True)
    for engine in data["compute"].values():
        engine["peak"] = {d: units.format_si(units.parse(v, "flops_per_s") * factor, "flops_per_s")
                          for d, v in engine["peak"].items()}
        if engine.get("clock"):
            engine["clock"] = units.format_si(units.parse(engine["clock"], "hz") * factor, "hz")
    for level in data["memory"].values():
        level["bandwidth"] = units.format_si(units.parse(level["bandwidth"], "bytes_per_s") * factor, "bytes_per_s")
    data["power"]["tdp"] = units.format_si(min(cap_w, power.tdp_w), "w")
    data["name"] = f"{hardware.name}@{cap_w:g}W"
    return loader.validate(HardwareSpec, data, f"hardware {hardware.name} at {cap_w:g} W")
