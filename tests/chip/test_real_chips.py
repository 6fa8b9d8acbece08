"""Derived die area against published die area, and the area/power breakdown of presets."""


import pytest
import yaml
from click.testing import CliRunner

from hwsim.chip import ChipParams, chip_cost
from hwsim.chip.describe import hardware_cost
from hwsim.chip.powermode import throttle_hardware
from hwsim.cli import main
from hwsim.errors import ConfigError
from hwsim.spec import loader

REFERENCE = yaml.safe_load((loader.REPO_ROOT / "configs" / "chip_costs" / "reference_chips.yaml").read_text())["chips"]
# Chips whose published die holds only the blocks hwsim.chip models (no CPU clusters / GPU / ISP).
WHOLE_DIE = ["nvidia-ga100", "groq-tsp-v1"]
# Presets of real products with a published die area (the presets enable 108 of GA100's 128 SMs
# and 132 of GH100's 144): GA100 826 mm2 (TechPowerUp), GH100 814 mm2 (NVIDIA H100 Tensor Core
# GPU Architecture whitepaper, 2022).
PRESET_DIES = {"a100-sxm-80gb": 826, "h100-sxm": 814}


@pytest.mark.parametrize("name", WHOLE_DIE)
def test_reference_chip_area_within_30_percent(name):
    entry = REFERENCE[name]
    area = chip_cost(ChipParams(**entry["params"])).total_area_mm2
    assert area == pytest.approx(entry["die_mm2"], rel=0.30)


def test_soc_reference_is_flagged():
    """A reference chip outside the whole-die list says why (an SoC with unmodelled blocks)."""
    for name, entry in REFERENCE.items():
        assert name in WHOLE_DIE or entry.get("soc_note")


@pytest.mark.parametrize("preset, die_mm2", PRESET_DIES.items())
def test_preset_area_within_30_percent(load_hardware, preset, die_mm2):
    cost, _ = hardware_cost(load_hardware(preset))
    assert cost.total_area_mm2 == pytest.approx(die_mm2, rel=0.30)


@pytest.mark.parametrize("preset", ["h100-sxm", "jetson-orin-nano", "edge-npu"])
def test_show_prints_area_and_power_breakdown(preset):
    result = CliRunner().invoke(main, ["show", preset])
    assert result.exit_code == 0, result.output
    for item in ("area.mac_array", "area.sram", "area.total", "power.static.sram_leakage", "power.peak.dram",
                 "power.derived_tdp", "energy.sram_access"):
        assert item in result.output


def test_jetson_super_throttled_to_15_w_runs_at_the_original_clock(load_hardware):
    """Orin Nano Super (25 W, 1.02 GHz) capped at 15 W lands on the 15 W preset's 0.625 GHz
    (the clock exponent was derived from these two modes: a consistency check)."""
    capped = throttle_hardware(load_hardware("jetson-orin-nano-super"), 15)
    assert capped.matrix.clock == pytest.approx(load_hardware("jetson-orin-nano").matrix.clock, rel=0.02)
    assert capped.power.tdp_w == 15
    seven = throttle_hardware(load_hardware("jetson-orin-nano"), 7)
    assert seven.dram.bandwidth_bytes_per_s < load_hardware("jetson-orin-nano").dram.bandwidth_bytes_per_s
    with pytest.raises(ConfigError, match="not above idle"):
        throttle_hardware(load_hardware("jetson-orin-nano"), 2)
