"""The conclusion in plain words, written from the report's tables.

It answers "which design, on which chip, and why": the winner on each chip and its lead, what
binds it (DRAM bandwidth, compute, launch overhead, or capacity: what did not fit), where the
looped model stands against the standard ones and what each extra loop costs, and from the
residency curve how much SRAM would keep the looped block on chip. Every number comes from a
table cell through `Citer.cite`, which formats with the tables' own formatter and records
(table, row, column, text) so a test can check the text against the tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from hwsim.report.table import ADVANTAGE, fmt, header, ranked

SUMMARY, RESIDENCY = "summary", "residency"

_BINDS = {
    "memory": "memory-bound (DRAM bandwidth sets its speed: every token streams the weights)",
    "compute": "compute-bound (the matrix engine sets its speed)",
    "overhead": "overhead-bound (per-op launch cost sets its speed)",
}


@dataclass
class Conclusion:
    paragraphs: list[str]
    citations: list[tuple[str, object, str, str]] = field(default_factory=list)  # (table, row, column, text)

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


class Citer:
    """Quotes table cells: `cite(row, metric)` returns the cell's text and remembers it."""

    def __init__(self, rows: pd.DataFrame, table: str, citations: list, formatter=fmt, namer=header):
        self.rows, self.table, self.citations = rows, table, citations
        self.formatter, self.namer = formatter, namer

    def cite(self, index, metric: str) -> str:
        text = self.formatter(metric, self.rows.at[index, metric])
        self.citations.append((self.table, index, self.namer(metric), text))
        return text


def _name(row: pd.Series) -> str:
    return f"{row['design']} ({row['quant']})"


def _best(rows: pd.DataFrame, metric: str, sense: str):
    values = pd.to_numeric(rows[metric], errors="coerce")
    return values.idxmax() if sense == "max" else values.idxmin()


def write_conclusion(results: pd.DataFrame, objective: tuple[str, str],
                     residency: pd.DataFrame | None = None, residency_chip: str = "", iso=None) -> Conclusion:
    """Paragraphs: the answer at equal quality (with `iso`, hwsim.report.iso.tables output), the
    answer by the objective alone, one per chip, the looped model, the residency curve,
    prefill-only models, and what was left out. `residency` is `table.residency_rows(...)`."""
    metric, sense = objective
    rows = ranked(results, objective)
    citations: list = []
    cite = Citer(rows, SUMMARY, citations).cite
    paragraphs = []
    if iso is not None:
        paragraphs += iso_paragraphs(iso, citations)
    decoding = rows[rows["has_decode"].astype(bool)]
    if len(decoding):
        paragraphs.append(("By the objective alone (ignoring quality): " if iso is not None else "")
                          + _answer(decoding, metric, sense, cite))
    for chip, chip_rows in decoding.groupby("hardware", sort=False):
        paragraphs.append(_chip_paragraph(chip, chip_rows, metric, cite))
    looped = _looped_paragraph(decoding, metric, cite)
    if looped:
        paragraphs.append(looped)
    if residency is not None and len(residency):
        text = _residency_paragraph(residency, residency_chip, Citer(residency, RESIDENCY, citations).cite)
        if text:
            paragraphs.append(text)
    tasks = rows[~rows["has_decode"].astype(bool)]
    if len(tasks):
        parts = [f"{_name(tasks.loc[i])} on {tasks.at[i, 'hardware']} takes {cite(i, 'ttft_s')} per task "
                 f"({cite(i, 'energy_per_token_j')} per position, {tasks.at[i, 'bound']}-bound)"
                 for i in tasks.index]
        paragraphs.append("Prefill-only reasoning models (no decode, ranked apart): " + "; ".join(parts)
                          + ". A task here is one forward of one test input over all supervision steps; the "
                            "published ARC-AGI scores vote over a thousand augmented variants of each input "
                            "(workloads/tasks/trm.yaml), which this per-task cost excludes.")
    paragraphs.append(_left_out(results, rows))
    return Conclusion(paragraphs, citations)


def _answer(decoding: pd.DataFrame, metric: str, sense: str, cite) -> str:
    top = _best(decoding, metric, sense)
    best = decoding.loc[top]
    winners = {chip: group.iloc[0] for chip, group in decoding.groupby("hardware", sort=False)}
    same = len({(w["design"], w["quant"]) for w in winners.values()}) == 1
    word = "highest" if sense == "max" else "lowest"
    text = (f"Answer: run {_name(best)} on {best['hardware']}: it has the {word} {header(metric)} of all "
            f"designs, {cite(top, metric)} (TPOT {cite(top, 'tpot_s')}, {cite(top, 'energy_per_token_j')} "
            f"per token).")
    if same and len(winners) > 1:
        text += " The same design wins on every chip; the chips differ in speed, not in the choice."
    return text


def _chip_paragraph(chip: str, rows: pd.DataFrame, metric: str, cite) -> str:
    first = rows.index[0]
    winner = rows.loc[first]
    text = (f"On {chip}, {_name(winner)} wins with {cite(first, metric)}; it is "
            f"{_BINDS.get(winner['bound'], str(winner['bound']) + '-bound')}, moving "
            f"{cite(first, 'dram_bytes_per_token')} of DRAM per token for a {cite(first, 'memory_footprint_bytes')} "
            f"footprint.")
    others = rows[rows["design"] != winner["design"]]
    if len(others):
        second = others.index[0]
        text += (f" The next design, {_name(rows.loc[second])}, reaches {cite(second, metric)}: the winner leads "
                 f"by {cite(second, ADVANTAGE)}.")
    bounds = set(rows["bound"])
    if len(bounds) == 1:
        text += f" Every design on this chip is {next(iter(bounds))}-bound."
    else:
        text += " Designs here are " + " or ".join(sorted(f"{b}-bound" for b in bounds)) + "."
    return text


def _looped_paragraph(decoding: pd.DataFrame, metric: str, cite) -> str:
    """Where the looped model stands: its best design against each chip's winner, and what the
    deepest loop costs on the chip where the looped model does best."""
    looped = decoding[decoding["loops"].notna()]
    standard = decoding[decoding["loops"].isna()]
    if looped.empty or standard.empty:
        return ""
    standings = []          # (chip, looped best index, standard best index, looped wins)
    for chip, group in decoding.groupby("hardware", sort=False):
        mine, theirs = group[group["loops"].notna()], group[group["loops"].isna()]
        if len(mine) and len(theirs):
            standings.append((chip, mine.index[0], theirs.index[0], mine.index[0] == group.index[0]))
    pairs = {(_name(decoding.loc[a]), _name(decoding.loc[b]), wins) for _, a, b, wins in standings}
    model = looped["model"].iloc[0]
    if len(pairs) == 1 and len(standings) > 1:
        mine, theirs, wins = next(iter(pairs))
        verb = "beats" if wins else "trails"
        leads = ", ".join(f"{cite(b if wins else a, ADVANTAGE)} on {chip}" for chip, a, b, _ in standings)
        text = f"The looped model {model}: on every chip its best design, {mine}, {verb} {theirs}, by {leads}."
    else:
        parts = [f"on {chip} its best, {_name(decoding.loc[a])}, "
                 + (f"wins (the best standard design {_name(decoding.loc[b])} trails by {cite(b, ADVANTAGE)})"
                    if wins else f"trails {_name(decoding.loc[b])} by {cite(a, ADVANTAGE)}")
                 for chip, a, b, wins in standings]
        text = f"The looped model {model}: " + "; ".join(parts) + "."
    chip = looped.loc[looped.index[looped["advantage"].argmin()], "hardware"]
    mine = looped[looped["hardware"] == chip]
    quant = mine.iloc[0]["quant"]
    mine = mine[mine["quant"] == quant].sort_values("loops")
    if len(mine) > 1:
        shallow, deep = mine.index[0], mine.index[-1]
        grows = mine.at[deep, "dram_bytes_per_token"] > 1.5 * mine.at[shallow, "dram_bytes_per_token"]
        text += (f" Each extra loop re-runs the shared block: on {chip} at {quant}, going from "
                 f"{mine.at[shallow, 'design']} to {mine.at[deep, 'design']} takes {header(metric)} from "
                 f"{cite(shallow, metric)} to {cite(deep, metric)} and DRAM traffic from "
                 f"{cite(shallow, 'dram_bytes_per_token')} to {cite(deep, 'dram_bytes_per_token')} per token, while "
                 f"the footprint goes from {cite(shallow, 'memory_footprint_bytes')} to "
                 f"{cite(deep, 'memory_footprint_bytes')}: "
                 + ("the block does not stay on chip, so its weights stream from DRAM once per iteration and the "
                    "looped model pays for depth in bandwidth, not in capacity." if grows else
                    "the block stays on chip, so depth costs compute time rather than DRAM traffic."))
    return text


def _residency_paragraph(rows: pd.DataFrame, chip: str, cite) -> str:
    """The SRAM size at which the deepest loop count moves no more DRAM per token than the
    shallowest does at the smallest SRAM: where the looped block becomes resident."""
    if rows["loops"].isna().all() or rows["loops"].nunique() < 2:
        return ""
    shallow_loops, deep_loops = rows["loops"].min(), rows["loops"].max()
    shallow = rows[rows["loops"] == shallow_loops].sort_values("sram_bytes")
    deep = rows[rows["loops"] == deep_loops].sort_values("sram_bytes")
    ref, small, large = shallow.index[0], deep.index[0], deep.index[-1]
    text = (f"What would have to change (residency curve, event simulation{' on ' + chip if chip else ''}): "
            f"with {cite(small, 'sram_bytes')} of SRAM the {cite(small, 'loops')}-loop design moves "
            f"{cite(small, 'dram_bytes_per_token')} of DRAM per token against {cite(ref, 'dram_bytes_per_token')} "
            f"for the {cite(ref, 'loops')}-loop design.")
    resident = deep[deep["dram_bytes_per_token"] <= rows.at[ref, "dram_bytes_per_token"]]
    if len(resident):
        at = resident.index[0]
        before = deep.index[deep.index.get_loc(at) - 1] if deep.index.get_loc(at) > 0 else None
        text += (f" Only at {cite(at, 'sram_bytes')} does it move less ({cite(at, 'dram_bytes_per_token')}): the "
                 f"shared block becomes resident"
                 + (f" between {cite(before, 'sram_bytes')} and {cite(at, 'sram_bytes')}." if before is not None
                    else "."))
    else:
        text += (f" Even at {cite(large, 'sram_bytes')} it still moves {cite(large, 'dram_bytes_per_token')}: "
                 "the shared block never becomes resident in the range simulated.")
    slow, fast = rows.at[small, "tpot_s"], rows.at[large, "tpot_s"]
    text += (f" Over that range its TPOT goes from {cite(small, 'tpot_s')} to {cite(large, 'tpot_s')} and its "
             f"energy per token from {cite(small, 'energy_per_token_j')} to {cite(large, 'energy_per_token_j')}")
    if fast > 0 and slow / fast < 1.2:
        text += (f": the chip is {rows.at[large, 'bound']}-bound here, so more SRAM saves DRAM energy but not "
                 "time; a faster matrix engine, not a larger SRAM, would speed the looped model up.")
    else:
        text += ": on-chip residency is what would close the gap to the standard models."
    return text


def _left_out(results: pd.DataFrame, usable: pd.DataFrame) -> str:
    excluded = results.drop(index=usable.index, errors="ignore")
    if excluded.empty:
        return "Capacity binds nothing here: every design fits every chip's memory and met its constraints."
    names = sorted({f"{r.design} ({r.quant}) on {r.hardware}" for r in excluded.itertuples()})
    return "Left out (did not fit memory, broke a constraint or failed): " + ", ".join(names) + "."


# ----------------------------------------------------------------------------- equal quality


def iso_paragraphs(iso, citations: list) -> list[str]:
    """The answer at equal quality, what depth buys, context length, and what would flip it."""
    from hwsim.report import iso as I
    from hwsim.report.table import RATIO, fmt_extra, header_extra

    def citer(name):
        return Citer(iso.rows[name], name, citations, fmt_extra, header_extra).cite

    paragraphs = [_iso_answer(iso, citer(I.QUALITY_TABLE), citer(I.ISO), RATIO)]
    depth = _depth_paragraph(iso.rows[I.DEPTH], citer(I.DEPTH))
    if depth:
        paragraphs.append(depth)
    if I.CONTEXT in iso.rows:
        text = _context_paragraph(iso, citer(I.CONTEXT))
        if text:
            paragraphs.append(text)
    if I.SENSITIVITY in iso.rows:
        paragraphs.append(_sensitivity_paragraph(iso.rows[I.SENSITIVITY], citer(I.SENSITIVITY), RATIO))
    return paragraphs


def _iso_answer(iso, cite_quality, cite_iso, ratio: str) -> str:
    from hwsim.report import iso as I

    quality, rows = iso.rows[I.QUALITY_TABLE], iso.rows[I.ISO]
    looped = quality.index[0]
    peers = [i for i in quality.index[1:] if quality.at[i, "member"] in iso.peers]
    text = (f"Answer at equal quality: {iso.looped} averages {cite_quality(looped, 'quality.avg')} "
            f"({quality.at[looped, 'quality_source']})")
    if peers:
        text += "; its equal-quality peers (within the set's tolerance or better): " + ", ".join(f"{quality.at[i, 'member']} ({cite_quality(i, 'quality.avg')})"
                                             for i in peers)
        peer = peers[0]
        benchmarks = [c for c in quality.columns if c.startswith("quality.") and c != "quality.avg"]
        leads = [b for b in benchmarks if quality.at[looped, b] > quality.at[peer, b] + 1.0]
        trails = [b for b in benchmarks if quality.at[looped, b] < quality.at[peer, b] - 1.0]
        if leads:
            text += (f"; against {quality.at[peer, 'member']} it leads on "
                     + ", ".join(f"{b.removeprefix('quality.')} ({cite_quality(looped, b)} vs "
                                 f"{cite_quality(peer, b)})" for b in leads))
        if trails:
            text += (" and trails on " + ", ".join(f"{b.removeprefix('quality.')} ({cite_quality(looped, b)} vs "
                                                    f"{cite_quality(peer, b)})" for b in trails))
    text += ". Scores are the published unquantised checkpoints (one comparable group; no quantisation penalty is " \
            "published for these models)."
    parts = []
    for chip, group in rows.groupby("hardware", sort=False):
        mine = group.index[0]
        equal = [i for i in group.index[1:] if rows.at[i, "design"] in iso.peers]
        if not equal:
            continue
        best = max(equal, key=lambda i: rows.at[i, "tokens_per_s"])
        parts.append(f"on {chip} {cite_iso(mine, 'tokens_per_s')} against {rows.at[best, 'design']}'s "
                     f"{cite_iso(best, 'tokens_per_s')} ({cite_iso(best, ratio)}, {rows.at[best, 'verdict']}; "
                     f"measured error of the chip's class {cite_iso(best, 'error')} %)")
    if parts:
        text += f" Speed at {rows['quant'].iloc[0]} (decode-heavy run): {iso.looped} reaches " + "; ".join(parts) + "."
    return text


def _depth_paragraph(rows: pd.DataFrame, cite) -> str:
    """What depth buys: quality and speed at each loop count on the first chip, trained depth marked."""
    from hwsim.quality.model import trained_loops

    if rows.empty or rows["loops"].nunique() < 2:
        return ""
    chip = rows["hardware"].iloc[0]
    mine = rows[rows["hardware"] == chip]
    trained = trained_loops(mine["model"].iloc[0])
    parts = [f"{mine.at[i, 'design']} {cite(i, 'quality')} at {cite(i, 'tokens_per_s')}"
             + (" (trained depth)" if trained is not None and mine.at[i, "loops"] == trained else "")
             + (f" ({mine.at[i, 'quality_source'].split(':')[0]})" if trained is not None
                and mine.at[i, "loops"] > trained else "")
             for i in mine.index]
    text = f"Loop depth on {chip} (quality average against tokens/s): " + ", ".join(parts) + "."
    at_trained = mine[mine["loops"] == trained]
    deeper = mine[mine["loops"] > (trained or mine["loops"].max())]
    if len(at_trained) and len(deeper):
        falls = deeper["quality"].max() < at_trained["quality"].iloc[0]
        text += (" Past the trained depth the published quality " + ("falls" if falls else "does not rise")
                 + " while every extra loop costs another pass over the shared block.")
    return text


def _context_paragraph(iso, cite) -> str:
    from hwsim.report import iso as I

    rows = iso.rows[I.CONTEXT]
    mine = rows[rows["design"] == iso.looped].sort_values("prompt_len")
    peers = rows[rows["design"].isin(iso.peers)]
    if mine.empty or peers.empty:
        return ""
    peer = peers["design"].iloc[0]
    theirs = peers[peers["design"] == peer].set_index("prompt_len", drop=False)
    fitting = mine[mine["fits"]]
    text = f"Context length (decode on {mine['hardware'].iloc[0]}): "
    if len(fitting):
        last = fitting.index[-1]
        length = mine.at[last, "prompt_len"]
        other = rows.index[(rows["design"] == peer) & (rows["prompt_len"] == length)]
        text += f"at {cite(last, 'prompt_len')} tokens {iso.looped} decodes {cite(last, 'tokens_per_s')}"
        if len(other):
            text += f" against {peer}'s {cite(other[0], 'tokens_per_s')}"
        text += f" (footprint {cite(last, 'memory_footprint_bytes')})"
    over = mine[~mine["fits"]]
    if len(over):
        first = over.index[0]
        text += (f"; from {cite(first, 'prompt_len')} tokens it needs {cite(first, 'memory_footprint_bytes')} "
                 f"of {cite(first, 'memory_capacity_bytes')} and does not fit (one KV cache per loop iteration)")
        longest = theirs[theirs["fits"]]
        if len(longest):
            i = rows.index[(rows["design"] == peer) & (rows["prompt_len"] == longest["prompt_len"].max())][0]
            text += f", while {peer} still fits at {cite(i, 'prompt_len')} tokens ({cite(i, 'tokens_per_s')})"
    return text + "."


def _sensitivity_paragraph(rows: pd.DataFrame, cite, ratio: str) -> str:
    low, high = rows[ratio].idxmin(), rows[ratio].idxmax()
    chip = rows["hardware"].iloc[0]
    text = (f"What would flip it (sensitivity on {chip}, one knob at a time, looped tokens/s over the fastest "
            f"equal-quality peer's): the ratio runs from {cite(low, ratio)} ({rows.at[low, 'knob']} "
            f"{cite(low, 'knob_value')}) to {cite(high, ratio)} ({rows.at[high, 'knob']} {cite(high, 'knob_value')})")
    faster = rows[rows["verdict"] == "looped faster"]
    if len(faster):
        i = faster.index[0]
        text += f"; the looped model wins at {rows.at[i, 'knob']} {cite(i, 'knob_value')} ({cite(i, ratio)})."
    else:
        text += ("; no setting in these ranges makes the looped model faster than the chip class's measured error"
                 " band, so the answer holds for SRAM size, DRAM bandwidth, datapath peak, LM-head precision and KV "
                 "policy as studied.")
    return text
