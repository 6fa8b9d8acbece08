"""Predicted against measured: per-row errors, MAPE tables, and the log-log plot.

Error is signed, (predicted - measured) / measured; MAPE is the mean of its absolute value in
percent. Tables are plain text so the CLI, tests and docs print the same thing.
"""

from __future__ import annotations

from pathlib import Path

COLUMNS = ["id", "preset", "class", "model", "quant", "metric", "group", "measured", "predicted", "error"]


def as_rate(frame, column: str):
    """`column` as a rate: a throughput row's figure, a latency row's inverse."""
    from hwsim.validation.measured import METRICS

    throughput = frame["metric"].map(lambda m: METRICS[m].throughput).astype(bool)
    return frame[column].where(throughput, 1.0 / frame[column])


def add_errors(frame):
    """`error` in the row's own unit, and `error_tps` on tokens/s (a latency row's error as a
    throughput: measured / predicted - 1), the figure the headline MAPE is quoted in."""
    frame = frame.copy()
    frame["error"] = frame["predicted"] / frame["measured"] - 1.0
    frame["error_tps"] = as_rate(frame, "predicted") / as_rate(frame, "measured") - 1.0
    return frame


HEADLINE_GROUPS = ("decode", "prefill")


def headline_rows(frame, mode: str):
    """The rows a headline figure is made of: decode and prefill rows predicted under `mode`."""
    return frame[(frame["mode"] == mode) & frame["group"].isin(HEADLINE_GROUPS)]


def headline(frame, mode: str = "held_out"):
    """Tokens/s MAPE (%) of decode and prefill rows under `mode`: overall, then per class x
    runtime, with row and device counts."""
    import pandas as pd

    part = headline_rows(frame, mode)
    part = part.assign(ape=part["error_tps"].abs() * 100)
    scopes = [("all", "all", part)] + [(cls, runtime, sel) for (cls, runtime), sel
                                        in part.groupby(["class", "runtime"], observed=True)]
    records = []
    for cls, runtime, sel in scopes:
        record = {"class": cls, "runtime": runtime}
        for group in HEADLINE_GROUPS:
            rows = sel[sel["group"] == group]
            record[f"{group} MAPE %"] = rows["ape"].mean() if len(rows) else float("nan")
            record[f"{group} rows"] = len(rows)
            record[f"{group} devices"] = rows["preset"].nunique()
        records.append(record)
    return pd.DataFrame.from_records(records)


INTERVAL_LEVEL = 0.9
INTERVAL_RESAMPLES = 2000


def headline_interval(frame, mode: str = "held_out", level: float = INTERVAL_LEVEL,
                      resamples: int = INTERVAL_RESAMPLES, seed: int = 0) -> dict[str, tuple[float, float]]:
    """{phase: (low, high)}: a `level` interval of the phase's headline tokens/s MAPE (%) over
    devices. The rows of one device share its errors (its bandwidth, its runtime's build), so the
    devices, not the rows, are the independent draws: resample them with replacement and take
    the MAPE of their rows (a cluster bootstrap). The width says how far the headline would move
    on another set of devices of the same kinds; fixed seed, so a run repeats."""
    import numpy as np

    part = headline_rows(frame, mode)
    rng = np.random.default_rng(seed)
    tail = (1.0 - level) / 2 * 100
    intervals = {}
    for group in HEADLINE_GROUPS:
        rows = part[part["group"] == group]
        if rows.empty:
            continue
        per_device = (rows["error_tps"].abs() * 100).groupby(rows["preset"], observed=True).agg(["sum", "size"])
        draws = rng.integers(0, len(per_device), size=(resamples, len(per_device)))
        mapes = (per_device["sum"].to_numpy()[draws].sum(axis=1)
                 / per_device["size"].to_numpy()[draws].sum(axis=1))
        low, high = np.percentile(mapes, [tail, 100 - tail])
        intervals[group] = (float(low), float(high))
    return intervals


def mape_table(frame, by: list[str]):
    """MAPE (%) and row count per group of `by`, one column per mode when a `mode` column exists."""
    import pandas as pd

    keys = by + (["mode"] if "mode" in frame.columns else [])
    grouped = frame.assign(ape=frame["error"].abs() * 100).groupby(keys, observed=True)["ape"]
    table = pd.DataFrame({"mape_pct": grouped.mean(), "rows": grouped.size()}).reset_index()
    if "mode" not in frame.columns:
        return table
    wide = table.pivot_table(index=by, columns="mode", values="mape_pct", observed=True)
    wide.columns = [f"MAPE % {c}" for c in wide.columns]
    counts = table.groupby(by, observed=True)["rows"].max().rename("rows")
    return wide.join(counts).reset_index()


def worst_rows(frame, mode: str = "held_out", count: int = 10):
    """The decode / prefill rows with the largest tokens/s error under `mode`, with their share
    of the summed absolute error of their phase: the rows a MAPE figure is made of."""
    part = headline_rows(frame, mode)
    ape = part["error_tps"].abs()
    share = ape / ape.groupby(part["group"]).transform("sum")
    table = part.assign(**{"tokens/s error %": part["error_tps"] * 100, "share of phase %": share * 100})
    table = table.loc[ape.sort_values(ascending=False).index[:count]]
    return table[["id", "preset", "runtime", "group", "tokens/s error %", "share of phase %"]]


SAME_RUN = ["preset", "runtime", "model", "quant", "metric"]


def source_disagreement(frame, mode: str = "held_out"):
    """Decode / prefill rows from two or more sources that time the same run (preset, runtime,
    model, quantisation, metric; and prompt length, for a prefill): their measured spread, and
    the tokens/s MAPE on them of the best single figure per run, error that no model of the run
    alone can remove (`floor %`). Returns (table, {phase: floor points of that phase's headline
    MAPE})."""
    import pandas as pd

    part = headline_rows(frame, mode)
    # A decode step barely depends on a short context; a prompt's time is proportional to it.
    part = part.assign(prompt=part["prompt_tokens"].astype(object).where(part["group"] == "prefill", "-"),
                       rate=as_rate(part, "measured"))
    records, floor_points = [], {group: 0.0 for group in HEADLINE_GROUPS}
    for key, rows in part.groupby(SAME_RUN + ["prompt"], observed=True):
        if rows["source"].nunique() < 2:
            continue
        # A row's tokens/s error is q / r - 1 for a predicted rate q on its measured rate r; the
        # sum of |q / r - 1| is piecewise linear in q, so its least value sits at one of the r.
        rates = list(rows["rate"])
        best = min(sum(abs(q / r - 1.0) for r in rates) for q in rates)
        floor_points[rows["group"].iloc[0]] += best * 100
        records.append(dict(zip(SAME_RUN + ["prompt"], key), rows=len(rows), sources=rows["source"].nunique(),
                            measured=" / ".join(f"{v:.4g}" for v in rows["measured"]),
                            **{"spread x": max(rates) / min(rates), "floor %": best / len(rows) * 100}))
    totals = {group: floor_points[group] / max(1, int((part["group"] == group).sum())) for group in HEADLINE_GROUPS}
    return pd.DataFrame.from_records(records), totals


def format_table(table, float_format: str = "{:.1f}") -> str:
    """Fixed-width text for a DataFrame (no index), floats with one decimal."""
    text = table.copy()
    for column in text.columns:
        if text[column].dtype.kind == "f":
            text[column] = text[column].map(lambda v: "-" if v != v else float_format.format(v))
    return text.to_string(index=False)


def rows_table(frame, mode: str):
    """Per-row predicted vs measured for one mode, in the metric's units."""
    rows = frame[frame["mode"] == mode][COLUMNS].copy()
    rows["error"] = (rows["error"] * 100).round(1).astype(str) + "%"
    for column in ("measured", "predicted"):
        rows[column] = rows[column].map(lambda v: f"{v:.4g}")
    return rows.to_string(index=False)


def plot(frame, path: Path | str, modes: list[str]) -> Path:
    """Log-log predicted vs measured, one panel per mode, colour by hardware class."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    modes = [m for m in modes if (frame["mode"] == m).any()]
    fig, axes = plt.subplots(1, len(modes), figsize=(5.2 * len(modes), 5), squeeze=False)
    classes = sorted(frame["class"].unique())
    markers = {"decode": "o", "prefill": "s", "e2e": "^", "kernel": "D"}
    for ax, mode in zip(axes[0], modes):
        part = frame[frame["mode"] == mode]
        for index, cls in enumerate(classes):
            for group, marker in markers.items():
                sel = part[(part["class"] == cls) & (part["group"] == group)]
                if len(sel):
                    ax.scatter(sel["measured"], sel["predicted"], marker=marker, s=22, color=f"C{index}",
                               label=f"{cls} {group}")
        low = min(part["measured"].min(), part["predicted"].min()) / 1.5
        high = max(part["measured"].max(), part["predicted"].max()) * 1.5
        for factor, style in ((1.0, "-"), (1.25, ":"), (0.8, ":")):
            ax.plot([low, high], [low * factor, high * factor], style, color="grey", linewidth=0.8)
        ax.set(xscale="log", yscale="log", xlim=(low, high), ylim=(low, high), title=mode,
               xlabel="measured (tokens/s or ms)", ylabel="predicted")
        ax.grid(True, which="both", alpha=0.2)
    axes[0][-1].legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
