"""`hwsim validate reference`, `hwsim validate local` and `hwsim calibrate local`."""

from __future__ import annotations

import click

from hwsim.errors import ConfigError


def _scaled(name: str, scale: str):
    from hwsim.reference.scale import scale_model
    from hwsim.spec.loader import load_model

    return scale_model(load_model(name), scale)


def _verdict(ok: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: "n/a"}[ok]


@click.command("reference")
@click.option("--model", "models", multiple=True, required=True,
              help="Model preset or file; repeat for several, or 'all' for every preset.")
@click.option("--scale", default="tiny", show_default=True, help="Size the model is shrunk to (tiny, small).")
@click.option("--kv-policy", default=None, help="Run with this loop KV policy (per_loop, shared).")
def validate_reference(models: tuple[str, ...], scale: str, kv_policy: str | None) -> None:
    """Run the NumPy reference executor: captured vs built traces and numerical identities.

    Prints a PASS/FAIL table; exits 1 if any check fails."""
    from hwsim.reference.checks import run_reference_checks
    from hwsim.spec.loader import MODELS_DIR, list_presets
    from hwsim.spec.variants import configure_model

    names = [p.stem for p in list_presets(MODELS_DIR)] if models == ("all",) else list(models)
    failed = 0
    for name in names:
        model = _scaled(name, scale)
        if kv_policy:
            model = configure_model(model, kv_policy=kv_policy)
        click.echo(f"{model.name}")
        for result in run_reference_checks(model):
            failed += result.ok is False
            click.echo(f"  {_verdict(result.ok):4}  {result.name:44}  {result.detail}")
    click.echo(f"{'FAIL' if failed else 'PASS'}: {failed} failed check(s)")
    if failed:
        raise SystemExit(1)


@click.command("local")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write the spec YAML here (default: print it).")
@click.option("--name", default="local-cpu", show_default=True)
@click.option("--process-node", default="7nm", show_default=True,
              help="Assumed node (selects only the energy table; energy is not measured).")
def calibrate_local(out: str | None, name: str, process_node: str) -> None:
    """Measure this CPU (NumPy GEMM rate, copy bandwidth, per-op overhead; one BLAS thread)
    into a hardware spec."""
    import yaml

    from hwsim import units
    from hwsim.reference.calibrate_local import LocalMeasurements, hardware_document
    from hwsim.reference.timing import run_single_threaded
    from hwsim.spec.hardware import HardwareSpec
    from hwsim.spec.loader import validate

    raw = run_single_threaded({"task": "calibrate"})
    raw["gemm_flops_per_s"] = {int(k): v for k, v in raw["gemm_flops_per_s"].items()}
    measured = LocalMeasurements(**raw)
    document = hardware_document(measured, name=name, process_node=process_node)
    validate(HardwareSpec, document, "calibrate local")
    for size, rate in measured.gemm_flops_per_s.items():
        click.echo(f"GEMM fp32 n={size}: {units.human(rate, 'FLOP/s')}", err=True)
    click.echo(f"copy bandwidth: {units.human(measured.copy_bytes_per_s, 'B/s')}; "
               f"1-row GEMM streaming: {units.human(measured.gemv_bytes_per_s, 'B/s')}; "
               f"per-op overhead: {units.human(measured.op_overhead_s, 's')}", err=True)
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)
    if out:
        with open(out, "w") as handle:
            handle.write(text)
        click.echo(f"wrote {out}", err=True)
    else:
        click.echo(text)


@click.command("local")
@click.option("--model", required=True, help="Model preset or file (shrunk with --scale).")
@click.option("--hardware", default=None, help="The spec written by `hwsim calibrate local --out FILE`.")
@click.option("--scale", default="small", show_default=True)
@click.option("--prompt", "prompt_len", default=32, show_default=True, type=int)
@click.option("--gen", "gen_len", default=16, show_default=True, type=int)
def validate_local(model: str, hardware: str | None, scale: str, prompt_len: int, gen_len: int) -> None:
    """Time the executor's decode on this machine (one BLAS thread) and compare with the
    simulator's prediction on the calibrated spec."""
    import statistics

    from hwsim import units
    from hwsim.reference.timing import run_single_threaded
    from hwsim.sim import simulate
    from hwsim.spec.loader import load_hardware
    from hwsim.spec.variants import configure_model

    if prompt_len < 1 or gen_len < 1:
        raise ConfigError(f"--prompt and --gen must be >= 1 (got {prompt_len}, {gen_len})")
    spec = configure_model(_scaled(model, scale), quant="fp32")   # what NumPy computes in
    if not spec.has_decode:
        raise ConfigError(f"model {spec.name} has no decode phase to time")
    if not hardware:
        raise ConfigError("--hardware: give the spec written by `hwsim calibrate local --out FILE`")
    # The spec is this machine's own measurement: class defaults fitted elsewhere do not apply.
    device = load_hardware(hardware, calibrated=False)
    run = run_single_threaded({"task": "decode", "model": model, "scale": scale,
                               "prompt_len": prompt_len, "gen_len": gen_len})
    # Best step, as the calibration takes the best of its repeats: both describe the machine
    # when the process has its core, not the load other processes put on it.
    measured_s, median_s = min(run["seconds"]), statistics.median(run["seconds"])
    predicted_s = simulate(spec, device, phase="decode", prompt_len=prompt_len, gen_len=gen_len)
    predicted_s = predicted_s.totals["tpot_s"]
    error = (predicted_s - measured_s) / measured_s
    click.echo(f"model       {spec.name}, fp32, prompt {prompt_len}, {gen_len} decode tokens")
    click.echo(f"hardware    {device.name} ({device.source})")
    click.echo(f"measured    {units.human(measured_s, 's')} per decode token (best of {gen_len}; "
               f"median {units.human(median_s, 's')})")
    click.echo(f"predicted   {units.human(predicted_s, 's')} per decode token (simulate, des)")
    click.echo(f"error       {error:+.1%} ({'within' if abs(error) <= 0.25 else 'outside'} the 25% target)")
