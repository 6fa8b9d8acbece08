"""What a sweep's results say: the Pareto front over its objectives, and which axis moves
each objective most.

Both look only at usable rows: status `ok`, all constraints met, objectives finite.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Peak temporary size of the dominance test, in booleans (block x points x objectives).
_BLOCK_ELEMENTS = 1 << 22


def usable(frame: pd.DataFrame, objectives: dict[str, str]) -> pd.Series:
    """Rows that ran, meet every constraint and have finite values for every objective."""
    mask = (frame["status"] == "ok") & frame["feasible"].astype(bool)
    for name in objectives:
        mask &= np.isfinite(pd.to_numeric(frame[name], errors="coerce"))
    return mask


def non_dominated(costs: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of `costs` (points x objectives, all minimised) that no other
    row dominates (no worse in every objective and better in one). Rows are tested in blocks
    so memory stays bounded for large sweeps."""
    costs = np.asarray(costs, dtype=float)
    count, width = costs.shape
    keep = np.ones(count, dtype=bool)
    block = max(1, _BLOCK_ELEMENTS // max(1, count * width))
    for start in range(0, count, block):
        chunk = costs[start:start + block, None, :]
        no_worse = (costs[None, :, :] <= chunk).all(axis=2)
        better = (costs[None, :, :] < chunk).any(axis=2)
        keep[start:start + block] = ~(no_worse & better).any(axis=1)
    return keep


def pareto_mask(frame: pd.DataFrame, objectives: dict[str, str]) -> pd.Series:
    """True on rows of the Pareto front of `objectives` ({total: "min" | "max"})."""
    mask = pd.Series(False, index=frame.index)
    rows = usable(frame, objectives)
    if rows.any():
        signs = np.array([1.0 if sense == "min" else -1.0 for sense in objectives.values()])
        costs = frame.loc[rows, list(objectives)].to_numpy(dtype=float) * signs
        mask[rows[rows].index] = non_dominated(costs)
    return mask


def pareto_front(frame: pd.DataFrame, objectives: dict[str, str]) -> pd.DataFrame:
    """The non-dominated rows, best first by the first objective."""
    front = frame[pareto_mask(frame, objectives)]
    first, sense = next(iter(objectives.items()))
    return front.sort_values(first, ascending=sense == "min", kind="stable").reset_index(drop=True)


def sensitivity(frame: pd.DataFrame, axes: list[str], objectives: dict[str, str]) -> pd.DataFrame:
    """Main effect of each axis on each objective: the spread (max - min) of the objective's
    mean over the rows sharing one axis value, also relative to the objective's overall mean.
    Rank 1 is the axis that moves the objective most; `best_value` is the axis value with the
    best mean. Axes with one value are left out (they move nothing)."""
    rows = frame[usable(frame, objectives)]
    records = []
    for objective, sense in objectives.items():
        overall = rows[objective].astype(float).mean()
        for axis in axes:
            if rows[axis].nunique() < 2:
                continue
            means = rows.groupby(axis, sort=False)[objective].mean().astype(float)
            spread = float(means.max() - means.min())
            best = means.idxmin() if sense == "min" else means.idxmax()
            records.append({"objective": objective, "axis": axis, "spread": spread,
                            "relative_spread": spread / abs(overall) if overall else np.nan,
                            "best_value": str(best), "values": len(means)})
    table = pd.DataFrame(records, columns=["objective", "axis", "spread", "relative_spread",
                                           "best_value", "values"])
    if table.empty:
        return table.assign(rank=pd.Series(dtype=int))
    order = table["objective"].map({name: i for i, name in enumerate(objectives)})
    table = table.assign(_order=order).sort_values(["_order", "relative_spread"], ascending=[True, False],
                                                    kind="stable").drop(columns="_order")
    table["rank"] = table.groupby("objective").cumcount() + 1
    return table.reset_index(drop=True)
