"""`hwsim trace`: build the OpTrace of one prefill or decode step and write it to a file."""

from __future__ import annotations

import click

from hwsim.cli.options import (allow_positions_option, check_positions, kv_last_k_option, kv_policy_option,
                               load_cli_model)
from hwsim.units import human


@click.command("trace")
@click.option("--model", "model_name", required=True, help="Model preset name or a YAML/JSON/config.json path.")
@click.option("--phase", type=click.Choice(["prefill", "decode"]), required=True)
@click.option("--context", "context_len", type=click.IntRange(min=0), default=512, show_default=True,
              help="Prefill: prompt tokens per sequence. Decode: tokens already in the KV cache.")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--loops", type=click.IntRange(min=1), help="Fixed loop count (looped models).")
@click.option("--quant", help="Quantisation preset, e.g. int4-g128, q4_0, int8.")
@kv_policy_option
@kv_last_k_option
@click.option("--token-step", type=click.IntRange(min=0), default=0, show_default=True,
              help="Decode: index of this generated token among --num-steps (picks loop depths).")
@click.option("--num-steps", type=click.IntRange(min=1), default=1, show_default=True)
@allow_positions_option
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Output file, .parquet or .csv.")
def trace_command(model_name, phase, context_len, batch, loops, quant, kv_policy, kv_last_k,
                  token_step, num_steps, allow_beyond, out_path) -> None:
    """Build a workload trace (one row per op) and print its totals."""
    from hwsim.errors import TraceError
    from hwsim.workload.io import write_trace
    from hwsim.workload.transformer import build_trace

    if token_step >= num_steps:
        raise TraceError(f"--token-step {token_step} must be below --num-steps {num_steps}")
    model = load_cli_model(model_name, loops=loops, quant=quant, kv_policy=kv_policy, kv_last_k=kv_last_k)
    check_positions(model, context_len, 1 if phase == "decode" else 0, allow_beyond)
    frame = build_trace(model, phase, batch, context_len, token_step=token_step, num_steps=num_steps)
    path = write_trace(frame, out_path)
    for label, value in trace_summary(frame, model).items():
        click.echo(f"{label:<34}{value}")
    click.echo(f"written: {path}")


def trace_summary(frame, model) -> dict[str, str]:
    """Totals a user checks first: op count, work, unique vs touched weights, KV traffic.
    Unique weight bytes count each weight_id once plus the embedding tables the lookups read."""
    from hwsim.workload.weights import weight_table

    weighted = frame[frame["weight_id"] != ""]
    unique = weighted.drop_duplicates("weight_id")["weight_bytes"].sum()
    ids = set(weighted["weight_id"])
    unique += sum(t.bytes(model) for t in weight_table(model).tensors
                  if t.kind == "embedding" and t.weight_id not in ids)
    return {
        "ops": f"{len(frame):,}",
        "GFLOP": f"{frame['flops'].sum() / 1e9:,.3f}",
        "unique weight bytes": human(unique, "B"),
        "weight bytes touched (repeats)": human(weighted["weight_bytes"].sum(), "B"),
        "KV bytes read": human(frame["kv_read_bytes"].sum(), "B"),
        "KV bytes written": human(frame["kv_write_bytes"].sum(), "B"),
    }
