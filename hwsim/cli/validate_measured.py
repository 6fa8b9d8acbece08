"""`hwsim validate measured` and `hwsim calibrate measured`: the simulator against published
measurements, and the efficiency fit that comes from them."""

from __future__ import annotations

import time
from pathlib import Path

import click

from hwsim import vocab

DEFAULT_CSV = "validation/measured.csv"   # in the shipped data tree (hwsim.resources)
DEFAULT_CALIBRATION = "configs/calibration.yaml"
# Where `calibrate measured` writes without --write or --out: the current directory, so a tour
# of the commands leaves the tracked file alone.
DEFAULT_OUT = "calibration.yaml"
ENGINES = list(vocab.ENGINES)

csv_option = click.option("--csv", "csv_path", default=None, metavar="FILE",
                          help=f"Measured rows (same columns as {DEFAULT_CSV}).")
mapping_option = click.option("--mapping", "mapping_path", default=None, metavar="FILE",
                              help="String -> preset table (default validation/mapping.yaml).")


def _cases(csv_path, mapping_path, subset):
    from hwsim.resources import data_path
    from hwsim.validation.mapping import MAPPING_PATH, load_mapping, map_rows
    from hwsim.validation.measured import load_measured
    from hwsim.validation.run import fast_subset

    frame = load_measured(csv_path or data_path(DEFAULT_CSV))
    cases, unmapped = map_rows(frame, load_mapping(mapping_path or MAPPING_PATH))
    if subset == "fast":
        cases = fast_subset(cases)
    if not cases:
        from hwsim.errors import ConfigError

        raise ConfigError(f"{csv_path or DEFAULT_CSV}: no row could be mapped to presets ({len(unmapped)} unmapped)")
    return cases, unmapped


def _echo_summary(frame, unmapped, show_rows: str | None, headline_mode: str):
    from hwsim.validation.report import (INTERVAL_LEVEL, INTERVAL_RESAMPLES, format_table, headline,
                                         headline_interval, mape_table, rows_table, source_disagreement,
                                         worst_rows)

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
    click.echo(f"\nTokens/s MAPE ({headline_mode}), overall and per class x runtime:")
    click.echo(format_table(headline(frame, headline_mode)))
    intervals = headline_interval(frame, headline_mode)
    click.echo(f"{INTERVAL_LEVEL:.0%} interval of the overall figures over devices ({INTERVAL_RESAMPLES:,} "
               "resamples of the devices, with replacement): "
               + ", ".join(f"{group} {low:.1f}-{high:.1f}%" for group, (low, high) in intervals.items()))
    click.echo(f"\nLargest {headline_mode} errors:")
    click.echo(format_table(worst_rows(frame, headline_mode)))
    table, floor = source_disagreement(frame, headline_mode)
    if len(table):
        click.echo("\nSame run, different sources (measured spread; floor: the tokens/s MAPE of the best single "
                   "figure per run on its rows):")
        click.echo(format_table(table))
        click.echo("Floor of the headline MAPE from these disagreements alone: "
                   + ", ".join(f"{group} {points:.1f} points" for group, points in floor.items()))


def _echo_power(csv_path, calibration, engine: str) -> None:
    """Energy/power rows (hwsim.validation.power): board watts and J/token, held out, predicted
    with the command's engine."""
    from hwsim.resources import data_path
    from hwsim.validation.measured import load_measured
    from hwsim.validation.power import power_report

    click.echo("\n" + power_report(load_measured(csv_path or data_path(DEFAULT_CSV)), calibration, engine=engine))


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
@click.option("--engine", type=click.Choice(ENGINES), default="des", show_default=True,
              help="Engine that makes every prediction (des: the one reports, sweeps and feasibility use, "
                   "whose error the README quotes; roofline: the closed form, a few times faster).")
@click.option("--fit-engine", type=click.Choice(ENGINES), default="roofline", show_default=True,
              help="Engine the in-sample and held-out fits solve with (the closed form is ~30x faster).")
def validate_measured(csv_path, mapping_path, plot_path, subset, calibration_path, held_out, engine, fit_engine):
    """Predicted vs measured for every mappable row, with MAPE per metric, hardware class and runtime."""
    from hwsim.calibration import CALIBRATION_PATH, load_calibration
    from hwsim.validation.report import plot
    from hwsim.validation.run import validate

    started = time.perf_counter()
    cases, unmapped = _cases(csv_path, mapping_path, subset)
    calibration = load_calibration(calibration_path or CALIBRATION_PATH)
    if subset == "fast" or not calibration.presets:
        calibration = None  # the stored fit saw every device; the subset is judged on its own fit
    frame, _ = validate(cases, engine=engine, calibration=calibration, held_out=held_out, fit_engine=fit_engine)
    _echo_summary(frame, unmapped, "held_out" if held_out else "calibrated", "held_out" if held_out else "calibrated")
    _echo_power(csv_path, calibration if subset != "fast" else None, engine)
    if plot_path:
        modes = ["preset", "calibrated"] + (["held_out"] if held_out else [])
        click.echo(f"\nplot: {plot(frame, plot_path, modes)}")
    click.echo(f"\n(engine {engine}, fits solved with {fit_engine}; {time.perf_counter() - started:.0f} s)")


@click.command("measured")
@csv_option
@mapping_option
@click.option("--out", "out_path", default=None, metavar="FILE",
              help=f"Where to write the calibration YAML ('-': stdout; default ./{DEFAULT_OUT}).")
@click.option("--write", is_flag=True,
              help=f"Write the tracked {DEFAULT_CALIBRATION} (what every calibrated run loads).")
@click.option("--engine", type=click.Choice(ENGINES), default="roofline", show_default=True,
              help="Engine the efficiency solves use (the DES takes minutes).")
def calibrate_measured(csv_path, mapping_path, out_path, write, engine):
    """Fit DRAM and matrix efficiencies per preset x runtime and per device class (x runtime)
    from measured rows, and print the held-out error of the fit."""
    from hwsim.calibration import CALIBRATION_PATH
    from hwsim.errors import ConfigError
    from hwsim.validation.fit import Fitter
    from hwsim.validation.run import validate

    if write and out_path:
        raise ConfigError("--write and --out: give one (--write is --out configs/calibration.yaml)")
    started = time.perf_counter()
    cases, unmapped = _cases(csv_path, mapping_path, "all")
    fitter = Fitter(cases, engine)
    rows = len(fitter.cases)
    provenance = (f"hwsim calibrate measured: {rows} rows of {csv_path or DEFAULT_CSV} (engine {engine}); "
                  f"regenerate with `hwsim calibrate measured --write`")
    fitted = fitter.fit(provenance=provenance)
    frame, _ = validate(cases, engine=engine, held_out=True, fitter=fitter, fit_engine=engine)
    header = ("# Generated by `hwsim calibrate measured`; do not edit by hand.\n"
              "# Efficiencies are fractions of the preset's peak (DRAM bandwidth, matrix FLOP/s).\n")
    text = header + fitted.to_yaml()
    _echo_summary(frame, unmapped, None, "held_out")
    if out_path == "-":
        click.echo(text)
        return
    out = CALIBRATION_PATH if write else Path(out_path or DEFAULT_OUT)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    from hwsim.spec.documents import _display

    click.echo(f"\nwrote {_display(out)} ({len(fitted.presets)} presets, {len(fitted.classes)} classes; "
               f"{time.perf_counter() - started:.0f} s)")
