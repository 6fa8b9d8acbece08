"""`hwsim sweep`: run a design-space sweep and print its Pareto front and sensitivity."""

from __future__ import annotations

from pathlib import Path

import click

from hwsim.vocab import ENGINES


@click.command("sweep")
@click.argument("spec")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for points.jsonl, results.parquet/.csv, pareto.csv, sensitivity.csv.")
@click.option("--jobs", type=click.IntRange(min=1), help="Worker processes (default: all cores).")
@click.option("--engine", type=click.Choice(ENGINES), default="des", show_default=True,
              help="Event simulation, or the closed-form roofline bound (fast).")
@click.option("--dask", "dask_address", metavar="ADDRESS|local",
              help="Run on a Dask scheduler (tcp://host:8786), or 'local' for a local cluster.")
@click.option("--resume", is_flag=True, help="Continue an interrupted sweep in --out (skips finished points).")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def sweep(spec: str, out_dir: Path, jobs: int | None, engine: str, dask_address: str | None,
          resume: bool, no_progress: bool) -> None:
    """Run the sweep SPEC (a file, or a preset name in workloads/sweeps/)."""
    from hwsim.cli.options import text_table
    from hwsim.sweep import load_sweep, run_sweep
    from hwsim.sweep.analysis import pareto_front, sensitivity

    sweep_spec = load_sweep(spec)
    frame = run_sweep(sweep_spec, out_dir, jobs=jobs, engine=engine, dask=dask_address, resume=resume,
                      progress=not no_progress)
    if resume:
        click.echo(f"resumed: {frame.attrs['points_reused']} of {len(frame)} points reused")
    counts = frame["status"].value_counts()
    feasible = int(frame["feasible"].sum())
    click.echo(f"{sweep_spec.name}: {len(frame)} points ({', '.join(f'{n} {s}' for s, n in counts.items())}; "
               f"{feasible} meet the constraints)")
    axes = list(sweep_spec.axes)
    objectives = list(sweep_spec.objectives)
    front = pareto_front(frame, sweep_spec.objectives)
    if len(front):
        click.echo(f"\nPareto front ({len(front)} points; " +
                   ", ".join(f"{sense} {name}" for name, sense in sweep_spec.objectives.items()) + ")")
        rows = [[str(row[a]) for a in axes] + [f"{row[o]:.4g}" for o in objectives] for _, row in front.head(20).iterrows()]
        click.echo(text_table(axes + objectives, rows))
    table = sensitivity(frame, axes, sweep_spec.objectives)
    if len(table):
        click.echo("\nSensitivity (spread of the per-value mean, relative to the overall mean)")
        rows = [[r.objective, r.axis, f"{r.relative_spread:.3g}", r.best_value] for r in table.itertuples()]
        click.echo(text_table(["objective", "axis", "relative spread", "best value"], rows))
    errors = frame[frame["status"] == "error"]
    if len(errors):
        click.echo(f"\n{len(errors)} points failed; first: [{errors.iloc[0]['point']}] {errors.iloc[0]['error']}")
    click.echo(f"\nwrote {out_dir}/results.parquet, results.csv, pareto.csv, sensitivity.csv, manifest.json")
