"""`hwsim list` and `hwsim show`: what presets exist and what a spec resolves to."""

from __future__ import annotations

import json

import click

from hwsim.cli.options import load_cli_model, text_table
from hwsim.errors import ConfigError
from hwsim.units import human, human_rate


@click.command("list")
@click.argument("what", type=click.Choice(["models", "hardware", "sweeps", "reports"]))
def list_presets(what: str) -> None:
    """List model or hardware presets with their key figures, or the sweep and report presets."""
    from hwsim.spec import loader

    if what in ("sweeps", "reports"):
        from hwsim import resources

        for name, path in sorted(resources.preset_index(what[:-1]).items()):
            click.echo(f"{name:<32}{loader._display(path)}")
        return

    if what == "models":
        from hwsim.spec.derived import model_figures

        rows = []
        for path in loader.list_presets(loader.MODELS_DIR):
            model = loader.load_model(str(path))
            fig = model_figures(model)
            rows.append([path.stem, model.family, f"{fig['params_unique'] / 1e9:.3f} B",
                         str(int(fig["loop_count"])) if model.is_looped else "-",
                         str(int(fig["layer_applications_per_token"])),
                         human(fig["weight_bytes"], "B"), model.quant.name,
                         human(fig["kv_bytes_per_token"], "B") if model.has_decode else "-"])
        click.echo(text_table(["preset", "family", "params", "loops", "layer apps/token",
                           "weights", "quant", "KV/token"], rows))
        return
    rows = []
    for path in loader.list_presets(loader.HARDWARE_DIR):
        hw = loader.load_hardware(str(path))
        matrix = hw.matrix
        dtype, rate = max(matrix.peak.items(), key=lambda kv: kv[1])
        main = hw.main_memory
        rows.append([path.stem, hw.device_class, f"{human_rate(rate, dtype)} {dtype}",
                     human(main.bandwidth, "B/s"), human(main.capacity, "B"),
                     human(hw.sram.capacity, "B") if hw.sram else "-",
                     human(hw.power.tdp, "W") if hw.power.tdp else "-"])
    click.echo(text_table(["preset", "class", "peak", "mem BW", "mem", "SRAM", "TDP"], rows))


@click.command()
@click.argument("name")
@click.option("--loops", type=click.IntRange(min=1), help="Loop count to evaluate (looped models).")
@click.option("--quant", help="Quantisation preset, e.g. int4-g128, q4_0, int8.")
@click.option("--json", "as_json", is_flag=True, help="Print the resolved spec and figures as JSON.")
def show(name: str, loops: int | None, quant: str | None, as_json: bool) -> None:
    """Show a resolved model or hardware spec with its derived figures."""
    from hwsim.spec import loader

    if loader.is_hardware_document(name):
        if loops is not None or quant is not None:
            raise ConfigError(f"{'--loops' if loops is not None else '--quant'} applies to models; {name} is hardware")
        _show_hardware(loader.load_hardware(name), as_json)
        return
    model = load_cli_model(name, loops=loops)
    if quant:
        model = model.model_copy(update={"quant": loader.load_quant(quant)})
    _show_model(model, loops, as_json)


def _show_model(model, loops, as_json: bool) -> None:
    from hwsim.spec.derived import model_figures

    fig = model_figures(model, loops)
    if as_json:
        click.echo(json.dumps({"spec": model.model_dump(mode="json"), "derived": fig}, indent=2))
        return
    click.echo(f"{model.name}  ({model.family})")
    click.echo(f"  source: {model.source}")
    att = model.attention
    ffn = (f"MLP {model.mlp.kind} {model.mlp.intermediate_size}" if model.mlp else
           f"MoE {model.moe.num_experts} experts, top-{model.moe.top_k}, width {model.moe.expert_intermediate_size}")
    click.echo(f"  hidden {model.hidden_size}, heads {att.num_heads}/{att.num_kv_heads} x {att.head_dim}, "
               f"{ffn}, vocab {model.vocab_size}, {'causal' if att.causal else 'non-causal'}")
    click.echo("  blocks: " + ", ".join(f"{b.name} x {b.num_layers}" for b in model.blocks))
    if model.is_looped:
        click.echo(f"  loop: {int(fig['loop_count'])} iterations, KV policy {model.loop.kv_policy}")
    click.echo(f"  quantisation: {model.quant.name} (weights {model.quant.weight.effective_bits:g} bits, "
               f"KV {model.quant.kv.effective_bits:g} bits)")
    rows = [
        ["parameters (unique)", f"{fig['params_unique']:,.0f}"],
        ["parameters active per token (MoE)", f"{fig['params_active']:,.0f}"],
        ["weights executed per token (matmul, repeats counted)", f"{fig['params_executed_per_token']:,.0f}"],
        ["weight bytes at spec precision", f"{fig['weight_bytes']:,.0f} B ({human(fig['weight_bytes'], 'B')})"],
        ["KV bytes per token", f"{fig['kv_bytes_per_token']:,.0f} B" if model.has_decode else "none (no decode)"],
        ["layer applications per token", f"{fig['layer_applications_per_token']:,.0f}"],
        ["matmul FLOPs per token", f"{human(fig['matmul_flops_per_token'], 'FLOP')}"],
    ]
    click.echo(text_table(["figure", "value"], rows))


def _show_hardware(hw, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(hw.model_dump(mode="json", by_alias=True), indent=2))
        return
    click.echo(f"{hw.name}  ({hw.device_class}, {hw.process_node})")
    click.echo(f"  source: {hw.source}")
    if hw.calibration:
        click.echo(f"  calibration: {hw.calibration}")
    rows = []
    for name, engine in hw.compute.items():
        for dtype, rate in engine.peak.items():
            rows.append([f"compute.{name}.peak.{dtype}", human_rate(rate, dtype), f"efficiency {engine.efficiency:g}"])
    for name, level in hw.memory.items():
        rows.append([f"memory.{name}", f"{human(level.capacity, 'B')} {level.type}",
                     f"{human(level.bandwidth, 'B/s')}, latency {human(level.latency, 's')}"])
    rows.append(["power", f"TDP {human(hw.power.tdp, 'W') if hw.power.tdp else 'n/a'}", f"idle {human(hw.power.idle, 'W')}"])
    click.echo(text_table(["field", "value", "detail"], rows))
    _show_chip_cost(hw)


def _show_chip_cost(hw) -> None:
    """Area and power breakdown derived by hwsim.chip (nodes without cost figures say so)."""
    from hwsim.chip.describe import breakdown_rows
    from hwsim.errors import ConfigError

    try:
        rows, notes = breakdown_rows(hw)
    except ConfigError as exc:
        click.echo(f"\narea and power breakdown: not available ({exc})")
        return
    click.echo("\nArea and power breakdown (hwsim.chip; " + "; ".join(notes) + "):")
    click.echo(text_table(["item", "value", "detail"], rows))
