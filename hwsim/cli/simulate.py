"""`hwsim simulate`: one model on one device, as a readable table or JSON totals."""

from __future__ import annotations

from pathlib import Path

import click

from hwsim.cli.options import (allow_positions_option, check_positions, explicit, kv_last_k_option,
                               kv_policy_option, load_cli_model, parse_sets, runtime_option, set_option)
from hwsim.vocab import ENGINES, RESIDENCY_POLICIES

_ROWS = [  # (totals key, label, display unit or None for plain values)
    ("latency_s", "latency", "s"), ("ttft_s", "time to first token", "s"),
    ("tpot_s", "time per output token", "s"), ("tokens_per_s", "tokens/s", "tok/s"),
    ("energy_j", "energy", "J"), ("energy_per_token_j", "energy per token", "J"),
    ("power_w", "average power", "W"),
    ("dram_read_bytes", "DRAM read", "B"), ("dram_write_bytes", "DRAM written", "B"),
    ("dram_bytes_per_token", "DRAM bytes per token", "B"),
    ("dram_weight_first_fetch_bytes", "  weights, first fetch", "B"),
    ("dram_weight_refetch_bytes", "  weights, re-fetch after eviction", "B"),
    ("dram_kv_bytes", "  KV cache", "B"), ("dram_activation_spill_bytes", "  activation spill", "B"),
    ("sram_peak_bytes", "SRAM peak", "B"), ("memory_footprint_bytes", "memory footprint", "B"),
    ("memory_capacity_bytes", "memory capacity", "B"), ("fits", "fits", None),
    ("shortfall_bytes", "shortfall", "B"), ("compute_utilization", "matrix utilisation", None),
    ("bound", "bound by", None), ("energy_compute_j", "energy: compute", "J"),
    ("energy_sram_j", "energy: SRAM", "J"), ("energy_dram_j", "energy: DRAM", "J"),
    ("energy_static_j", "energy: static", "J"),
]


@click.command("simulate")
@click.option("--model", "model_name", required=True, help="Model preset name or YAML path, a config.json, "
              "or an OpTrace file (.parquet/.csv, e.g. from hwsim trace --capture).")
@click.option("--hardware", "hardware_name", required=True, help="Hardware preset name or YAML path.")
@click.option("--phase", type=click.Choice(["prefill", "decode", "e2e"]), default="e2e", show_default=True)
@click.option("--prompt", "prompt_len", type=click.IntRange(min=0), default=512, show_default=True,
              help="Prompt tokens per sequence.")
@click.option("--gen", "gen_len", type=click.IntRange(min=0), default=128, show_default=True,
              help="Generated tokens per sequence.")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--loops", type=click.IntRange(min=1), help="Loop count (looped models).")
@click.option("--quant", help="Quantisation preset, e.g. int4-g128, int8, q4_0.")
@kv_policy_option
@kv_last_k_option
@click.option("--head-format", help="Store the LM head and embeddings in this format (bf16, q6_k, int8, "
              "int4-g128, ...) instead of the quantisation's own rule.")
@click.option("--policy", type=click.Choice(RESIDENCY_POLICIES), default="lru",
              show_default=True, help="SRAM residency policy.")
@set_option
@runtime_option
@click.option("--engine", type=click.Choice(ENGINES), default="des", show_default=True)
@click.option("--full-loops", is_flag=True, help="Simulate every loop iteration instead of extrapolating "
              "from the warm-up and one steady iteration.")
@allow_positions_option
@click.option("--json", "as_json", is_flag=True, help="Print inputs and totals as JSON.")
@click.option("--chrome-trace", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the event timeline as Chrome trace JSON (opens in Perfetto).")
@click.option("--capture", is_flag=True, help="Capture --model (a Hugging Face config) from the transformers "
              "model code instead of a hwsim schedule: one --phase prefill or decode step (capture extra).")
@click.pass_context
def simulate_cmd(ctx, model_name, hardware_name, phase, prompt_len, gen_len, batch, loops, quant, kv_policy,
                 kv_last_k, head_format, policy, sets, runtime, engine, full_loops, allow_beyond, as_json,
                 chrome_trace, capture) -> None:
    """Simulate a model on a device: latency, energy, DRAM traffic by cause, memory fit."""
    from hwsim.errors import ConfigError
    from hwsim.sim import simulate
    from hwsim.spec import loader
    from hwsim.cli.capture import simulate_input

    if phase == "prefill" and explicit(ctx, "gen_len"):
        raise ConfigError("--gen does not apply to --phase prefill (it runs the prompt only)")
    if phase == "decode" and gen_len == 0:
        raise ConfigError("--gen 0: the decode phase needs at least 1 generated token")
    if engine == "roofline":
        given = [name for name, on in (("--full-loops", full_loops), ("--chrome-trace", chrome_trace),
                                       ("--policy", explicit(ctx, "policy"))) if on]
        if given:  # the roofline streams every operand and keeps no timeline
            raise ConfigError(f"{given[0]} applies to --engine des only")
    model = simulate_input(model_name, capture, phase, prompt_len, batch, loops=loops, quant=quant,
                           kv_policy=kv_policy, kv_last_k=kv_last_k, head_format=head_format,
                           full_loops=full_loops)
    if model is None:
        model = load_cli_model(model_name, loops=loops, quant=quant, kv_policy=kv_policy, kv_last_k=kv_last_k,
                               head_format=head_format)
        check_positions(model, prompt_len, 0 if phase == "prefill" else gen_len, allow_beyond)
    hardware = loader.load_hardware(hardware_name, parse_sets(sets) or None, runtime=runtime)
    result = simulate(model, hardware, phase=phase, prompt_len=prompt_len, gen_len=gen_len, batch=batch,
                      policy=policy, engine=engine, full_loops=full_loops)
    if chrome_trace:
        chrome_trace.parent.mkdir(parents=True, exist_ok=True)
        result.to_chrome_trace(chrome_trace)
    if as_json:
        click.echo(result.to_json())
        return
    click.echo(_table(result))
    if chrome_trace:
        click.echo(f"timeline written to {chrome_trace}")


def _table(result) -> str:
    from hwsim.units import human

    inputs = result.inputs
    head = (f"{inputs['model']} on {inputs['hardware']}: {inputs['phase']}, prompt {inputs['prompt_len']}, "
            f"gen {inputs['gen_len']}, batch {inputs['batch']}, loops {inputs.get('loops', '-')}, "
            f"quant {inputs.get('quant', '-')}, policy {inputs['policy']}, engine {inputs['engine']}")
    rows = []
    for key, label, unit in _ROWS:
        value = result.totals[key]
        if unit is not None:
            text = human(float(value), unit)
        elif isinstance(value, float):
            text = f"{value:.4g}"
        else:
            text = str(value)
        rows.append((label, text))
    width = max(len(label) for label, _ in rows)
    return "\n".join([head, ""] + [f"{label.ljust(width)}  {text}" for label, text in rows])
