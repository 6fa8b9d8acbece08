"""Report preset `chip-codesign-edge`: the best edge chip for a looped model (Ouro-1.4B, 4 loops)
and its iso-quality standard peer (Qwen3-4B) under 25 / 50 / 100 mm2 x 2 / 5 / 10 W in 7 and
5 nm (hwsim.chip.codesign), where each optimum puts its area, each model's tokens/s and J/token
on each optimum, and whether the looped model's shared block becomes resident and wins.

Every number the conclusion quotes is a cell of one of the tables (the same formatted string).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from hwsim.chip.codesign import Budget, Optimum, Run, best_chip, largest_sram_mib, looped_block_bytes
from hwsim.chip.model import chip_cost
from hwsim.report.presets import Written

NAME = "chip-codesign-edge"
LOOPED, STANDARD = "ouro-1.4b", "qwen3-4b"
NODES = ("7nm", "5nm")
AREAS_MM2 = (25, 50, 100)
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
    from hwsim.cost.roofline import roofline_totals
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
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def run_report(out_dir: Path | str, run: Run | None = None) -> tuple[str, list[str]]:
    """Search every budget, write report.md, results.csv and manifest.json to `out_dir`;
    return (path of report.md, conclusion paragraphs)."""
    import pandas as pd

    run = run or Run()
    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    block_mib = looped_block_bytes(LOOPED, run.quant) / 2 ** 20
    optima = {(b, m): best_chip(b, m, run) for b in budgets() for m in (LOOPED, STANDARD)}

    optimum_rows, cross_rows, residency_rows, records = [], [], [], []
    first_win = None
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
        residency_rows.append([b.label, f"{block_mib:.0f}", f"{sram:g}", f"{largest:g}", "yes" if resident else "no",
                               _perf(lo.totals)[0], _perf(st.totals)[0], "yes" if wins else "no"])
        if first_win is None and resident and wins:
            first_win = residency_rows[-1]

    conclusion = _conclusion(residency_rows, first_win, optimum_rows[-2:])
    tables = {
        "Best chip per budget and model (decode tokens/s, int4-g128)": _table(
            ["node", "mm2", "W", "model", "chip", "MAC area", "SRAM area", "DRAM PHY+ctrl", "uncore",
             "clock", "area mm2", "tok/s", "J/token", "W run"], optimum_rows),
        "Each model on each optimum": _table(["budget", "chip optimised for", "model run", "tok/s", "J/token", "W run"],
                                             cross_rows),
        "Shared-block residency of the looped model": _table(
            ["budget", "Ouro block MiB", "SRAM on Ouro's optimum MiB", "largest SRAM that fits MiB", "resident",
             "Ouro tok/s", "Qwen3-4B tok/s", "looped wins"], residency_rows),
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
    text.append(f"_{sum(o.simulated for o in optima.values())} event simulations, "
                f"{sum(o.candidates for o in optima.values())} candidates screened, {elapsed:.0f} s._")
    path = out / "report.md"
    path.write_text("\n".join(text) + "\n")
    pd.DataFrame.from_records(records).to_csv(out / "results.csv", index=False)
    (out / "manifest.json").write_text(json.dumps({"report": NAME, "run": run.__dict__, "elapsed_s": elapsed,
                                                   "files": ["report.md", "results.csv"]}, indent=2) + "\n")
    return str(path), conclusion


def hwsim_codesign_doc() -> str:
    from hwsim.chip import codesign

    return " ".join(codesign.__doc__.split())


def _conclusion(rows: list[list[str]], first_win: list[str] | None, top_optima: list[list[str]]) -> list[str]:
    """Paragraphs quoting cells of the residency table and of the optimum table's largest budget
    (`top_optima`: its two rows) verbatim."""
    largest = max(rows, key=lambda r: float(r[3]))
    paragraphs = []
    if first_win is None:
        paragraphs.append(
            f"The looped model's shared block ({rows[0][1]} MiB) never becomes resident: the largest SRAM that fits "
            f"any budget is {largest[3]} MiB ({largest[0]}), and the chips that serve Ouro-1.4B best keep at most "
            f"{max(rows, key=lambda r: float(r[2]))[2]} MiB.")
    else:
        paragraphs.append(f"The looped model's shared block ({first_win[1]} MiB) is resident first at {first_win[0]}, "
                          f"where Ouro-1.4B reaches {first_win[5]} tok/s against Qwen3-4B's {first_win[6]}.")
    wins = [r for r in rows if r[7] == "yes"]
    top = rows[-1]
    if wins:
        paragraphs.append("Ouro-1.4B is faster than Qwen3-4B at " + ", ".join(r[0] for r in wins) + ".")
    paragraphs.append(f"At the largest budget ({top[0]}) Ouro-1.4B decodes {top[5]} tok/s and Qwen3-4B {top[6]} tok/s "
                      f"(looped wins: {top[7]}).")
    for row in top_optima:
        paragraphs.append(f"There the optimum for {row[3]} is {row[4]}: {row[5]} of its area in MACs, {row[6]} in SRAM, "
                          f"{row[7]} in DRAM PHYs and controllers; {row[11]} tok/s at {row[12]} J/token, "
                          f"drawing {row[13]} W at {row[9]}.")
    return paragraphs


def write(out_dir: Path | str, command: list[str] | None = None) -> Written:
    """The code-preset entry point (hwsim.report.presets.CODE_PRESETS): run_report's files and
    conclusion."""
    _, conclusion = run_report(out_dir)
    return Written(conclusion, ["report.md", "results.csv", "manifest.json"])
