"""Each chip cost formula against a hand-computed case (figures from configs/chip_costs/costs.yaml)."""

import math

import pytest

from hwsim.chip import ChipParams, build_hardware, chip_cost
from hwsim.chip import model as M
from hwsim.errors import ConfigError

RAW_7NM_MIB_PER_MM2 = 1e6 / 0.027 / 2 ** 20   # 0.027 um2 bitcell
SCRATCH_7NM = RAW_7NM_MIB_PER_MM2 * 0.40       # V-Cache efficiency


def test_mac_area_int8_at_7nm_and_5nm():
    assert M.mac_area_mm2(1000, "int8", "7nm") == pytest.approx(1000 * 1526 * 0.19e-6)
    assert M.mac_area_mm2(1000, "int8", "5nm") == pytest.approx(1000 * 1526 * 0.19e-6 * 96.3 / 138.2)
    assert M.mac_area_mm2(10, "fp32", "7nm") == pytest.approx(10 * 1526 * 5.29e-6)


def test_vector_lane_area():
    assert M.vector_area_mm2(100, "7nm") == pytest.approx(100 * 2784e-6)


def test_sram_efficiency_between_the_anchors():
    assert M.sram_efficiency(32 * 1024) == pytest.approx(0.26)
    assert M.sram_efficiency(4 * 2 ** 20) == pytest.approx(0.40)
    # 128 KiB is halfway (in log2) between 32 KiB and 512 KiB
    assert M.sram_efficiency(128 * 1024) == pytest.approx(0.33)


def test_sram_density_and_area():
    assert M.sram_density_mib_per_mm2("7nm", 2 ** 20) == pytest.approx(SCRATCH_7NM)
    assert M.sram_density_mib_per_mm2("7nm", 2 ** 20, "cache") == pytest.approx(SCRATCH_7NM / 4.38)
    # 8 MiB = 64 Mib at 14.13 Mib/mm2
    assert M.sram_area_mm2(8 * 2 ** 20, "7nm", 2 ** 20) == pytest.approx(64 / SCRATCH_7NM)
    assert 64 / SCRATCH_7NM == pytest.approx(4.53, abs=0.01)


def test_sram_energy_bank_and_route():
    bank_1mib = 0.133 * 32 ** 0.144
    assert bank_1mib == pytest.approx(0.219, abs=0.001)  # the TPUv4i 1 MB figure
    assert M.sram_energy_pj_per_bit(2 ** 20, "7nm", 2 ** 20) == pytest.approx(bank_1mib)
    # 64 MiB of 1 MiB banks: + 0.122 pJ/bit per sqrt(MiB) of route, sqrt(64) - sqrt(1) = 7
    assert M.sram_energy_pj_per_bit(64 * 2 ** 20, "7nm", 2 ** 20) == pytest.approx(bank_1mib + 0.122 * 7)
    # 5nm: bank energy x 0.8, route stretched by the smaller macro: sqrt(0.021 / 0.027)
    expected_5nm = bank_1mib * 0.8 + 0.122 * math.sqrt(0.021 / 0.027) * 7
    assert M.sram_energy_pj_per_bit(64 * 2 ** 20, "5nm", 2 ** 20) == pytest.approx(expected_5nm)


def test_sram_leakage():
    assert M.sram_leakage_w(100 * 2 ** 20, "7nm") == pytest.approx(0.37)


def test_operand_delivery_systolic_and_gpu_tile():
    # int8 128x128: (2*8 + 32) bits of registers at 1.05 fJ/bit + 8 * 2/128 bits at 0.133 pJ/bit
    assert M.operand_energy_j_per_mac("int8", 128, 128, "7nm") == pytest.approx((48 * 1.05e-3 + 8 * 2 / 128 * 0.133) * 1e-12)
    # fp16 16x8 mma tile: 16 * (1/16 + 1/8) = 3 bits fetched per MAC
    assert M.operand_energy_j_per_mac("fp16", 16, 8, "7nm") == pytest.approx((64 * 1.05e-3 + 3 * 0.133) * 1e-12)


def test_throttle_factor_dvfs():
    assert M.throttle_factor(30, 3, 25) == 1.0
    assert M.throttle_factor(15, 3, 25) == pytest.approx((12 / 22) ** (1 / 1.24))


SMALL = dict(name="small", node="7nm", clock="1 GHz", mac_rows=64, mac_cols=64, mac_format="int8",
             sram="8 MiB", dram_type="LPDDR5", dram_channels=2)


def test_chip_area_sums_components_plus_uncore():
    cost = chip_cost(ChipParams(**SMALL))
    area = cost.area_mm2
    core = sum(v for k, v in area.items() if k not in ("uncore", "total"))
    assert area["mac_array"] == pytest.approx(4096 * 1526 * 0.19e-6)
    assert area["dram_phy"] == pytest.approx(2 * 0.725)
    assert area["dram_controller"] == pytest.approx(2 * 45.2 / 96.3)
    assert area["total"] == pytest.approx(core / (1 - 0.141))
    assert cost.dram_bandwidth_bytes_per_s == pytest.approx(2 * 2 * 6400e6)
    assert cost.static_w["dram_background"] == pytest.approx(0.06)
    assert cost.static_w["sram_leakage"] == pytest.approx(8 * 3.7e-3)


def test_chip_peak_power_and_hardware_spec():
    cost = chip_cost(ChipParams(**SMALL))
    # 4096 int8 MACs at 1 GHz, 0.08 pJ per MAC (configs/energy/7nm.yaml)
    assert cost.peak_dynamic_w["mac"] == pytest.approx(4096 * 1e9 * 0.08e-12)
    assert cost.peak_dynamic_w["dram"] == pytest.approx(25.6e9 * 8 * 5e-12)
    hw = build_hardware(ChipParams(**SMALL))
    assert hw.matrix.peak["int8"] == pytest.approx(2 * 4096 * 1e9)
    assert hw.dram.bandwidth_bytes_per_s == pytest.approx(25.6e9)
    assert hw.sram.read_energy == pytest.approx(cost.sram_energy_j_per_byte)
    assert hw.power.idle_w == pytest.approx(cost.idle_w)
    assert hw.power.tdp_w == pytest.approx(cost.tdp_w)


def test_power_mode_caps_peak_power():
    free = chip_cost(ChipParams(**SMALL))
    cap = free.idle_w + 0.5 * (free.tdp_w - free.idle_w)
    capped = chip_cost(ChipParams(**SMALL, power_mode=f"{cap} W"))
    assert capped.tdp_w == pytest.approx(cap)
    assert capped.throttle == pytest.approx(0.5 ** (1 / 1.24))
    assert capped.dram_bandwidth_bytes_per_s == pytest.approx(free.dram_bandwidth_bytes_per_s * capped.throttle)
    with pytest.raises(ConfigError, match="static power"):
        chip_cost(ChipParams(**SMALL, power_mode="0.01 W"))


def test_unknown_node_names_the_file():
    with pytest.raises(ConfigError, match="configs/chip_costs/costs.yaml: nodes: .*'2nm'"):
        chip_cost(ChipParams(**{**SMALL, "node": "2nm"}))
