"""`hwsim report` (a design report from sweep output or a built-in preset) and `hwsim
feasibility` (targets checked for one deployment, plus the cheapest one that passes)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hwsim.cli.options import (allow_positions_option, check_positions, kv_last_k_option, kv_policy_option,
                               load_cli_model, parse_sets, runtime_option, set_option)
from hwsim.vocab import RESIDENCY_POLICIES


@click.command("report")
@click.argument("results_dir", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--preset", help="A built-in report (workloads/reports/NAME.yaml) or a report YAML file.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output directory: index.html, report.md, figures/, results.csv, manifest.json.")
@click.option("--jobs", type=click.IntRange(min=1), help="Worker processes for the sweeps (default: all cores).")
@click.option("--embed", is_flag=True, help="Embed the figures in index.html (base64) instead of linking figures/.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bars.")
def report_command(results_dir: Path | None, preset: str | None, out_dir: Path, jobs: int | None, embed: bool,
                   no_progress: bool) -> None:
    """Write a design report from RESULTS_DIR (the --out of `hwsim sweep`) or --preset NAME."""
    import time

    from hwsim.errors import ConfigError
    from hwsim.report import collect
    from hwsim.report.document import write_report

    if (results_dir is None) == (preset is None):
        raise ConfigError("give either RESULTS_DIR (the --out of `hwsim sweep`) or --preset NAME, not both")
    start = time.perf_counter()
    from hwsim.report.presets import CODE_PRESET_FILES, CODE_PRESETS

    if preset in CODE_PRESETS:   # a report computed by its own module (e.g. hypothetical-looped-edge)
        import importlib

        paragraphs = importlib.import_module(CODE_PRESETS[preset]).write(out_dir, command=["hwsim", *sys.argv[1:]])
        click.echo("\n\n".join(paragraphs))
        click.echo(f"\nwrote {out_dir}/{', '.join(CODE_PRESET_FILES)} ({time.perf_counter() - start:.1f} s)")
        return
    if preset is not None:
        data = collect.from_preset(preset, out_dir, jobs=jobs, progress=not no_progress)
    else:
        data = collect.from_results(results_dir, out_dir, jobs=jobs, progress=not no_progress)
    written = write_report(data, out_dir, ["hwsim", *sys.argv[1:]], embed=embed)
    click.echo("\n\n".join(written.conclusion.paragraphs))
    click.echo(f"\nwrote {out_dir}/index.html, report.md, {len(written.figures)} figures "
               f"({time.perf_counter() - start:.1f} s)")


@click.command("feasibility")
@click.option("--model", "model_name", required=True, help="Model preset name or file.")
@click.option("--hardware", "hardware_name", required=True, help="Hardware preset name or file.")
@click.option("--target", "target_texts", multiple=True, required=True, metavar="METRIC OP VALUE",
              help="e.g. 'tokens_per_s>=10', 'energy_per_token_j<=0.5', 'power_w<=15', 'ttft_s<=1', "
                   "'memory_bytes<=8 GB' (repeatable).")
@click.option("--quant", help="Quantisation preset of the configuration to check (default: the model's).")
@click.option("--loops", type=click.IntRange(min=1), help="Loop count (looped models).")
@kv_policy_option
@kv_last_k_option
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--prompt", "--prompt-len", "prompt_len", type=click.IntRange(min=1), default=512, show_default=True,
              help="Prompt tokens per sequence.")
@click.option("--gen", "--gen-len", "gen_len", type=click.IntRange(min=1), default=128, show_default=True,
              help="Generated tokens per sequence.")
@allow_positions_option
@click.option("--policy", type=click.Choice(RESIDENCY_POLICIES), default="lru", show_default=True)
@set_option
@runtime_option
@click.option("--search-quant", help="Quantisations to search, comma-separated (default: int4-g128,int8,bf16 "
                                     "and --quant).")
@click.option("--search-batch", help="Batch sizes to search, comma-separated (default: --batch).")
@click.option("--search-context", help="Prompt lengths to search, comma-separated (default: --prompt).")
@click.option("--no-search", is_flag=True, help="Only check the given configuration.")
@click.option("--allow-depth-change", is_flag=True,
              help="Let the search change the loop count (default: keep --loops, or the model's own).")
@click.option("--quality-group", help="Comparable group of the quality.* values (default: the model's first; "
                                      "see configs/quality/models.yaml).")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True)
def feasibility_command(model_name, hardware_name, target_texts, quant, loops, kv_policy, kv_last_k, batch,
                        prompt_len, gen_len, allow_beyond, policy, sets, runtime, search_quant, search_batch,
                        search_context, no_search, allow_depth_change, quality_group, jobs) -> None:
    """Check a deployment against targets (exit 0 when all pass, 1 when one fails) and search the
    cheapest configuration that passes (fewest weight bits, then loops, then footprint)."""
    from hwsim.cli.options import text_table
    from hwsim.quality import quality_columns
    from hwsim.report import feasibility as F
    from hwsim.report.table import fmt
    from hwsim.sim import simulate
    from hwsim.spec import loader

    targets = [F.parse_target(text) for text in target_texts]
    hardware_sets = parse_sets(sets)
    hardware = loader.load_hardware(hardware_name, hardware_sets or None, runtime=runtime)
    base = loader.load_model(model_name)
    model = load_cli_model(model_name, loops=loops, quant=quant, kv_policy=kv_policy, kv_last_k=kv_last_k)
    check_positions(model, max([prompt_len, *_split(search_context, int)]), gen_len, allow_beyond)
    phase = "e2e" if model.has_decode else "prefill"
    result = simulate(model, hardware, phase=phase, prompt_len=prompt_len, gen_len=gen_len, batch=batch,
                      policy=policy, engine="des")
    from hwsim.chip.budget import hardware_totals

    totals = {**result.totals, **hardware_totals(hardware), **quality_columns(model, quality_group)}
    verdict = F.check(totals, targets)
    loops_text = f" x{model.loop.count}" if model.is_looped else ""
    click.echo(f"{model.name}{loops_text} {model.quant.name} on {hardware.name} ({phase}, batch {batch}, "
               f"prompt {prompt_len}, {gen_len} generated, event simulation)")
    rows = [[r.target.text, _show(fmt, r.target.metric, r.actual), "PASS" if r.passed else "FAIL",
             f"{100 * r.margin:+.1f} %"] for r in verdict.results]
    click.echo(text_table(["target", "actual", "verdict", "margin"], rows))
    if not result.totals["fits"]:
        click.echo(f"does not fit: footprint {fmt('memory_footprint_bytes', result.totals['memory_footprint_bytes'])}"
                   f" > capacity {fmt('memory_capacity_bytes', result.totals['memory_capacity_bytes'])}")
    click.echo(_quality_line(totals, targets))
    binding = verdict.binding
    click.echo(f"binding constraint: {binding.target.text} (margin {100 * binding.margin:+.1f} %)")
    if not no_search:
        space = F.default_space(base, quant, loops, batch, prompt_len, allow_depth_change)
        space = F.SearchSpace(
            _split(search_quant, str) or space.quants, space.loops, space.kv_policies,
            _split(search_batch, int) or space.batches, _split(search_context, int) or space.contexts)
        found = F.cheapest(model_name, hardware_name, targets, space, gen_len=gen_len, policy=policy,
                           hardware_sets=hardware_sets, jobs=jobs, quality_group=quality_group, runtime=runtime)
        click.echo(f"\nsearch: {found.points} configurations, {found.pruned} ruled out by the roofline bound "
                   f"or capacity, {found.simulated} simulated")
        if space.loops and len(space.loops) == 1:
            click.echo(f"loop count kept at {space.loops[0]} (--allow-depth-change to search others)")
        if found.best is None:
            click.echo("cheapest passing configuration: none in the searched space, because:")
            for line in found.why:
                click.echo(f"  {line}")
        else:
            labels = ", ".join(f"{k.removeprefix('model.')}={v}" for k, v in found.best.items())
            values = ", ".join(f"{t.metric}={_show(fmt, t.metric, found.totals[t.metric])}" for t in targets)
            click.echo(f"cheapest passing configuration: {labels} ({values})")
            click.echo("  " + _quality_line(found.totals, targets))
    click.echo("PASS" if verdict.passed else "FAIL")
    sys.exit(0 if verdict.passed else 1)


def _quality_line(totals: dict, targets) -> str:
    """`quality (published: ouro_base_lmeval): quality.avg 68.7, quality.gsm8k 78.9`: the quality of
    a configuration next to its speed (the average and every quality target)."""
    import math

    keys = dict.fromkeys(["quality.avg", *(t.metric for t in targets if t.metric.startswith(("quality.",
                                                                                             "checkpoint_quality.")))])
    values = ", ".join(f"{k} {'unknown' if not math.isfinite(totals.get(k, math.nan)) else f'{totals[k]:.2f}'}"
                       for k in keys)
    return f"quality ({totals.get('quality_source') or 'no published rows'}): {values}"


def _show(fmt, metric: str, value: float) -> str:
    from hwsim.chip.budget import HARDWARE_TOTALS

    if metric in HARDWARE_TOTALS:   # area_mm2, tdp_w, idle_w
        return f"{value:.4g} {'mm2' if metric == 'area_mm2' else 'W'}"
    text = fmt(metric, value)
    return text if text != "-" else f"{value:.4g}"


def _split(text: str | None, cast) -> list:
    from hwsim.errors import ConfigError

    if not text:
        return []
    try:
        return [cast(part.strip()) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"cannot read {text!r} as a comma-separated list") from None
