"""`hwsim quality`: published quality of a model configuration, or an iso-quality set's table."""

from __future__ import annotations

import math

import click

from hwsim.vocab import KV_POLICIES


@click.command("quality")
@click.argument("comparison", required=False)
@click.option("--model", "model_name", help="Model preset (instead of a comparison set).")
@click.option("--loops", type=click.IntRange(min=1), help="Loop count (looped models).")
@click.option("--quant", help="Quantisation preset (a published penalty or 'unknown').")
@click.option("--kv-policy", type=click.Choice(KV_POLICIES))
@click.option("--group", help="Comparable group (default: the model's first).")
def quality_command(comparison, model_name, loops, quant, kv_policy, group) -> None:
    """Print COMPARISON (workloads/comparisons/NAME.yaml) at equal quality, or with --model the
    scores of one configuration with the source of each."""
    from hwsim.cli.options import text_table
    from hwsim.errors import ConfigError

    if (comparison is None) == (model_name is None):
        raise ConfigError("give either a COMPARISON set name or --model, not both")
    if comparison is not None:
        from hwsim.quality.comparisons import load_comparison, quality_table

        spec = load_comparison(comparison)
        table = quality_table(spec)
        click.echo(f"{spec.question} ({spec.quality_group}; avg = mean of the group's aggregate benchmarks)")
        headers = ["member", *spec.benchmarks, "avg", "source"]
        rows = [[r["member"], *(_num(r[b]) for b in spec.benchmarks), _num(r["avg"]), r["quality_source"]]
                for _, r in table.iterrows()]
        click.echo(text_table(headers, rows))
        return
    from hwsim.quality.model import model_quality
    from hwsim.spec import loader
    from hwsim.spec.variants import configure_model

    model = configure_model(loader.load_model(model_name), loops=loops, quant=quant, kv_policy=kv_policy)
    scores = {k: s for k, s in model_quality(model, group).items() if k.startswith("quality.")}
    if not scores:
        raise ConfigError(f"{model.name}: no published quality rows (configs/quality/models.yaml)")
    rows = [[key, _num(s.value), s.label, s.note or (s.rows[0].source if len(s.rows) == 1 else "")]
            for key, s in scores.items()]
    click.echo(text_table(["column", "score", "status", "source / note"], rows))


def _num(value) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.2f}"
