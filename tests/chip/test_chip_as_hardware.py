"""A chip parameters file wherever a hardware preset goes: simulate, feasibility, sweeps (with
chip fields as axes)."""

import pytest
from click.testing import CliRunner

from hwsim.chip import build_hardware
from hwsim.chip.params import ChipParams
from hwsim.cli import main
from hwsim.errors import ConfigError
from hwsim.spec import loader
from hwsim.sweep import SweepSpec, resolve_points
from hwsim.sweep.run import simulate_totals

EXAMPLE = str(loader.REPO_ROOT / "configs" / "chips" / "edge-5nm-example.yaml")


def test_load_hardware_builds_the_chip_with_overrides():
    params = loader.validate(ChipParams, loader.read_document(EXAMPLE), "x")
    built = build_hardware(params)
    loaded = loader.load_hardware(EXAMPLE, calibrated=False)
    assert loaded == built
    bigger = loader.load_hardware(EXAMPLE, {"sram": "64 MiB", "mac_arrays": 16}, calibrated=False)
    assert bigger.memory["sram"].capacity_bytes == 64 * 2 ** 20
    assert bigger.matrix.peak["int8"] > 0 and bigger.name == "edge-5nm-example"
    # the hardware alias of --set sram=... means the chip's sram field
    assert loader.load_hardware(EXAMPLE, {"memory.sram.capacity": "32 MiB"}, calibrated=False) \
        .memory["sram"].capacity_bytes == 32 * 2 ** 20


def test_a_built_chip_is_priced_from_its_parameters_not_read_back():
    """The example's 5 W mode throttles its DRAM bandwidth to 0.42 of 4 channels' worth: read
    back from the spec it would look like 2 channels (19.5 mm2); its budget figures are its own
    (4 channels, 22.0 mm2, TDP = the power mode)."""
    from hwsim.chip import chip_cost
    from hwsim.chip.budget import hardware_totals

    params = loader.validate(ChipParams, loader.read_document(EXAMPLE), "x")
    totals = hardware_totals(loader.load_hardware(EXAMPLE))
    assert totals["area_mm2"] == pytest.approx(chip_cost(params).total_area_mm2)
    assert totals["area_mm2"] == pytest.approx(22.0, abs=0.05) and totals["tdp_w"] == 5


@pytest.mark.parametrize("overrides, fragment", [({"mac_rowz": 4}, "mac_rowz: unknown field"),
                                                 ({"sram": 64}, "sram: 64 has no unit")])
def test_bad_chip_overrides_are_one_line_errors(overrides, fragment):
    with pytest.raises(ConfigError) as info:
        loader.load_hardware(EXAMPLE, overrides)
    assert fragment in str(info.value) and "edge-5nm-example.yaml" in str(info.value)
    assert "\n" not in str(info.value)


def test_a_misspelt_chip_field_is_named(tmp_path):
    bad = tmp_path / "chip.yaml"
    bad.write_text('name: x\nnode: 7nm\nclock: "1 GHz"\nmac_row: 4\nmac_cols: 4\n')
    with pytest.raises(ConfigError, match="mac_rows: required field is missing; mac_row: unknown field"):
        loader.load_hardware(str(bad))


def test_simulate_and_feasibility_take_a_chip_file():
    run = CliRunner().invoke(main, ["simulate", "--model", "qwen3-0.6b", "--hardware", EXAMPLE, "--quant",
                                    "int4-g128", "--prompt", "16", "--gen", "2", "--engine", "roofline"])
    assert run.exit_code == 0, run.output
    assert "on edge-5nm-example" in run.output
    feasible = CliRunner().invoke(main, ["feasibility", "--model", "qwen3-0.6b", "--hardware", EXAMPLE, "--quant",
                                         "int4-g128", "--prompt-len", "16", "--gen-len", "2", "--search-quant",
                                         "int4-g128", "--target", "area_mm2<=50", "--target", "tdp_w<=5 W"])
    assert feasible.exit_code == 0, feasible.output
    assert "cheapest passing configuration: quant=int4-g128" in feasible.output


def test_sweep_axis_over_chip_parameters():
    spec = loader.validate(SweepSpec, {"name": "t", "model": "qwen3-0.6b", "hardware": EXAMPLE, "prompt_len": 16,
                                       "gen_len": 2, "axes": {"hardware.sram": ["8 MiB", "32 MiB", "128 MiB"]},
                                       "constraints": ["area_mm2 <= 60"], "objectives": {"tpot_s": "min"}}, "t")
    points = resolve_points(spec).points
    totals = [simulate_totals(p, "roofline") for p in points]
    areas = [t["area_mm2"] for t in totals]
    assert areas == sorted(areas) and areas[0] < areas[-1]
    assert [p.hardware.memory["sram"].capacity_bytes for p in points] == [m * 2 ** 20 for m in (8, 32, 128)]
    assert [c.holds(t) for c in spec.parsed_constraints for t in totals] == [True, True, False]


@pytest.mark.parametrize("engine", ["des", "roofline"])
def test_sweep_run_carries_budget_figures_through_the_batch_path(tmp_path, engine):
    """The closed forms priced per chunk (sweep/batch.py) carry area_mm2 / tdp_w / idle_w as the
    point-by-point path does: the area constraint prunes only the chip that breaks it, and an
    area objective has its column."""
    from hwsim.sweep import run_sweep

    spec = loader.validate(SweepSpec, {"name": "t", "model": "qwen3-0.6b", "hardware": EXAMPLE, "prompt_len": 16,
                                       "gen_len": 2, "axes": {"hardware.sram": ["8 MiB", "32 MiB", "128 MiB"]},
                                       "constraints": ["area_mm2 <= 60"],
                                       "objectives": {"tpot_s": "min", "area_mm2": "min"}}, "t")
    frame = run_sweep(spec, tmp_path, jobs=1, engine=engine, progress=False)
    assert frame["area_mm2"].notna().all() and frame["tdp_w"].eq(5).all()
    assert list(frame["feasible"]) == [True, True, False]
    if engine == "des":
        assert list(frame["status"]) == ["ok", "ok", "pruned"]
