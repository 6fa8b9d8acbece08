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


NAMES = ("Ouro-1.4B", "Qwen3-4B", "ouro-1.4b", "qwen3-4b")


def _numbers(text: str) -> set[str]:
    """Every number in `text` (model names aside), as written."""
    import re

    for name in NAMES:
        text = text.replace(name, "")
    return set(re.findall(r"\d[\d,]*(?:\.\d+)?", text.replace(", ", " ")))


def _residency(label, sram, largest, ouro, qwen, held="none fits", held_tok="-", held_j="-"):
    wins = "yes" if float(ouro) > float(qwen) else "no"
    held_wins = "yes" if held_tok != "-" and float(held_tok) > float(qwen) else "no"
    return [label, "607", sram, largest, "yes" if float(sram) >= 607 else "no", ouro, qwen, wins, held, held_tok,
            held_j, held_wins]


def _optimum(node, mm2, w, model, chip, tok, j):
    return [node, mm2, w, model, chip, "55%", "5%", "25%", "14%", "0.53 GHz", "33.0", tok, j, "5.29"]


def test_conclusion_states_each_budget_and_quotes_only_table_cells():
    from hwsim.chip.report import _conclusion

    rows = [_residency("7nm 25 mm2 2 W", "0", "33", "6.91", "11.2"),
            _residency("5nm 25 mm2 2 W", "0", "44", "7.5", "12.1"),
            _residency("5nm 400 mm2 10 W", "0", "775", "39.1", "51.1", "98,304 MACs, 640 MiB, 8 ch", "13.6", "0.399")]
    optima = [_optimum("7nm", "25", "2", "ouro-1.4b", "32,768 MACs, 0 MiB, 8 ch", "6.91", "0.201"),
              _optimum("7nm", "25", "2", "qwen3-4b", "32,768 MACs, 0 MiB, 8 ch", "11.2", "0.155"),
              _optimum("5nm", "25", "2", "ouro-1.4b", "16,384 MACs, 4 MiB, 4 ch", "7.5", "0.19"),
              _optimum("5nm", "25", "2", "qwen3-4b", "16,384 MACs, 0 MiB, 4 ch", "12.1", "0.14"),
              _optimum("5nm", "400", "10", "ouro-1.4b", "180,224 MACs, 0 MiB, 8 ch", "39.1", "0.166"),
              _optimum("5nm", "400", "10", "qwen3-4b", "180,224 MACs, 0 MiB, 8 ch", "51.1", "0.128")]
    paragraphs = _conclusion(rows, optima)
    text = " ".join(paragraphs)
    cells = set().union(*(_numbers(cell) for row in rows + optima for cell in row))
    assert _numbers(text) <= cells
    assert "In 7nm" in text and "no chip can hold it: the most SRAM that fits is 33 MiB" in text
    assert "a chip holding it first fits at 5nm 400 mm2 10 W" in text and "13.6 tok/s and 0.399 J/token" in text
    assert "No chip holding it beats Qwen3-4B" in text and "slower than Qwen3-4B at every 5nm budget" in text
    budget_lines = paragraphs[-1].splitlines()[1:]
    assert len(budget_lines) == 3   # one per budget, both models, area split, tok/s and J/token
    for line, (lo, st) in zip(budget_lines, zip(optima[::2], optima[1::2])):
        for cell in (lo[4], lo[5], lo[6], lo[7], lo[11], lo[12], st[4], st[11], st[12]):
            assert cell in line


def test_conclusion_names_where_the_block_is_resident_and_wins():
    from hwsim.chip.report import _conclusion

    rows = [_residency("5nm 200 mm2 5 W", "0", "385", "20", "28"),
            _residency("5nm 400 mm2 5 W", "640", "775", "30.5", "28", "65,536 MACs, 640 MiB, 8 ch", "30.5", "0.2")]
    optima = [_optimum("5nm", "200", "5", "ouro-1.4b", "a", "20", "0.2"),
              _optimum("5nm", "200", "5", "qwen3-4b", "b", "28", "0.1"),
              _optimum("5nm", "400", "5", "ouro-1.4b", "c", "30.5", "0.2"),
              _optimum("5nm", "400", "5", "qwen3-4b", "d", "28", "0.1")]
    text = " ".join(_conclusion(rows, optima))
    assert "is first resident at 5nm 400 mm2 5 W" in text
    assert "Ouro-1.4B first beats Qwen3-4B at 5nm 400 mm2 5 W (30.5 against 28 tok/s" in text


def test_holding_search_only_takes_chips_that_hold_the_block():
    budget, run = C.Budget("5nm", 400, 10), C.Run()
    chips = [p for p in C.candidates(budget, run) if p.sram_bytes >= 600 * 2 ** 20]
    assert chips and all(chip_cost(p).total_area_mm2 <= 400 for p in chips)
    assert C.best_chip(C.Budget("7nm", 400, 10), "ouro-1.4b", run, engine="roofline",
                       min_sram_bytes=607 * 2 ** 20).params is None   # 602 MiB fits at 7nm, not 607


def test_a_larger_budget_keeps_the_smaller_ones_grid_points():
    run = C.Run()
    small = {(p.sram_bytes, p.dram_channels, p.mac_arrays) for p in C.candidates(C.Budget("5nm", 50, 10), run)}
    large = {(p.sram_bytes, p.dram_channels, p.mac_arrays) for p in C.candidates(C.Budget("5nm", 100, 10), run)}
    assert {k for k in small if k[2] in C.ARRAY_COUNTS} <= large


@pytest.mark.slow
def test_codesign_report_runs(tmp_path):
    from hwsim.chip.report import budgets, run_report

    path, conclusion = run_report(tmp_path)
    text = open(path).read()
    assert "## Shared-block residency of the looped model" in text and conclusion
    tables = text.split("## Method")[1]
    cells = set().union(*(_numbers(cell) for line in tables.splitlines() if line.startswith("|")
                          for cell in line.split("|")))
    assert _numbers(" ".join(conclusion)) <= cells
    assert len(conclusion[-1].splitlines()) == 1 + len(budgets())   # a line per budget
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


def test_holding_search_is_exact_over_its_candidates():
    """With a SRAM floor the search runs in floor order to the end: its pick is the best of an
    event simulation of every candidate that holds the SRAM and meets the power budget."""
    from hwsim.chip.model import build_hardware
    from hwsim.sim import simulate
    from hwsim.validation.predict import case_model

    budget, run, floor = C.Budget("5nm", 100, 10), C.Run(), 100 * 2 ** 20
    found = C.best_chip(budget, "qwen3-0.6b", run, min_sram_bytes=floor)
    model = case_model("qwen3-0.6b", run.quant)
    speeds, holding = [], [p for p in C.candidates(budget, run) if p.sram_bytes >= floor]
    for params in holding:
        totals = simulate(model, build_hardware(params), phase="decode", prompt_len=run.prompt_len,
                          gen_len=run.gen_len, batch=1, policy="pin", engine="des").totals
        if totals["power_w"] <= 10 * (1 + 1e-6):
            speeds.append(totals["tokens_per_s"])
    assert found.params.sram_bytes >= floor and found.simulated < len(holding)   # stopped on the floor
    assert found.totals["tokens_per_s"] == pytest.approx(max(speeds))
