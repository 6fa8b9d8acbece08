"""`hwsim trace`: build the OpTrace of one prefill or decode step and write it to a file."""

from __future__ import annotations

import click

from hwsim.cli.options import (allow_positions_option, check_positions, kv_last_k_option, kv_policy_option,
                               load_cli_model)
from hwsim.units import human


@click.command("trace")
@click.option("--model", "model_name", help="Model preset name or a YAML/JSON/config.json path.")
@click.option("--from-hf", "from_hf", help="A Hugging Face config.json (with --capture also a preset name "
              "in workloads/hf or a transformers model_type, whose class defaults are used).")
@click.option("--capture", is_flag=True, help="Record the trace from the transformers model code on the "
              "meta device instead of the hwsim schedule (needs the capture extra; see docs/traces.md).")
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
def trace_command(model_name, from_hf, capture, phase, context_len, batch, loops, quant, kv_policy, kv_last_k,
                  token_step, num_steps, allow_beyond, out_path) -> None:
    """Build a workload trace (one row per op) and print its totals."""
    from hwsim.errors import TraceError
    from hwsim.workload.io import write_trace
    from hwsim.workload.transformer import build_trace

    if token_step >= num_steps:
        raise TraceError(f"--token-step {token_step} must be below --num-steps {num_steps}")
    if bool(model_name) == bool(from_hf):
        raise TraceError("give exactly one of --model or --from-hf")
    if capture:
        from hwsim.cli.capture import captured_trace, refuse_schedule_options

        refuse_schedule_options(loops=loops, quant=quant, kv_policy=kv_policy, kv_last_k=kv_last_k)
        (frame, _), model = captured_trace(model_name or from_hf, phase, batch, context_len), None
    else:
        model = load_cli_model(model_name or from_hf, loops=loops, quant=quant, kv_policy=kv_policy,
                               kv_last_k=kv_last_k)
        check_positions(model, context_len, 1 if phase == "decode" else 0, allow_beyond)
        frame = build_trace(model, phase, batch, context_len, token_step=token_step, num_steps=num_steps)
    path = write_trace(frame, out_path)
    for label, value in trace_summary(frame, model).items():
        click.echo(f"{label:<34}{value}")
    click.echo(f"written: {path}")


def trace_summary(frame, model) -> dict[str, str]:
    """Totals a user checks first: op count, work, unique vs touched weights, KV traffic.
    Unique weight bytes count each weight_id once plus the embedding tables the lookups read
    (known only with a model: a captured trace counts the weights its matmuls use)."""
    from hwsim.workload.weights import weight_table

    weighted = frame[frame["weight_id"] != ""]
    unique = weighted.drop_duplicates("weight_id")["weight_bytes"].sum()
    ids = set(weighted["weight_id"])
    unique += sum(t.bytes(model) for t in weight_table(model).tensors
                  if t.kind == "embedding" and t.weight_id not in ids) if model is not None else 0
    return {
        "ops": f"{len(frame):,}",
        "GFLOP": f"{frame['flops'].sum() / 1e9:,.3f}",
        "unique weight bytes": human(unique, "B"),
        "weight bytes touched (repeats)": human(weighted["weight_bytes"].sum(), "B"),
        "KV bytes read": human(frame["kv_read_bytes"].sum(), "B"),
        "KV bytes written": human(frame["kv_write_bytes"].sum(), "B"),
    }
