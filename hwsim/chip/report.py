"""Report preset `chip-codesign-edge`: the best edge chip for a looped model (Ouro-1.4B, 4 loops)
and its iso-quality standard peer (Qwen3-4B) under 25 / 50 / 100 mm2 x 2 / 5 / 10 W in 7 and
5 nm (hwsim.chip.codesign), where each optimum puts its area, each model's tokens/s and J/token
on each optimum, and whether the looped model's shared block becomes resident and wins. The
area budgets go on to 200 and 400 mm2: Ouro's shared block (607 MiB at int4-g128) cannot fit
in 100 mm2 at either node, and the question is where it first does.

Every number the conclusion quotes is a cell of one of the tables (the same formatted string).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from hwsim.chip.codesign import Budget, Optimum, Run, best_chip, largest_sram_mib, looped_block_bytes
from hwsim.chip.model import chip_cost

NAME = "chip-codesign-edge"
LOOPED, STANDARD = "ouro-1.4b", "qwen3-4b"
NODES = ("7nm", "5nm")
AREAS_MM2 = (25, 50, 100, 200, 400)   # 200 / 400: where the shared block can first be resident
POWERS_W = (2, 5, 10)


def budgets() -> list[Budget]:
    return [Budget(n, a, p) for n in NODES for a in AREAS_MM2 for p in POWERS_W]


def _f(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}g}"


def _chip_cells(optimum: Optimum) -> list[str]:
    if optimum.params is None:
        return ["none fits", "-", "-", "-", "-", "-", "-"]
    p = optimum.params
    cost = chip_cost(p)
    area = cost.area_mm2
    share = lambda *keys: f"{100 * sum(area[k] for k in keys) / area['total']:.0f}%"  # noqa: E731
    return [f"{p.macs:,} MACs, {p.sram_bytes / 2 ** 20:g} MiB, {p.dram_channels} ch",
            share("mac_array", "vector"), share("sram"), share("dram_phy", "dram_controller"), share("uncore"),
            f"{cost.clock_hz / 1e9:.2f} GHz", f"{area['total']:.1f}"]


def _perf(totals: dict) -> list[str]:
    if not totals:
        return ["-", "-", "-"]
    return [_f(totals["tokens_per_s"]), _f(totals["energy_per_token_j"]), _f(totals["power_w"])]


def _cross(optimum: Optimum, model_name: str, run: Run) -> dict:
    """`model_name` simulated on the chip optimised for `optimum.model` (same settings)."""
    from hwsim.chip.model import build_hardware
    from hwsim.sim import roofline_totals
    from hwsim.sim import simulate
    from hwsim.validation.predict import case_model

    if optimum.params is None:
        return {}
    if model_name == optimum.model:
        return optimum.totals
    model = case_model(model_name, run.quant)
    hardware = build_hardware(optimum.params)
    if not roofline_totals(model, hardware, phase="decode", prompt_len=run.prompt_len, gen_len=run.gen_len,
                           batch=1, bound="floor")["fits"]:
        return {}
    return dict(simulate(model, hardware, phase="decode", prompt_len=run.prompt_len, gen_len=run.gen_len,
                         batch=1, policy="pin", engine="des").totals)


def _table(header: list[str], rows: list[list[str]]) -> str:
    import pandas as pd

    from hwsim.report.table import to_markdown

    return to_markdown(pd.DataFrame(rows, columns=header))


def run_report(out_dir: Path | str, run: Run | None = None) -> tuple[str, list[str]]:
    """Search every budget, write report.md, results.csv and manifest.json to `out_dir`;
    return (path of report.md, conclusion paragraphs)."""
    import pandas as pd

    run = run or Run()
    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    block_bytes = looped_block_bytes(LOOPED, run.quant)
    block_mib = block_bytes / 2 ** 20
    optima = {(b, m): best_chip(b, m, run) for b in budgets() for m in (LOOPED, STANDARD)}
    # the looped model's best chip among those that hold its shared block (none where none fits)
    holding = {b: best_chip(b, LOOPED, run, min_sram_bytes=block_bytes) for b in budgets()}

    optimum_rows, cross_rows, residency_rows, records = [], [], [], []
    for b in budgets():
        for m in (LOOPED, STANDARD):
            o = optima[(b, m)]
            optimum_rows.append([b.node, f"{b.area_mm2:g}", f"{b.power_w:g}", m, *_chip_cells(o), *_perf(o.totals)])
            records.append({"node": b.node, "area_budget_mm2": b.area_mm2, "power_budget_w": b.power_w, "model": m,
                            "chip": o.params.name if o.params else None, "candidates": o.candidates,
                            "simulated": o.simulated, **{k: o.totals.get(k) for k in ("tokens_per_s",
                            "energy_per_token_j", "power_w", "dram_bytes_per_token")}})
            for other in (LOOPED, STANDARD):
                cross_rows.append([b.label, m, other, *_perf(_cross(o, other, run))])
        lo, st = optima[(b, LOOPED)], optima[(b, STANDARD)]
        sram = lo.params.sram_bytes / 2 ** 20 if lo.params else 0.0
        resident = sram >= block_mib
        wins = bool(lo.totals and (not st.totals or lo.totals["tokens_per_s"] > st.totals["tokens_per_s"]))
        largest = largest_sram_mib(b, run)
        held = holding[b]
        held_wins = bool(held.totals and (not st.totals or held.totals["tokens_per_s"] > st.totals["tokens_per_s"]))
        residency_rows.append([b.label, f"{block_mib:.0f}", f"{sram:g}", f"{largest:g}", "yes" if resident else "no",
                               _perf(lo.totals)[0], _perf(st.totals)[0], "yes" if wins else "no",
                               _chip_cells(held)[0], *_perf(held.totals)[:2], "yes" if held_wins else "no"])

    conclusion = _conclusion(residency_rows, optimum_rows)
    tables = {
        "Best chip per budget and model (decode tokens/s, int4-g128)": _table(
            ["node", "mm2", "W", "model", "chip", "MAC area", "SRAM area", "DRAM PHY+ctrl", "uncore",
             "clock", "area mm2", "tok/s", "J/token", "W run"], optimum_rows),
        "Each model on each optimum": _table(["budget", "chip optimised for", "model run", "tok/s", "J/token", "W run"],
                                             cross_rows),
        "Shared-block residency of the looped model": _table(
            ["budget", "Ouro block MiB", "SRAM on Ouro's optimum MiB", "largest SRAM that fits MiB", "resident",
             "Ouro tok/s", "Qwen3-4B tok/s", "looped wins", "best chip holding the block", "Ouro tok/s on it",
             "Ouro J/token on it", "it beats Qwen3-4B"], residency_rows),
    }
    elapsed = time.perf_counter() - start
    text = [f"# {NAME}: looped vs standard model on the best edge chip per budget", "",
            "Question: at a die-area and power budget, is on-chip SRAM better spent holding the looped model's "
            "shared block or on MACs and DRAM channels for a standard model of similar quality?", "",
            "## Conclusion", "", *[p + "\n" for p in conclusion], "## Method", "",
            (hwsim_codesign_doc()), "",
            f"Decode of {run.gen_len} tokens after a {run.prompt_len}-token prompt, batch 1, {run.quant}, "
            f"{run.dram_type} channels, {run.clock} clock before the power-mode throttle; 8 GB of DRAM; "
            f"event simulation with the `pin` residency policy.", ""]
    for title, table in tables.items():
        text += [f"## {title}", "", table, ""]
    searches = [*optima.values(), *holding.values()]
    text.append(f"_{sum(o.simulated for o in searches)} event simulations, "
                f"{sum(o.candidates for o in searches)} candidates screened, {elapsed:.0f} s._")
    path = out / "report.md"
    path.write_text("\n".join(text) + "\n")
    pd.DataFrame.from_records(records).to_csv(out / "results.csv", index=False)
    (out / "manifest.json").write_text(json.dumps({"report": NAME, "run": run.__dict__, "elapsed_s": elapsed,
                                                   "files": ["report.md", "results.csv"]}, indent=2) + "\n")
    return str(path), conclusion


def hwsim_codesign_doc() -> str:
    from hwsim.chip import codesign

    return " ".join(codesign.__doc__.split())


def _conclusion(rows: list[list[str]], optimum_rows: list[list[str]]) -> list[str]:
    """Paragraphs quoting cells verbatim: per node, where the looped model's shared block is first
    resident and where it first wins (residency table, `rows`, in budget order); then per budget
    each model's optimum (optimum table, `optimum_rows`: the looped and the standard model's row
    of each budget in turn)."""
    paragraphs = []
    for node in dict.fromkeys(r[0].split()[0] for r in rows):
        mine = [r for r in rows if r[0].split()[0] == node]
        resident = next((r for r in mine if r[4] == "yes"), None)
        win = next((r for r in mine if r[7] == "yes"), None)
        held = next((r for r in mine if r[8] != "none fits"), None)
        if resident is None:
            largest = max(mine, key=lambda r: float(r[3]))
            text = (f"In {node} the looped model's shared block ({mine[0][1]} MiB) is never resident on Ouro-1.4B's "
                    f"optimum up to {mine[-1][0]} (the optima keep at most "
                    f"{max(mine, key=lambda r: float(r[2]))[2]} MiB); ")
            if held is None:
                text += f"no chip can hold it: the most SRAM that fits is {largest[3]} MiB ({largest[0]})."
            else:
                text += (f"a chip holding it first fits at {held[0]}, where the best one ({held[8]}) decodes "
                         f"Ouro-1.4B at {held[9]} tok/s and {held[10]} J/token, against {held[5]} tok/s on the "
                         f"optimum and Qwen3-4B's {held[6]}.")
                held_win = next((r for r in mine if r[11] == "yes"), None)
                text += (f" A chip holding it first beats Qwen3-4B at {held_win[0]} ({held_win[9]} against "
                         f"{held_win[6]} tok/s)." if held_win else
                         f" No chip holding it beats Qwen3-4B at any {node} budget.")
        else:
            text = (f"In {node} the looped model's shared block ({resident[1]} MiB) is first resident at {resident[0]} "
                    f"(Ouro-1.4B's optimum keeps {resident[2]} MiB), where Ouro-1.4B decodes {resident[5]} tok/s "
                    f"against Qwen3-4B's {resident[6]}.")
        if win is None:
            text += f" Ouro-1.4B is slower than Qwen3-4B at every {node} budget."
        else:
            text += (f" Ouro-1.4B first beats Qwen3-4B at {win[0]} ({win[5]} against {win[6]} tok/s; "
                     f"shared block resident: {win[4]}).")
        paragraphs.append(text)
    lines = ["Per budget (node, mm2, W), the optimum of each model: its area split (MACs, SRAM, DRAM PHYs and "
             "controllers, uncore), tok/s and J/token:"]
    for looped, standard in zip(optimum_rows[::2], optimum_rows[1::2]):
        lines.append(f"- {looped[0]} {looped[1]} mm2 {looped[2]} W: " + "; ".join(_optimum_text(r) for r in (looped, standard)))
    paragraphs.append("\n".join(lines))
    return paragraphs


def _optimum_text(row: list[str]) -> str:
    if row[4] == "none fits":
        return f"{row[3]}: no candidate fits"
    return (f"{row[3]} on {row[4]} ({row[10]} mm2: {row[5]} MACs, {row[6]} SRAM, {row[7]} DRAM, {row[8]} uncore) "
            f"{row[11]} tok/s at {row[12]} J/token")


def write(out_dir: Path | str, command: list[str] | None = None) -> list[str]:
    """The code-preset entry point (hwsim.report.presets.CODE_PRESETS): write run_report's files,
    return its conclusion."""
    return run_report(out_dir)[1]
