"""Hypothetical chips with a cost: a few design parameters (node, MAC array, SRAM, DRAM channels,
clock, power mode) -> peak rates and bandwidths, die area, SRAM energy and leakage, operand
delivery energy and static power, and a HardwareSpec the simulator runs.

Figures come from configs/chip_costs/costs.yaml (each with its source); per-MAC and per-FLOP
energies from configs/energy/<node>.yaml, the tables the simulator prices actions with.
"""

from hwsim.chip.params import ChipParams
from hwsim.chip.model import ChipCost, chip_cost, build_hardware

__all__ = ["ChipParams", "ChipCost", "chip_cost", "build_hardware"]
