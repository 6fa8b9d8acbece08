"""`hwsim validate capture`, and the captured path of `hwsim trace --from-hf ... --capture` and
`hwsim simulate --model config.json --capture` (helpers called from those commands).

What a captured trace cannot do (it is one recorded run of the model code, not a schedule):
no loop sweeps (`--loops`), KV policies or early-exit depth distributions, no `--quant`
(weights and activations are in the dtype the model was built in, bf16), one step at a time
(prefill or one decode step, no e2e generation), and MoE expert choice follows hwsim's uniform
routing assumption because the meta device holds no data to route on.
"""

from __future__ import annotations

from pathlib import Path

import click

_CAPTURE_LIMITS = ("a captured trace is one recorded run of the model code: {what} needs a hwsim schedule "
                   "(a preset or a config hwsim maps: hwsim show CONFIG)")


def resolve_config(name_or_path: str) -> tuple[dict, str]:
    """A config.json path, a preset that has a published config in workloads/hf, or a
    transformers model_type alone (its configuration class defaults: `hrm_text` is HRM-Text-1B)."""
    from hwsim.capture.compare import HF_CONFIGS_DIR, read_config
    from hwsim.errors import ConfigError

    path = Path(name_or_path)
    if path.suffix == ".json":
        if not path.exists():
            raise ConfigError(f"{path}: no such file")
        return read_config(path), str(path)
    shipped = HF_CONFIGS_DIR / f"{name_or_path}.json"
    if shipped.exists():
        return read_config(shipped), f"workloads/hf/{shipped.name}"
    return {"model_type": name_or_path}, f"transformers {name_or_path} defaults"


def captured_trace(name_or_path: str, phase: str, batch: int, context_len: int):
    """(OpTrace, source) of one captured prefill or decode step."""
    from hwsim.capture.convert import to_trace
    from hwsim.capture.record import capture

    config, source = resolve_config(name_or_path)
    return to_trace(capture(config, phase, batch, context_len, source=source)), source


def refuse_schedule_options(**given) -> None:
    """One clean error for options only a schedule can honour."""
    from hwsim.errors import ConfigError

    used = [f"--{name.replace('_', '-')}" for name, value in given.items() if value not in (None, False)]
    if used:
        raise ConfigError(_CAPTURE_LIMITS.format(what=", ".join(used)))


def simulate_input(model_name: str, capture: bool, phase: str, prompt_len: int, batch: int, **schedule_options):
    """The OpTrace `hwsim simulate` runs for `--capture` or a trace file given as --model,
    or None when the model is an ordinary preset/spec."""
    from hwsim.errors import ConfigError
    from hwsim.workload.io import read_trace

    is_trace_file = Path(model_name).suffix.lower() in (".parquet", ".csv")
    if not (capture or is_trace_file):
        return None
    refuse_schedule_options(**schedule_options)
    if is_trace_file:
        return read_trace(model_name)
    if phase == "e2e":
        raise ConfigError(_CAPTURE_LIMITS.format(what="--phase e2e (a whole generation)") +
                          "; use --phase prefill or --phase decode")
    return captured_trace(model_name, phase, batch, prompt_len)[0]


@click.command("capture")
@click.option("--model", "models", multiple=True, required=True,
              help="Preset with a published config in workloads/hf; repeat, or 'all'.")
@click.option("--phase", type=click.Choice(["prefill", "decode", "both"]), default="both", show_default=True)
@click.option("--context", "context_len", type=click.IntRange(min=1), default=64, show_default=True,
              help="Prefill: prompt tokens. Decode: tokens already cached.")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True)
def validate_capture(models: tuple[str, ...], phase: str, context_len: int, batch: int) -> None:
    """Capture each preset's published config from the transformers model code on the meta
    device and compare with build_trace, per layer application: matmul FLOPs, weight bytes
    (unique and executed), KV bytes written/read, attention FLOPs, within 1%.

    Prints the per-model table (captured / hwsim); exits 1 if any model disagrees."""
    from hwsim.capture import require
    from hwsim.capture.compare import HF_CONFIGS_DIR, compare, presets_with_config, read_config, table
    from hwsim.errors import ConfigError
    from hwsim.spec.loader import load_model

    require()
    names = presets_with_config() if models == ("all",) else list(models)
    results = []
    for name in names:
        config_path = HF_CONFIGS_DIR / f"{name}.json"
        if not config_path.exists():
            raise ConfigError(f"{name}: no published config workloads/hf/{name}.json to capture "
                              f"(presets with one: {', '.join(presets_with_config())})")
        model = load_model(name)
        phases = ["prefill", "decode"] if phase == "both" else [phase]
        for step in phases if model.has_decode else ["prefill"]:
            results.append(compare(model, read_config(config_path), step, batch=batch,
                                   context_len=context_len, source=f"workloads/hf/{config_path.name}"))
    click.echo(table(results))
    failed = [r for r in results if not r.ok]
    for r in failed:
        click.echo(f"FAIL {r.model} {r.phase}: " + "; ".join(r.problems))
    click.echo(f"{'FAIL' if failed else 'PASS'}: {len(failed)} of {len(results)} comparisons disagree "
               f"(captured / hwsim; tolerance 1%)")
    if failed:
        raise SystemExit(1)
