"""The equal-quality tables of a report: the comparison set's published quality, its members
side by side on each chip (with the measured-error band), decode speed against context length,
and the sensitivity of the looped/standard speed ratio to chip parameters.

Each `*_rows` function returns raw rows (SI values, one column per metric); `tables` turns them
into the display strings the report prints and the conclusion quotes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hwsim.report.collect import ReportData, iso_peers, usable_rows
from hwsim.report.presets import NUMERIC_TOTALS
from hwsim.sweep.constraints import ENGINE_INDEPENDENT
from hwsim.report.table import (CONTEXT_COLUMNS, DEPTH_COLUMNS, ISO_COLUMNS, QUALITY, RATIO, SENSITIVITY_COLUMNS,
                                display, verdict)

ISO, QUALITY_TABLE, CONTEXT, SENSITIVITY, DEPTH = ("iso-quality", "published quality", "context", "sensitivity",
                                                   "loop depth")


@dataclass
class IsoTables:
    rows: dict[str, pd.DataFrame]        # table name -> raw rows
    shown: dict[str, pd.DataFrame]       # table name -> display strings (same index)
    looped: str                          # the looped member's design label
    peers: list[str]                     # designs of equal or better published quality


def _member_keys(data: ReportData) -> list[tuple[str, float | None, str]]:
    """(model name, loops or None, design label) of each member with a preset, in set order."""
    from hwsim.quality.comparisons import member_label, member_model

    keys = []
    for member in data.comparison.members:
        model = member_model(member)
        if model is not None:
            loops = int(model.loop.count) if model.is_looped else None
            keys.append((model.name, loops, member_label(member)))
    return keys


def _select(frame: pd.DataFrame, name: str, loops: float | None) -> pd.DataFrame:
    rows = frame[frame["model"] == name]
    return rows[rows["loops"] == loops] if loops is not None else rows[rows["loops"].isna()]


def quality_rows(data: ReportData) -> pd.DataFrame:
    """The set's published scores, one row per member (columns `quality.<benchmark>`, `quality.avg`)."""
    from hwsim.quality import benchmark_key

    table = data.quality_table
    renamed = {b: f"quality.{benchmark_key(b)}" for b in data.comparison.benchmarks}
    rows = table.rename(columns={**renamed, "avg": "quality.avg"})
    return rows[["member", *renamed.values(), "quality.avg", "quality_source"]]


def iso_rows(data: ReportData) -> pd.DataFrame:
    """Every member at the iso format on every chip it ran on, chips in result order; the looped
    member first on each chip. `looped_ratio` = the looped member's tokens/s over the row's."""
    usable = usable_rows(data.results)
    usable = usable[usable["quant"] == data.iso.quant]
    keys = _member_keys(data)
    parts = []
    for chip in dict.fromkeys(usable["hardware"]):
        on_chip = usable[usable["hardware"] == chip]
        picked = [_select(on_chip, name, loops).head(1) for name, loops, _ in keys]
        if picked[0].empty:
            continue
        chip_rows = pd.concat(picked)
        looped_speed = float(picked[0]["tokens_per_s"].iloc[0])
        parts.append(chip_rows.assign(**{RATIO: looped_speed / chip_rows["tokens_per_s"].astype(float)}))
    if not parts:
        return pd.DataFrame(columns=list(ISO_COLUMNS))
    rows = _with_quality(data, pd.concat(parts))
    error = rows["hardware"].map(data.errors).astype(float)
    rows["error"] = error
    rows["tokens_low"] = rows["tokens_per_s"] * (1 - error)
    rows["tokens_high"] = rows["tokens_per_s"] * (1 + error)
    rows["verdict"] = [verdict(r, e if np.isfinite(e) else None) if i > 0 else "(looped)"
                       for i, r, e in zip(_position(rows), rows[RATIO], error)]
    return rows


def _with_quality(data: ReportData, rows: pd.DataFrame) -> pd.DataFrame:
    """`quality` = the report's quality column; `quality_source` = that column's source tag."""
    source = "checkpoint_quality_source" if data.iso.quality.startswith("checkpoint_") else "quality_source"
    rows = rows.copy()
    rows[QUALITY] = pd.to_numeric(rows[data.iso.quality], errors="coerce")
    rows["quality_source"] = rows[source]
    return rows


def depth_rows(data: ReportData) -> pd.DataFrame:
    """The looped member's model at every loop count run, at the iso format, by chip then loops."""
    name = _member_keys(data)[0][0]
    usable = usable_rows(data.results)
    rows = usable[(usable["model"] == name) & (usable["quant"] == data.iso.quant) & usable["loops"].notna()]
    order = {chip: i for i, chip in enumerate(dict.fromkeys(usable["hardware"]))}
    rows = rows.assign(_chip=rows["hardware"].map(order)).sort_values(["_chip", "loops"], kind="stable")
    return _with_quality(data, rows.drop(columns="_chip"))


def _position(rows: pd.DataFrame) -> list[int]:
    """0 for the first row of each chip (the looped member), 1.. after it."""
    return list(rows.groupby("hardware", sort=False).cumcount())


def context_rows(data: ReportData) -> pd.DataFrame | None:
    if data.context is None:
        return None
    frame = data.context
    fits = frame["fits"].astype(bool)
    # A context pruned for not fitting memory is a result too ("does not fit: needs X, has Y"):
    # its capacity totals are exact, its times (a floor bound, not a prediction) are left blank.
    pruned = (frame["status"] == "pruned") & ~fits
    rows = frame[(frame["status"] == "ok") | pruned].copy()
    rows["fits"] = rows["fits"].astype(bool)
    timed = [k for k in NUMERIC_TOTALS if k in rows and k not in ENGINE_INDEPENDENT]
    rows.loc[pruned[rows.index], timed] = float("nan")
    return rows.sort_values(["design", "prompt_len"], kind="stable")


def sensitivity_rows(data: ReportData) -> pd.DataFrame | None:
    """Per knob value: the looped member's tokens/s, the fastest equal-quality peer's, the ratio
    and the verdict within the chip class's measured error. A loop-only knob (no value on the
    peers' rows) compares every value with the peers at the base configuration."""
    if data.sensitivity is None:
        return None
    frame = usable_rows(data.sensitivity)
    looped_design = _member_keys(data)[0][2]
    records = []
    for knob, knob_rows in frame.groupby("knob", sort=False):
        fixed_peers = knob_rows[knob_rows["knob_value"].isna()]
        for value, group in knob_rows[knob_rows["knob_value"].notna()].groupby("knob_value", sort=False):
            mine = group[group["design"] == looped_design]
            peers = pd.concat([group[group["design"] != looped_design], fixed_peers])
            if mine.empty or peers.empty:
                continue
            index = mine.index[0]
            best = peers.loc[pd.to_numeric(peers["tokens_per_s"]).idxmax()]
            records.append({"index": index, "knob": knob, "knob_value": value, "design": looped_design,
                            "hardware": mine.at[index, "hardware"],
                            "tokens_per_s": float(mine.at[index, "tokens_per_s"]), "peer": best["design"],
                            "peer_tokens_per_s": float(best["tokens_per_s"])})
    if not records:
        return None
    rows = pd.DataFrame(records).set_index("index")
    rows[RATIO] = rows["tokens_per_s"] / rows["peer_tokens_per_s"]
    errors = rows["hardware"].map(data.errors)
    rows["verdict"] = [verdict(r, e if pd.notna(e) else None) for r, e in zip(rows[RATIO], errors)]
    return rows


def tables(data: ReportData) -> IsoTables | None:
    """All equal-quality tables of a report (None when it has no iso_quality set)."""
    if data.iso is None:
        return None
    rows = {QUALITY_TABLE: quality_rows(data), ISO: iso_rows(data), DEPTH: depth_rows(data)}
    context, sensitivity = context_rows(data), sensitivity_rows(data)
    if context is not None:
        rows[CONTEXT] = context
    if sensitivity is not None:
        rows[SENSITIVITY] = sensitivity
    columns = {QUALITY_TABLE: list(rows[QUALITY_TABLE].columns), ISO: ISO_COLUMNS, CONTEXT: CONTEXT_COLUMNS,
               SENSITIVITY: SENSITIVITY_COLUMNS, DEPTH: DEPTH_COLUMNS}
    shown = {name: display(frame, columns[name]) for name, frame in rows.items()}
    peers = iso_peers(data.quality_table, data.iso.tolerance)["member"].tolist()
    return IsoTables(rows, shown, peers[0], peers[1:])
