"""A preset (HardwareSpec) read back as chip parameters, so every device gets an area and power
breakdown: MAC count from its matrix peak and clock, vector lanes from its vector peak, SRAM
from its on-chip level, DRAM channels from its bandwidth. What a preset does not say is filled
with the class's typical organisation (stated in ASSUMPTIONS and printed with the breakdown)."""

from __future__ import annotations

import json
import math

from hwsim.chip.costs import load_costs
from hwsim.chip.model import ChipCost, chip_cost
from hwsim.chip.params import CHIP_NOTE, ChipParams
from hwsim.spec.hardware import HardwareSpec

GPU_CLASSES = ("datacenter_gpu", "consumer_gpu", "edge_gpu", "apple_gpu")
CACHE_CLASSES = GPU_CLASSES + ("cpu",)
GPU_BASE_ORDER = ("fp16", "bf16", "int8", "fp8", "int4", "fp4", "fp32")
NPU_BASE_ORDER = ("int8", "fp8", "int4", "fp4", "fp16", "bf16", "fp32")
DEFAULT_CLOCK_HZ = 1e9
ASSUMPTIONS = {
    "gpu": "GPU: fp16 MAC units in 16x8 mma tiles (Ampere mma.m16n8k16), 448 B of register file + L1 per MAC "
           "(A100: 256 KB + 192 KB per SM for 1024 fp16 MACs, NVIDIA A100 whitepaper); SRAM level is a cache",
    "npu": "NPU: int8 MAC units (other formats at their peak ratios) in square arrays up to 128x128 "
           "(TPU-style); SRAM level is a scratchpad",
    "clock": "no clock in the preset: 1 GHz assumed for the MAC count",
}


def params_from_hardware(hardware: HardwareSpec) -> tuple[ChipParams, list[str]]:
    """(chip parameters, assumptions used) for a preset; a chip built by hwsim.chip gives back
    the parameters it was built from."""
    if hardware.notes.startswith(CHIP_NOTE):
        return (ChipParams.model_validate(json.loads(hardware.notes[len(CHIP_NOTE):])),
                ["built from chip parameters (hwsim.chip): priced from them, not read back from its peaks"])
    matrix = hardware.matrix
    notes = [ASSUMPTIONS["gpu" if hardware.device_class in GPU_CLASSES else "npu"]]
    clock = matrix.clock
    if clock is None:
        clock = DEFAULT_CLOCK_HZ
        notes.append(ASSUMPTIONS["clock"])
    order = GPU_BASE_ORDER if hardware.device_class in CACHE_CLASSES else NPU_BASE_ORDER
    base = next(d for d in order if d in matrix.peak)
    macs = max(1, round(matrix.peak[base] / (2 * clock)))
    if hardware.device_class in GPU_CLASSES:
        rows, cols = 16, 8
    else:
        rows = cols = min(128, max(1, int(math.sqrt(macs))))
    arrays = max(1, round(macs / (rows * cols)))
    vector = next((e for e in hardware.compute.values() if e.kind == "vector"), None)
    lanes = round(vector.peak["fp32"] / (2 * clock)) if vector is not None and "fp32" in vector.peak else 0
    sram = hardware.sram
    dram = hardware.dram
    channels = 0
    if dram is not None:
        per_channel = load_costs().dram_type(dram.type).bandwidth_bytes_per_s
        channels = max(1, round(dram.bandwidth_bytes_per_s / per_channel))
    params = ChipParams(
        name=hardware.name, device_class=hardware.device_class, node=hardware.process_node, clock=f"{clock} Hz",
        mac_arrays=arrays, mac_rows=rows, mac_cols=cols, mac_format=base,
        formats={d: r / matrix.peak[base] for d, r in matrix.peak.items() if d != base},
        vector_lanes=lanes, sram=f"{sram.capacity_bytes if sram else 0} B",
        sram_style="cache" if hardware.device_class in CACHE_CLASSES else "scratchpad",
        local_buffer_per_mac="448 B" if hardware.device_class in GPU_CLASSES else "0 B",
        dram_type=dram.type if dram is not None else None, dram_channels=channels,
        dram_capacity=f"{dram.capacity_bytes if dram else 0} B", source=hardware.source)
    return params, notes


def hardware_cost(hardware: HardwareSpec) -> tuple[ChipCost, list[str]]:
    params, notes = params_from_hardware(hardware)
    return chip_cost(params), notes


def breakdown_rows(hardware: HardwareSpec) -> tuple[list[list[str]], list[str]]:
    """Rows (item, value, detail) of the area and power breakdown `hwsim show` prints."""
    cost, notes = hardware_cost(hardware)
    return cost_rows(cost, hardware), notes


def cost_rows(cost: ChipCost, hardware: HardwareSpec) -> list[list[str]]:
    """Breakdown rows of `cost`, with the running power `hardware` is priced at."""
    from hwsim.cost.energy import active_power_w
    from hwsim.units import human

    p = cost.params
    total = cost.total_area_mm2
    rows = [[f"area.{name}", f"{mm2:.1f} mm2", f"{100 * mm2 / total:.0f}%"]
            for name, mm2 in cost.area_mm2.items() if name != "total" and mm2 > 0]
    rows.append(["area.total", f"{total:.1f} mm2",
                 f"{p.macs:,} {p.mac_format} MACs, {p.dram_channels} x {p.dram_type} channels"
                 if p.dram_type else f"{p.macs:,} {p.mac_format} MACs, no DRAM"])
    rows += [[f"power.static.{name}", human(w, "W"), ""] for name, w in cost.static_w.items()]
    rows += [[f"power.peak.{name}", human(w, "W"), "at full rate"] for name, w in cost.peak_dynamic_w.items()]
    rows.append(["power.derived_tdp", human(cost.tdp_w, "W"),
                 f"preset TDP {human(hardware.power.tdp_w, 'W') if hardware.power.tdp_w else 'n/a'}"])
    rows.append(["power.running", f"idle {human(hardware.power.idle_w, 'W')}",
                 f"+ active {human(active_power_w(hardware), 'W')} + action energies"])
    rows.append(["energy.sram_access", f"{cost.sram_energy_j_per_byte / 8 * 1e12:.3f} pJ/bit",
                 human(p.sram_bytes, "B") + f" {p.sram_style}"])
    rows.append(["energy.operand_delivery", f"{cost.operand_j_per_mac * 1e12:.3f} pJ/MAC",
                 f"{p.mac_rows}x{p.mac_cols} arrays"])
    return rows
