"""Read and write OpTraces as CSV or Parquet, chosen by the file suffix.

CSV loses dtypes (categories, the nullable expert_id, empty weight ids), so reading restores
the schema of workload/trace.py and validates the result: a trace read back is the trace written.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hwsim.errors import TraceError
from hwsim.workload import trace as T

FORMATS = (".parquet", ".csv")


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise TraceError(f"{path}: unknown trace format {suffix or '(none)'!r}; use .parquet or .csv")
    return suffix


def write_trace(frame: pd.DataFrame, path: str | Path) -> Path:
    """Validate `frame` and write it to `path` (.parquet or .csv); returns the path."""
    path = Path(path)
    suffix = _suffix(path)
    T.validate_trace(frame)
    if path.parent and not path.parent.exists():
        raise TraceError(f"{path}: directory {path.parent} does not exist")
    if suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def read_trace(path: str | Path) -> pd.DataFrame:
    """Read a trace written by write_trace (or by hand), restore the schema dtypes and validate."""
    path = Path(path)
    suffix = _suffix(path)
    if not path.is_file():
        raise TraceError(f"{path}: no such trace file")
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            text_columns = {T.BLOCK_ID: str, T.NAME: str, T.WEIGHT_ID: str, T.PHASE: str, T.OP_KIND: str}
            frame = pd.read_csv(path, dtype=text_columns, keep_default_na=False,
                                na_values={T.EXPERT_ID: [""]})
    except (OSError, ValueError) as exc:
        raise TraceError(f"{path}: cannot read trace ({' '.join(str(exc).split())})") from None
    try:
        frame = T.coerce(frame)
    except (ValueError, TypeError) as exc:
        raise TraceError(f"{path}: a column does not match the trace schema ({exc})") from None
    try:
        return T.validate_trace(frame)
    except TraceError as exc:
        raise TraceError(f"{path}: {exc}") from None
