"""Cost formulas of a chip: area, SRAM energy and leakage, operand delivery, static and peak
power, and the HardwareSpec the simulator runs (throttled to the chip's power mode).

Every formula is a plain function of the cost table (configs/chip_costs/costs.yaml) so each can
be checked by hand: tests/chip/test_formulas.py does so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hwsim import units
from hwsim.chip.costs import ChipCosts, load_costs
from hwsim.chip.params import CHIP_NOTE, ChipParams
from hwsim.errors import ConfigError

MIB_BITS = 2 ** 20
DTYPE_BITS = {"fp32": 32, "bf16": 16, "fp16": 16, "int16": 16, "fp8": 8, "int8": 8, "int4": 4, "fp4": 4}
REFERENCE_NODE = "7nm"       # the node the per-MAC and SRAM-energy anchors were taken at
LOCAL_BANK_BYTES = 32 * 1024  # register file / L1 bank size
SRAM_BYTES_PER_BANK_CYCLE = 64  # one 512-bit access per bank and cycle (the CACTI runs' word)


# --- area ------------------------------------------------------------------------------------

def logic_scale(node: str, costs: ChipCosts | None = None) -> float:
    """Logic area at `node` relative to 7nm (inverse transistor density)."""
    costs = costs or load_costs()
    return costs.node(REFERENCE_NODE).logic_mtr_per_mm2 / costs.node(node).logic_mtr_per_mm2


def mac_area_mm2(macs: int, dtype: str, node: str, costs: ChipCosts | None = None) -> float:
    """Area of `macs` array MACs of `dtype` (pipeline registers, accumulators, wiring included)."""
    costs = costs or load_costs()
    return macs * costs.mac.area_um2_7nm_fp16 * costs.format_area(dtype) * logic_scale(node, costs) * 1e-6


def vector_area_mm2(lanes: int, node: str, costs: ChipCosts | None = None) -> float:
    costs = costs or load_costs()
    return lanes * costs.mac.vector_lane_area_um2_7nm * logic_scale(node, costs) * 1e-6


def sram_efficiency(bank_bytes: float, costs: ChipCosts | None = None) -> float:
    """Fraction of a macro that is bitcells: falls for small banks (periphery per bit grows);
    log-linear between the small- and large-bank anchors, flat outside them."""
    s = (costs or load_costs()).sram
    if bank_bytes <= s.small_bank_bytes:
        return s.efficiency_small_bank
    if bank_bytes >= s.large_bank_bytes:
        return s.efficiency_large_bank
    t = math.log(bank_bytes / s.small_bank_bytes) / math.log(s.large_bank_bytes / s.small_bank_bytes)
    return s.efficiency_small_bank + t * (s.efficiency_large_bank - s.efficiency_small_bank)


def sram_density_mib_per_mm2(node: str, bank_bytes: float, style: str = "scratchpad",
                             costs: ChipCosts | None = None) -> float:
    """Macro density: raw bitcell density x array efficiency, over the cache factor for a cache."""
    costs = costs or load_costs()
    raw = 1e6 / costs.node(node).sram_bitcell_um2 / MIB_BITS
    factor = costs.sram.cache_area_factor if style == "cache" else 1.0
    return raw * sram_efficiency(bank_bytes, costs) / factor


def sram_area_mm2(capacity_bytes: float, node: str, bank_bytes: float, style: str = "scratchpad",
                  costs: ChipCosts | None = None) -> float:
    return capacity_bytes * 8 / MIB_BITS / sram_density_mib_per_mm2(node, bank_bytes, style, costs)


# --- SRAM energy and leakage -----------------------------------------------------------------

def sram_energy_pj_per_bit(capacity_bytes: float, node: str, bank_bytes: float, style: str = "scratchpad",
                           costs: ChipCosts | None = None) -> float:
    """Read energy per bit: the bank's own access (grows as bank^0.144, TPUv4i 7nm table) plus
    the route from the bank to the port across the array, which grows with the distance, i.e.
    with sqrt(area): a bigger array costs more per access."""
    costs = costs or load_costs()
    s = costs.sram
    bank = min(bank_bytes, capacity_bytes) if capacity_bytes > 0 else bank_bytes
    scale = costs.node(node).energy_vs_7nm
    bank_pj = s.bank_pj_per_bit_32k_7nm * (bank / LOCAL_BANK_BYTES) ** s.bank_exponent * scale
    # distance per sqrt(MiB) relative to the 7nm large-bank scratchpad the CACTI fit used
    stretch = math.sqrt(sram_density_mib_per_mm2(REFERENCE_NODE, s.large_bank_bytes, "scratchpad", costs)
                        / sram_density_mib_per_mm2(node, bank, style, costs))
    route = math.sqrt(capacity_bytes / 2 ** 20) - math.sqrt(bank / 2 ** 20)
    return bank_pj + s.route_pj_per_bit_per_sqrt_mib_7nm * stretch * max(route, 0.0)


def sram_leakage_w(capacity_bytes: float, node: str, costs: ChipCosts | None = None) -> float:
    costs = costs or load_costs()
    return capacity_bytes / 2 ** 20 * costs.node(node).sram_leak_mw_per_mib * 1e-3


def operand_energy_j_per_mac(dtype: str, rows: int, cols: int, node: str,
                             costs: ChipCosts | None = None) -> float:
    """Delivering operands to one MAC: 2 operands + the accumulator through pipeline registers,
    plus the operand bits fetched from a 32 KiB local bank, shared by the array's rows and
    columns (width x (1/rows + 1/cols) bits per MAC: a 128x128 systolic array fetches little,
    a GPU mma tile of 16x8 fetches 3 bits per fp16 MAC)."""
    costs = costs or load_costs()
    width = DTYPE_BITS[dtype]
    scale = costs.node(node).energy_vs_7nm
    register_pj = (2 * width + costs.operand.accumulator_bits) * costs.operand.register_pj_per_bit_7nm * 1e-3
    fetch_pj = width * (1 / rows + 1 / cols) * costs.sram.bank_pj_per_bit_32k_7nm
    return (register_pj + fetch_pj) * scale * 1e-12


# --- the whole chip --------------------------------------------------------------------------

@dataclass(frozen=True)
class ChipCost:
    """Derived figures of one chip (SI units; areas in mm2)."""

    params: ChipParams
    area_mm2: dict[str, float]      # component -> mm2, incl. "uncore"; total under "total"
    static_w: dict[str, float]      # sram_leakage, logic_leakage, dram_background
    peak_dynamic_w: dict[str, float]  # mac, operand, vector, sram, dram, uncore at full rate
    clock_hz: float                 # after the power-mode throttle
    throttle: float                 # clock and DRAM-bandwidth factor the power mode imposes
    dram_bandwidth_bytes_per_s: float
    sram_bandwidth_bytes_per_s: float
    sram_energy_j_per_byte: float
    operand_j_per_mac: float

    @property
    def total_area_mm2(self) -> float:
        return self.area_mm2["total"]

    @property
    def idle_w(self) -> float:
        return sum(self.static_w.values())

    @property
    def active_w(self) -> float:
        """Uncore (clocks, NoC, controllers) drawn while running, beyond the action energies."""
        return self.peak_dynamic_w["uncore"]

    @property
    def tdp_w(self) -> float:
        return self.idle_w + sum(self.peak_dynamic_w.values())


def chip_cost(params: ChipParams, costs: ChipCosts | None = None) -> ChipCost:
    """Area, static power and peak power of `params`; with a power mode, clock and DRAM bandwidth
    scale by the factor that brings peak power to the cap (dynamic power ~ clock)."""
    costs = costs or load_costs()
    node = costs.node(params.node)
    bank = params.sram_bank or costs.sram.default_bank_bytes
    dram = costs.dram_type(params.dram_type) if params.dram_type and params.dram_channels else None
    area = {
        "mac_array": mac_area_mm2(params.macs, params.mac_format, params.node, costs),
        "vector": vector_area_mm2(params.vector_lanes, params.node, costs),
        "sram": sram_area_mm2(params.sram_bytes, params.node, bank, params.sram_style, costs),
        "local_buffer": sram_area_mm2(params.local_buffer_per_mac * params.macs, params.node,
                                      LOCAL_BANK_BYTES, "cache", costs),
        "dram_phy": dram.phy_mm2 * params.dram_channels if dram else 0.0,
        "dram_controller": (dram.controller_mtr / node.logic_mtr_per_mm2 * params.dram_channels) if dram else 0.0,
    }
    core = sum(area.values())
    area["uncore"] = core * costs.uncore.area_fraction / (1 - costs.uncore.area_fraction)
    area["total"] = core + area["uncore"]
    logic_mm2 = area["mac_array"] + area["vector"] + area["dram_controller"] + area["uncore"]
    static = {
        "sram_leakage": sram_leakage_w(params.sram_bytes + params.local_buffer_per_mac * params.macs,
                                       params.node, costs),
        "logic_leakage": logic_mm2 * node.logic_leak_mw_per_mm2 * 1e-3,
        "dram_background": dram.background_w * params.dram_channels if dram else 0.0,
    }
    sram_e = sram_energy_pj_per_bit(params.sram_bytes, params.node, bank, params.sram_style, costs) * 8e-12
    operand_j = operand_energy_j_per_mac(params.mac_format, params.mac_rows, params.mac_cols, params.node, costs)
    dram_bw = dram.bandwidth_bytes_per_s * params.dram_channels if dram else 0.0
    banks = max(1, math.ceil(params.sram_bytes / bank)) if params.sram_bytes else 0
    sram_bw = banks * SRAM_BYTES_PER_BANK_CYCLE * params.clock_hz
    dynamic = _peak_dynamic(params, costs, params.clock_hz, dram_bw, sram_bw, sram_e, operand_j)
    throttle = 1.0
    if params.power_mode is not None:
        idle = sum(static.values())
        if params.power_mode <= idle:
            raise ConfigError(f"chip {params.name}: power_mode: {params.power_mode:g} W is not above the "
                              f"chip's static power {idle:.3g} W")
        throttle = throttle_factor(params.power_mode, idle, idle + sum(dynamic.values()), costs)
        dynamic = {k: v * throttle ** costs.power_mode.clock_exponent for k, v in dynamic.items()}
    return ChipCost(params=params, area_mm2=area, static_w=static, peak_dynamic_w=dynamic,
                    clock_hz=params.clock_hz * throttle, throttle=throttle,
                    dram_bandwidth_bytes_per_s=dram_bw * throttle, sram_bandwidth_bytes_per_s=sram_bw * throttle,
                    sram_energy_j_per_byte=sram_e, operand_j_per_mac=operand_j)


def throttle_factor(cap_w: float, idle_w: float, peak_w: float, costs: ChipCosts | None = None) -> float:
    """Clock factor (<= 1) that brings a device drawing `peak_w` at full clock down to `cap_w`:
    dynamic power (peak - idle) scales as clock^exponent."""
    costs = costs or load_costs()
    if peak_w <= cap_w:
        return 1.0
    return ((cap_w - idle_w) / (peak_w - idle_w)) ** (1 / costs.power_mode.clock_exponent)


def _peak_dynamic(params, costs, clock_hz, dram_bw, sram_bw, sram_j_per_byte, operand_j) -> dict[str, float]:
    """Power with every MAC busy, every vector lane busy, DRAM at full bandwidth and the SRAM
    feeding the array (operand bytes per cycle, at most its bandwidth)."""
    from hwsim.cost.energy import dram_energy, load_node

    table = load_node(params.node)
    mac_per_s = params.macs * clock_hz
    mac_w = mac_per_s * 2 * table.mac[params.mac_format].energy
    width_bytes = DTYPE_BITS[params.mac_format] / 8
    feed = params.macs * width_bytes * (1 / params.mac_rows + 1 / params.mac_cols) * clock_hz
    dram_j = 0.0
    if dram_bw:
        entry = dram_energy(params.dram_type)
        if entry is None:
            raise ConfigError(f"chip {params.name}: dram_type: no energy for {params.dram_type!r} in configs/energy/dram.yaml")
        dram_j = entry.read
    dynamic = {
        "mac": mac_w,
        "operand": mac_per_s * operand_j,
        "vector": params.vector_lanes * 2 * clock_hz * table.vector.energy,
        "sram": min(feed, sram_bw) * sram_j_per_byte,
        "dram": dram_bw * dram_j,
    }
    dynamic["uncore"] = sum(dynamic.values()) * costs.uncore.power_fraction_of_dynamic
    return dynamic


def build_hardware(params: ChipParams, costs: ChipCosts | None = None):
    """A HardwareSpec for the simulator: peaks at the (throttled) clock, SRAM priced at its
    size-dependent energy, idle = static power, active = uncore power, TDP = the power mode (or
    peak power)."""
    from hwsim.spec import loader
    from hwsim.spec.hardware import HardwareSpec

    cost = chip_cost(params, costs)

    def flops(per_cycle: float) -> str:
        return units.format_si(per_cycle * cost.clock_hz, "flops_per_s")

    matrix = {"kind": "matrix", "clock": units.format_si(cost.clock_hz, "hz"),
              "peak": {dtype: flops(2 * params.macs * rate) for dtype, rate in params.rates.items()},
              "tile_m": params.mac_rows, "source": f"hwsim.chip: {params.macs} MACs ({params.mac_format})"}
    compute = {"matrix": matrix}
    if params.vector_lanes:
        compute["vector"] = {"kind": "vector", "peak": {"fp32": flops(2 * params.vector_lanes),
                                                         "fp16": flops(4 * params.vector_lanes)},
                             "source": f"hwsim.chip: {params.vector_lanes} fp32 lanes, fp16 2x"}
    memory = {}
    if params.dram_type and params.dram_channels:
        memory["dram"] = {"kind": "dram", "type": params.dram_type, "capacity": units.format_si(params.dram_capacity, "bytes"),
                          "bandwidth": units.format_si(cost.dram_bandwidth_bytes_per_s, "bytes_per_s"),
                          "latency": "100 ns", "source": f"hwsim.chip: {params.dram_channels} x {params.dram_type} channels"}
    if params.sram_bytes:
        energy = units.format_si(cost.sram_energy_j_per_byte, "j_per_byte")
        memory["sram"] = {"kind": "sram", "type": "SRAM", "capacity": units.format_si(params.sram_bytes, "bytes"),
                          "bandwidth": units.format_si(cost.sram_bandwidth_bytes_per_s, "bytes_per_s"),
                          "latency": "2 ns", "read_energy": energy, "write_energy": energy,
                          "source": "hwsim.chip: size-dependent SRAM energy"}
    if not memory:
        raise ConfigError(f"chip {params.name}: needs SRAM or DRAM channels")
    data = {"name": params.name, "class": params.device_class, "process_node": params.node,
            "compute": compute, "memory": memory,
            "power": {"tdp": units.format_si(params.power_mode or cost.tdp_w, "w"),
                      "idle": units.format_si(cost.idle_w, "w"),
                      "active": units.format_si(cost.active_w, "w"),
                      "operand_delivery": units.format_si(cost.operand_j_per_mac / 2, "j_per_flop"),
                      "source": "hwsim.chip: static = leakage + DRAM background; active = uncore share"},
            "source": params.source, "notes": CHIP_NOTE + params.model_dump_json()}
    return loader.validate(HardwareSpec, data, f"chip {params.name}")


def hardware_from_document(data: dict, overrides: dict, source: str):
    """The HardwareSpec of a chip parameters document with `overrides` (chip field paths; the
    hardware paths `memory.sram.capacity` / `memory.dram.capacity` mean `sram` / `dram_capacity`):
    hwsim.spec.loader.load_hardware's hook. A bad field is one ConfigError naming `source`."""
    from hwsim.spec import loader

    aliases = {"memory.sram.capacity": "sram", "memory.dram.capacity": "dram_capacity"}
    data = loader.apply_overrides(data, {aliases.get(k, k): v for k, v in overrides.items()}, source)
    return build_hardware(loader.validate(ChipParams, data, source))
