"""The conclusion in plain words, written from the summary table's numbers.

Every number comes from a table cell through `Citer.cite`, which formats with the table's own
formatter and records (row, column) so a test can check the text against the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from hwsim.report.table import ADVANTAGE, fmt, header, ranked

_BINDS = {
    "memory": "memory-bound: DRAM bandwidth sets its speed",
    "compute": "compute-bound: the matrix engine sets its speed",
    "overhead": "overhead-bound: per-op launch cost sets its speed",
}


@dataclass
class Conclusion:
    paragraphs: list[str]
    citations: list[tuple[object, str, str]] = field(default_factory=list)  # (row index, column, text)

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


class Citer:
    """Quotes table cells: `cite(row, metric)` returns the cell's text and remembers it."""

    def __init__(self, rows: pd.DataFrame):
        self.rows, self.citations = rows, []

    def cite(self, index, metric: str) -> str:
        text = fmt(metric, self.rows.at[index, metric])
        self.citations.append((index, header(metric), text))
        return text


def _name(row: pd.Series) -> str:
    return f"{row['design']} ({row['quant']})"


def write_conclusion(results: pd.DataFrame, objective: tuple[str, str]) -> Conclusion:
    """Which design wins on each chip, by how much over the next design, what binds it, how the
    best looped and best standard designs compare, and what did not fit."""
    metric, sense = objective
    rows = ranked(results, objective)
    citer = Citer(rows)
    cite = citer.cite
    paragraphs = []
    decoding = rows[rows["has_decode"].astype(bool)]
    word = "highest" if sense == "max" else "lowest"
    if len(decoding):
        top = decoding[metric].idxmax() if sense == "max" else decoding[metric].idxmin()
        best = rows.loc[top]
        paragraphs.append(
            f"Overall, {_name(best)} on {best['hardware']} has the {word} {header(metric)}: "
            f"{cite(top, metric)}, with TPOT {cite(top, 'tpot_s')} and {cite(top, 'energy_per_token_j')} per token.")
    for chip, chip_rows in decoding.groupby("hardware", sort=False):
        paragraphs.append(_chip_paragraph(chip, chip_rows, metric, cite))
    tasks = rows[~rows["has_decode"].astype(bool)]
    if len(tasks):
        parts = [f"{_name(tasks.loc[i])} on {tasks.at[i, 'hardware']} takes {cite(i, 'ttft_s')} per task "
                 f"({cite(i, 'energy_per_token_j')} per position, {tasks.at[i, 'bound']}-bound)"
                 for i in tasks.index]
        paragraphs.append("Prefill-only reasoning models (no decode): " + "; ".join(parts) + ".")
    excluded = results.drop(index=rows.index, errors="ignore")
    if len(excluded):
        names = sorted({f"{r.design} ({r.quant}) on {r.hardware}" for r in excluded.itertuples()})
        paragraphs.append(f"Left out ({len(names)}: did not fit memory, broke a constraint or failed): "
                          + ", ".join(names) + ".")
    return Conclusion(paragraphs, citer.citations)


def _chip_paragraph(chip: str, rows: pd.DataFrame, metric: str, cite) -> str:
    first = rows.index[0]
    winner = rows.loc[first]
    text = (f"On {chip}, {_name(winner)} wins with {cite(first, metric)}; it is "
            f"{_BINDS.get(winner['bound'], str(winner['bound']) + '-bound')}, moving "
            f"{cite(first, 'dram_bytes_per_token')} of DRAM per token with a {cite(first, 'memory_footprint_bytes')} "
            f"footprint.")
    others = rows[rows["design"] != winner["design"]]
    if len(others):
        second = others.index[0]
        text += (f" The next design, {_name(rows.loc[second])}, reaches {cite(second, metric)}: the winner leads "
                 f"by {cite(second, ADVANTAGE)}.")
    looped = rows[rows["loops"].notna()]
    standard = rows[rows["loops"].isna()]
    if len(looped) and len(standard) and (not len(others) or others.index[0] not in (looped.index[0], standard.index[0])):
        # the winner leads its own kind; quote the best design of the other kind
        kind, trail = ("looped", standard) if first in looped.index else ("standard", looped)
        other = trail.index[0]
        text += (f" The best {'standard' if kind == 'looped' else 'looped'} design, {_name(rows.loc[other])}, "
                 f"reaches {cite(other, metric)}: the best {kind} one leads by {cite(other, ADVANTAGE)}.")
    return text
