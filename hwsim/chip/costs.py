"""configs/chip_costs/costs.yaml: the cost figures, validated once (units in the key names)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from hwsim.errors import ConfigError
from hwsim.spec import loader
from hwsim.spec._base import Spec

COSTS_PATH = loader.REPO_ROOT / "configs" / "chip_costs" / "costs.yaml"
COSTS_ORIGIN = "configs/chip_costs/costs.yaml"


class NodeCost(Spec):
    logic_mtr_per_mm2: float = Field(gt=0)
    sram_bitcell_um2: float = Field(gt=0)
    energy_vs_7nm: float = Field(gt=0)
    sram_leak_mw_per_mib: float = Field(ge=0)
    logic_leak_mw_per_mm2: float = Field(ge=0)
    source: str = Field(min_length=1)


class Sourced(Spec):
    value: float = Field(gt=0)
    source: str = Field(min_length=1)


class MacCost(Spec):
    area_um2_7nm_fp16: float = Field(gt=0)
    area_source: str
    format_area: dict[str, Sourced] = Field(min_length=1)
    vector_lane_area_um2_7nm: float = Field(gt=0)
    vector_source: str


class OperandCost(Spec):
    register_pj_per_bit_7nm: float = Field(gt=0)
    register_source: str
    accumulator_bits: int = Field(gt=0)
    accumulator_source: str


class SramCost(Spec):
    efficiency_large_bank: float = Field(gt=0, le=1)
    efficiency_large_source: str
    large_bank_bytes: float = Field(gt=0)
    efficiency_small_bank: float = Field(gt=0, le=1)
    small_bank_bytes: float = Field(gt=0)
    efficiency_small_source: str
    cache_area_factor: float = Field(ge=1)
    cache_source: str
    bank_pj_per_bit_32k_7nm: float = Field(gt=0)
    bank_exponent: float = Field(ge=0)
    bank_source: str
    route_pj_per_bit_per_sqrt_mib_7nm: float = Field(ge=0)
    route_source: str
    leakage_note: str
    default_bank_bytes: float = Field(gt=0)


class DramChannelCost(Spec):
    channel_bits: int = Field(gt=0)
    mt_per_s: float = Field(gt=0)
    phy_mm2: float = Field(ge=0)
    controller_mtr: float = Field(ge=0)
    background_w: float = Field(ge=0)
    source: str = Field(min_length=1)

    @property
    def bandwidth_bytes_per_s(self) -> float:
        return self.channel_bits / 8 * self.mt_per_s * 1e6


class UncoreCost(Spec):
    area_fraction: float = Field(ge=0, lt=1)
    area_source: str
    power_fraction_of_dynamic: float = Field(ge=0)
    power_source: str
    note: str = ""


class PowerModeCost(Spec):
    clock_exponent: float = Field(ge=1)
    source: str = Field(min_length=1)


class ChipCosts(Spec):
    source: str
    nodes: dict[str, NodeCost] = Field(min_length=1)
    mac: MacCost
    operand: OperandCost
    sram: SramCost
    dram: dict[str, DramChannelCost] = Field(min_length=1)
    uncore: UncoreCost
    power_mode: PowerModeCost

    def node(self, name: str) -> NodeCost:
        if name not in self.nodes:
            raise ConfigError(f"{COSTS_ORIGIN}: nodes: no cost figures for {name!r} "
                              f"(known: {', '.join(self.nodes)})")
        return self.nodes[name]

    def dram_type(self, name: str) -> DramChannelCost:
        found = next((value for key, value in self.dram.items() if key.lower() == name.lower()), None)
        if found is None:
            raise ConfigError(f"{COSTS_ORIGIN}: dram: no channel figures for {name!r} "
                              f"(known: {', '.join(self.dram)})")
        return found

    def format_area(self, dtype: str) -> float:
        if dtype not in self.mac.format_area:
            raise ConfigError(f"{COSTS_ORIGIN}: mac.format_area: no area factor for {dtype!r}")
        return self.mac.format_area[dtype].value


@lru_cache(maxsize=1)
def load_costs() -> ChipCosts:
    return loader.validate(ChipCosts, loader.read_document(COSTS_PATH), COSTS_ORIGIN)
