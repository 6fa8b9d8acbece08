"""`hwsim chip`: cost of a chip described by parameters, and the iso-area / iso-power search."""

from __future__ import annotations

import click

from hwsim.cli.options import text_table
from hwsim.units import human_rate
from hwsim.vocab import ENGINES


@click.group("chip")
def chip() -> None:
    """Hypothetical chips: area, power and the best chip under a budget."""


@chip.command("show")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def show(path: str) -> None:
    """Area and power breakdown of a chip described by a ChipParams YAML file (docs/chip.md)."""
    from hwsim.chip import ChipParams, build_hardware, chip_cost
    from hwsim.chip.describe import cost_rows
    from hwsim.spec import loader

    params = loader.validate(ChipParams, loader.read_document(path), path)
    hardware = build_hardware(params)
    cost = chip_cost(params)
    click.echo(f"{params.name}  ({params.node}, {params.macs:,} {params.mac_format} MACs at "
               f"{cost.clock_hz / 1e9:.3g} GHz{f', throttled x{cost.throttle:.2f}' if cost.throttle < 1 else ''})")
    rows = [[f"compute.matrix.peak.{d}", human_rate(r, d), ""] for d, r in hardware.matrix.peak.items()]
    rows += cost_rows(cost, hardware)
    click.echo(text_table(["item", "value", "detail"], rows))


@chip.command("codesign")
@click.option("--model", "models", multiple=True, required=True, help="Model preset (repeatable).")
@click.option("--node", "nodes", multiple=True, default=("7nm",), show_default=True, help="Process node (repeatable).")
@click.option("--area", "areas", multiple=True, type=float, required=True, help="Die-area budget in mm2 (repeatable).")
@click.option("--power", "powers", multiple=True, type=float, required=True, help="Power budget in W (repeatable).")
@click.option("--quant", default="int4-g128", show_default=True)
@click.option("--engine", type=click.Choice(ENGINES), default="des", show_default=True,
              help="des: event simulation of the screened candidates; roofline: the floor only (fast).")
def codesign(models, nodes, areas, powers, quant, engine) -> None:
    """Best chip per budget: SRAM vs MACs vs DRAM channels at a fixed area, in the budget's power mode."""
    from hwsim.chip.codesign import Budget, Run, best_chip
    from hwsim.chip.model import chip_cost

    run = Run(quant=quant)
    rows = []
    for budget in (Budget(n, a, p) for n in nodes for a in areas for p in powers):
        for model in models:
            best = best_chip(budget, model, run, engine=engine)
            if best.params is None:
                rows.append([budget.label, model, "no candidate fits", "-", "-", "-", "-"])
                continue
            p, cost = best.params, chip_cost(best.params)
            rows.append([budget.label, model, f"{p.macs:,} MACs, {p.sram_bytes / 2 ** 20:g} MiB, {p.dram_channels} ch",
                         f"{cost.total_area_mm2:.1f}", f"{best.totals['tokens_per_s']:.3g}",
                         f"{best.totals['energy_per_token_j']:.3g}", f"{best.totals['power_w']:.3g}"])
    click.echo(text_table(["budget", "model", "chip", "area mm2", "tok/s", "J/token", "W"], rows))
