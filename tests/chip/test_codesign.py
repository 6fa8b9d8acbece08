"""Iso-area / iso-power search, hardware budget constraints in sweeps, and the codesign report."""

import math

import pytest

from hwsim.chip import codesign as C
from hwsim.chip.budget import hardware_totals
from hwsim.chip.describe import hardware_cost
from hwsim.chip.model import chip_cost, mac_area_mm2, vector_area_mm2
from hwsim.spec import loader
from hwsim.sweep.constraints import parse_constraint
from hwsim.sweep.run import simulate_totals
from hwsim.sweep.spec import SweepSpec, resolve_points


def test_iso_area_candidates_fill_the_budget():
    budget = C.Budget("7nm", 25, 5)
    chips = C.candidates(budget, C.Run())
    assert chips
    per_array = mac_area_mm2(64 * 64, "int8", "7nm") + vector_area_mm2(64, "7nm")
    full = 0
    for params in chips:
        cost = chip_cost(params)
        assert cost.total_area_mm2 <= 25 * (1 + 1e-9)
        assert cost.tdp_w <= 5 * (1 + 1e-9)
        left = 25 - cost.total_area_mm2
        full += left < per_array / (1 - 0.141)   # no room for one more array (with its uncore share)
    assert full >= len({(p.sram_bytes, p.dram_channels) for p in chips})  # one full fill per SRAM x channels


def test_power_budget_below_static_power_drops_the_chip():
    # 256 MiB at 7nm leaks ~0.95 W plus logic and DRAM background: no candidate with it fits 1 W
    chips = C.candidates(C.Budget("7nm", 100, 1), C.Run())
    assert all(p.sram_bytes < 256 * 2 ** 20 for p in chips)


def test_ouro_shared_block_bytes_by_hand():
    # 24 layers of q, k, v, o (2048 x 2048) and SwiGLU (3 x 2048 x 5632) at int4-g128 (4 + 16/128 bits),
    # plus 4 rmsnorm vectors per layer at fp16 activations
    matrices = 24 * (4 * 2048 * 2048 + 3 * 2048 * 5632) * 4.125 / 8
    norms = 24 * 4 * 2048 * 2
    assert C.looped_block_bytes("ouro-1.4b", "int4-g128") == pytest.approx(matrices + norms, rel=1e-3)
    assert C.looped_block_bytes("qwen3-4b", "int4-g128") == 0.0


def test_largest_sram_fits_and_one_more_mib_does_not():
    budget, run = C.Budget("5nm", 25, 5), C.Run()
    mib = C.largest_sram_mib(budget, run)
    from hwsim.chip.params import ChipParams

    make = lambda m: ChipParams(node="5nm", clock="1 GHz", mac_rows=64, mac_cols=64, sram=f"{m} MiB",  # noqa: E731
                                dram_type="LPDDR5X", dram_channels=1)
    assert chip_cost(make(mib)).total_area_mm2 <= 25 < chip_cost(make(mib + 1)).total_area_mm2


def test_budget_constraints_parse_and_prune():
    for text in ("area_mm2 <= 50", "tdp_w <= 10", "power_w <= 5"):
        assert parse_constraint(text).prunable or text.startswith("power_w")
    with pytest.raises(ValueError, match="unknown total"):
        parse_constraint("die_mm2 <= 5")


def test_sweep_totals_carry_hardware_budget(load_hardware):
    hw = load_hardware("edge-npu")
    totals = hardware_totals(hw)
    assert totals["area_mm2"] == pytest.approx(hardware_cost(hw)[0].total_area_mm2)
    assert totals["tdp_w"] == 10 and totals["idle_w"] == 1
    spec = loader.validate(SweepSpec, {"name": "t", "model": "qwen3-0.6b", "hardware": "edge-npu", "prompt_len": 16,
                                       "gen_len": 2, "axes": {"hardware.memory.sram.capacity": ["1 MiB", "64 MiB"]},
                                       "constraints": ["area_mm2 <= 20"],
                                       "objectives": {"tpot_s": "min", "area_mm2": "min"}}, "t")
    points = resolve_points(spec).points
    small, large = (simulate_totals(p, "roofline") for p in points)
    assert small["area_mm2"] < large["area_mm2"]
    assert [c.holds(small) for c in spec.parsed_constraints] == [True]
    assert [c.holds(large) for c in spec.parsed_constraints] == [False]   # 64 MiB of SRAM: ~28 mm2 more
    assert not math.isnan(small["tdp_w"])


def test_conclusion_quotes_table_cells():
    from hwsim.chip.report import _conclusion

    rows = [["7nm 25 mm2 2 W", "607", "0", "33", "no", "6.91", "11.2", "no"],
            ["5nm 100 mm2 10 W", "607", "4", "190", "no", "37.9", "48.9", "no"]]
    top = [["5nm", "100", "10", "ouro-1.4b", "90,112 MACs, 4 MiB, 8 ch", "55%", "5%", "25%", "14%", "0.53 GHz", "33.0",
            "37.9", "0.199", "5.29"]]
    text = " ".join(_conclusion(rows, None, top))
    for cell in ("607", "190", "5nm 100 mm2 10 W", "37.9", "48.9", "4", "90,112 MACs, 4 MiB, 8 ch", "55%", "0.199"):
        assert cell in text
    assert "never becomes resident" in text


@pytest.mark.slow
def test_codesign_report_runs(tmp_path):
    from hwsim.chip.report import run_report

    path, conclusion = run_report(tmp_path)
    text = open(path).read()
    assert "## Shared-block residency of the looped model" in text and conclusion
    assert (tmp_path / "results.csv").exists()


def test_chip_codesign_cli_roofline():
    from click.testing import CliRunner

    from hwsim.cli import main

    result = CliRunner().invoke(main, ["chip", "codesign", "--model", "qwen3-0.6b", "--area", "25", "--power", "5",
                                       "--engine", "roofline"])
    assert result.exit_code == 0, result.output
    assert "7nm 25 mm2 5 W" in result.output and "MACs" in result.output


def test_chip_show_reads_a_params_file(tmp_path):
    from click.testing import CliRunner

    from hwsim.cli import main

    example = loader.REPO_ROOT / "configs" / "chips" / "edge-5nm-example.yaml"
    result = CliRunner().invoke(main, ["chip", "show", str(example)])
    assert result.exit_code == 0, result.output
    assert "area.total" in result.output and "throttled" in result.output and "power.derived_tdp" in result.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nnode: 7nm\nclock: 1\nmac_rows: 4\nmac_cols: 4\n")
    result = CliRunner().invoke(main, ["chip", "show", str(bad)])
    assert result.exit_code != 0 and "clock" in result.output and "Traceback" not in result.output
