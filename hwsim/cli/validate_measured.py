"""`hwsim validate measured` and `hwsim calibrate measured`: the simulator against published
measurements, and the efficiency fit that comes from them."""

from __future__ import annotations

from pathlib import Path

import click

DEFAULT_CSV = "validation/measured.csv"   # in the shipped data tree (hwsim.resources)
DEFAULT_CALIBRATION = "configs/calibration.yaml"
# `calibrate measured` writes into the working directory by default, so a tour leaves the shipped
# calibration alone; `--out configs/calibration.yaml` in a checkout refits the shipped one.
DEFAULT_CALIBRATION_OUT = "calibration.yaml"

csv_option = click.option("--csv", "csv_path", default=None, metavar="FILE",
                          help=f"Measured rows (same columns as {DEFAULT_CSV}).")
mapping_option = click.option("--mapping", "mapping_path", default=None, metavar="FILE",
                              help="String -> preset table (default validation/mapping.yaml).")
engine_option = click.option("--engine", type=click.Choice(["roofline", "des"]), default="roofline",
                             show_default=True, help="Simulator engine used for every prediction.")


def _cases(csv_path, mapping_path, subset):
    from hwsim.resources import data_path
    from hwsim.validation.mapping import MAPPING_PATH, load_mapping, map_rows
    from hwsim.validation.measured import load_measured
    from hwsim.validation.run import fast_subset

    frame = load_measured(csv_path or data_path(DEFAULT_CSV))
    cases, unmapped = map_rows(frame, load_mapping(mapping_path or MAPPING_PATH))
    if subset == "fast":
        cases = fast_subset(cases)
    return cases, unmapped


def _echo_summary(frame, unmapped, show_rows: str | None):
    from hwsim.validation.report import format_table, mape_table, rows_table

    if show_rows:
        click.echo(f"Predicted vs measured ({show_rows}):")
        click.echo(rows_table(frame, show_rows))
        click.echo("")
    click.echo("MAPE per metric:")
    click.echo(format_table(mape_table(frame, ["metric"])))
    click.echo("\nMAPE per hardware class and phase:")
    click.echo(format_table(mape_table(frame, ["class", "group"])))
    click.echo(f"\n{len(frame[frame['mode'] == 'preset'])} rows compared; {len(unmapped)} unmapped (listed with the reason):")
    for row in unmapped:
        click.echo(f"  {row.id}: {row.reason}")


@click.command("measured")
@csv_option
@mapping_option
@click.option("--plot", "plot_path", default=None, metavar="FILE", help="Write a log-log PNG here.")
@click.option("--subset", type=click.Choice(["all", "fast"]), default="all", show_default=True,
              help="fast: a fixed handful of devices (CI).")
@click.option("--calibration", "calibration_path", default=None, metavar="FILE",
              help=f"Calibration to apply (default {DEFAULT_CALIBRATION}; fitted in-sample if absent).")
@click.option("--held-out/--no-held-out", default=True, show_default=True,
              help="Also predict each device from a calibration fitted without it.")
@engine_option
def validate_measured(csv_path, mapping_path, plot_path, subset, calibration_path, held_out, engine):
    """Predicted vs measured for every mappable row, with MAPE per metric and hardware class."""
    from hwsim.calibration import CALIBRATION_PATH, load_calibration
    from hwsim.validation.report import plot
    from hwsim.validation.run import validate

    cases, unmapped = _cases(csv_path, mapping_path, subset)
    if not cases:
        from hwsim.errors import ConfigError

        raise ConfigError(f"{csv_path or DEFAULT_CSV}: no row could be mapped to presets ({len(unmapped)} unmapped)")
    calibration = load_calibration(calibration_path or CALIBRATION_PATH) or None
    if subset == "fast":
        calibration = None  # the stored fit saw every device; the subset is judged on its own fit
    frame, _ = validate(cases, engine=engine, calibration=calibration, held_out=held_out)
    _echo_summary(frame, unmapped, "held_out" if held_out else "calibrated")
    if plot_path:
        modes = ["preset", "calibrated"] + (["held_out"] if held_out else [])
        click.echo(f"\nplot: {plot(frame, plot_path, modes)}")


@click.command("measured")
@csv_option
@mapping_option
@click.option("--out", "out_path", default=DEFAULT_CALIBRATION_OUT, show_default=True, metavar="FILE",
              help=f"Where to write the calibration YAML ({DEFAULT_CALIBRATION} in a checkout refits the "
                   "shipped one).")
@engine_option
def calibrate_measured(csv_path, mapping_path, out_path, engine):
    """Fit DRAM and matrix efficiencies per preset and per device class from measured rows."""
    import yaml

    from hwsim.validation.fit import implied_efficiencies
    from hwsim.validation.run import validate

    cases, unmapped = _cases(csv_path, mapping_path, "all")
    implied = implied_efficiencies(cases, engine)
    frame, fitted = validate(cases, engine=engine, held_out=True, implied=implied)
    fitted["provenance"] = (f"{fitted['provenance']}: {len(implied)} rows of {csv_path or DEFAULT_CSV} "
                            f"(engine {engine}); regenerate with `hwsim calibrate measured --out {DEFAULT_CALIBRATION}`")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = ("# Generated by `hwsim calibrate measured`; do not edit by hand.\n"
              "# Efficiencies are fractions of the preset's peak (DRAM bandwidth, matrix FLOP/s).\n")
    out.write_text(header + yaml.safe_dump(fitted, sort_keys=False, width=110))
    _echo_summary(frame, unmapped, None)
    click.echo(f"\nwrote {out} ({len(fitted['presets'])} presets, {len(fitted['classes'])} classes)")
