"""The conclusion quotes the summary table: same numbers, same formatting."""

import re

from hwsim.report.conclusion import write_conclusion
from hwsim.report.table import ADVANTAGE, fmt, ranked, summary_table

NUMBER = re.compile(r"\d+(?:\.\d+)?\s?(?:[kMGTmµnp]?(?:tok/s|s|J|W|B))?x?")


def test_every_cited_number_is_the_table_cell(tiny_data):
    table = summary_table(tiny_data.results, tiny_data.objective)
    conclusion = write_conclusion(tiny_data.results, tiny_data.objective)
    assert conclusion.citations
    for index, column, text in conclusion.citations:
        assert table.at[index, column] == text
        assert text in conclusion.text


def test_no_number_in_the_conclusion_is_missing_from_the_table(tiny_data):
    table = summary_table(tiny_data.results, tiny_data.objective)
    conclusion = write_conclusion(tiny_data.results, tiny_data.objective).text
    cells = set(table.to_numpy().ravel())
    names = set(tiny_data.results["design"]) | set(tiny_data.results["quant"]) | set(tiny_data.results["hardware"])
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
        text = write_conclusion(tiny_data.results, tiny_data.objective).text
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
