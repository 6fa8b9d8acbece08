"""The conclusion quotes the summary table: same numbers, same formatting."""

import re

import pandas as pd

from hwsim.report.conclusion import RESIDENCY, SUMMARY, write_conclusion
from hwsim.report.table import ADVANTAGE, fmt, ranked, residency_rows, residency_table, summary_table

NUMBER = re.compile(r"\d+(?:\.\d+)?\s?(?:MiB|[kMGTmµnp]?(?:tok/s|s|J|W|B))?x?")


def _conclude(data):
    return write_conclusion(data.results, data.objective, residency_rows(data.residency), "edge-npu")


def _tables(data):
    return {SUMMARY: summary_table(data.results, data.objective),
            RESIDENCY: residency_table(residency_rows(data.residency))}


def test_every_cited_number_is_the_table_cell(tiny_data):
    tables = _tables(tiny_data)
    conclusion = _conclude(tiny_data)
    assert {table for table, *_ in conclusion.citations} == {SUMMARY, RESIDENCY}
    for table, index, column, text in conclusion.citations:
        assert tables[table].at[index, column] == text
        assert text in conclusion.text


def test_no_number_in_the_conclusion_is_missing_from_the_tables(tiny_data):
    tables = _tables(tiny_data)
    conclusion = _conclude(tiny_data).text
    cells = set(tables[SUMMARY].to_numpy().ravel()) | set(tables[RESIDENCY].to_numpy().ravel())
    results = tiny_data.results
    names = set(results["design"]) | set(results["model"]) | set(results["quant"]) | set(results["hardware"])
    for name in sorted(names, key=len, reverse=True):
        conclusion = conclusion.replace(name, "")
    quoted = [m.group(0).strip() for m in NUMBER.finditer(conclusion)]
    assert quoted
    for number in quoted:
        assert number in cells, f"{number!r} is in the conclusion but in no table cell"


def test_conclusion_names_the_winner_and_its_lead(tiny_data):
    metric, _ = tiny_data.objective
    rows = ranked(tiny_data.results, tiny_data.objective)
    decoding = rows[rows["has_decode"]]
    for chip, group in decoding.groupby("hardware"):
        winner = group.iloc[0]
        assert winner[metric] == group[metric].max()
        text = _conclude(tiny_data).text
        assert f"On {chip}, {winner['design']} ({winner['quant']}) wins with {fmt(metric, winner[metric])}" in text
        runner = group[group["design"] != winner["design"]].iloc[0]
        lead = winner[metric] / runner[metric]
        assert f"leads by {fmt(ADVANTAGE, lead)}" in text


def test_advantage_is_best_over_row(tiny_data):
    rows = ranked(tiny_data.results, tiny_data.objective)
    for _, group in rows.groupby(["hardware", "has_decode"]):
        best = group["tokens_per_s"].max()
        assert (abs(group[ADVANTAGE] - best / group["tokens_per_s"]) < 1e-12).all()
        assert group[ADVANTAGE].iloc[0] == 1.0


def _curve(dram_by_sram: dict[int, list[float]], tpot_s: float = 0.05) -> pd.DataFrame:
    """A residency table: {loops: DRAM bytes per token at 8, 64, 512 MiB}."""
    rows = [{"loops": loops, "sram_bytes": mib * 2**20, "dram_bytes_per_token": dram, "tpot_s": tpot_s,
             "tokens_per_s": 1 / tpot_s, "energy_per_token_j": dram * 1e-10, "bound": "compute", "status": "ok"}
            for loops, values in dram_by_sram.items() for mib, dram in zip((8, 64, 512), values)]
    return residency_rows(pd.DataFrame(rows))


def test_residency_names_the_sram_size_where_the_loop_stops_costing_traffic(tiny_data):
    # 4 loops move 3.2, 2.0, 0.5 GB; 1 loop moves 0.8 GB at 8 MiB: the deep design drops below
    # that first at 512 MiB, so the block becomes resident between 64 and 512 MiB.
    curve = _curve({1: [0.8e9, 0.6e9, 0.2e9], 4: [3.2e9, 2.0e9, 0.5e9]})
    text = write_conclusion(tiny_data.results, tiny_data.objective, curve, "chip").text
    assert "with 8 MiB of SRAM the 4-loop design moves 3.2 GB of DRAM per token against 800 MB" in text
    assert "Only at 512 MiB does it move less (500 MB)" in text
    assert "between 64 MiB and 512 MiB" in text
    assert "saves DRAM energy but not time" in text      # same TPOT at every size


def test_residency_says_when_the_block_never_becomes_resident(tiny_data):
    curve = _curve({1: [0.8e9, 0.6e9, 0.2e9], 2: [1.6e9, 1.2e9, 0.9e9]})
    text = write_conclusion(tiny_data.results, tiny_data.objective, curve, "chip").text
    assert "Even at 512 MiB it still moves 900 MB" in text and "never becomes resident" in text
