"""The OpTrace: one row per op instance, the contract between workloads and the simulator.

A trace is *demand* (FLOPs, bytes of weights, activations and KV an op needs); the simulator
decides when and from where it is served. Column names are the constants below; build_trace
and the reference executor both emit exactly these columns.

`repeat` says how many times a row runs: a trace built with `compress_loops` writes a run of
identical loop iterations once (loop_iter = the run's first iteration) with repeat = the run's
length, so a trace's size does not grow with the loop count. Every other trace has repeat 1,
one row per op instance; a file without the column reads as repeat 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hwsim.errors import TraceError

OP_ID = "op_id"
PHASE = "phase"
LAYER = "layer"
BLOCK_ID = "block_id"
LOOP_ITER = "loop_iter"
OP_KIND = "op_kind"
NAME = "name"
M, N, K = "m", "n", "k"
FLOPS = "flops"
WEIGHT_ID = "weight_id"
WEIGHT_BYTES = "weight_bytes"
ACT_IN_BYTES = "act_in_bytes"
ACT_OUT_BYTES = "act_out_bytes"
KV_READ_BYTES = "kv_read_bytes"
KV_WRITE_BYTES = "kv_write_bytes"
WEIGHT_BITS = "weight_bits"
ACT_BITS = "act_bits"
KV_BITS = "kv_bits"
EXPERT_ID = "expert_id"
TOKENS_ACTIVE = "tokens_active"   # tokens this op processes (batch compaction, early exit)
TOKEN_STEP = "token_step"         # decode: index of the generated token (0 for prefill)
REPEAT = "repeat"                 # times the row runs back to back (>= 1); see the module docstring

# Column -> dtype. Integers are int64; expert_id is nullable (pandas Int64).
SCHEMA: dict[str, str] = {
    OP_ID: "int64", PHASE: "category", LAYER: "int64", BLOCK_ID: "object", LOOP_ITER: "int64",
    OP_KIND: "category", NAME: "object", M: "int64", N: "int64", K: "int64", FLOPS: "float64",
    WEIGHT_ID: "object", WEIGHT_BYTES: "float64", ACT_IN_BYTES: "float64",
    ACT_OUT_BYTES: "float64", KV_READ_BYTES: "float64", KV_WRITE_BYTES: "float64",
    WEIGHT_BITS: "float64", ACT_BITS: "float64", KV_BITS: "float64", EXPERT_ID: "Int64",
    TOKENS_ACTIVE: "int64", TOKEN_STEP: "int64", REPEAT: "int64",
}
COLUMNS = list(SCHEMA)

PHASES = ("prefill", "decode")
# GEMM-shaped ops (flops == 2*m*n*k); the rest are vector ops (k = 0).
GEMM_KINDS = ("matmul", "attn_score", "attn_value", "router", "lm_head", "adapter", "expert")
VECTOR_KINDS = ("softmax", "norm", "act", "embed", "add", "rope", "dequant", "gate", "scale")
OP_KINDS = GEMM_KINDS + VECTOR_KINDS
# Ops whose weight bytes are whole matrices read from memory (embed reads only looked-up rows).
NON_NEGATIVE = [M, N, K, FLOPS, WEIGHT_BYTES, ACT_IN_BYTES, ACT_OUT_BYTES, KV_READ_BYTES,
                KV_WRITE_BYTES, WEIGHT_BITS, ACT_BITS, KV_BITS, TOKENS_ACTIVE]


def empty_trace() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=d) for c, d in SCHEMA.items()})


def from_records(records: list[dict]) -> pd.DataFrame:
    """Build a trace from row dicts (missing optional columns get neutral values) and coerce
    it to the schema dtypes."""
    frame = pd.DataFrame.from_records(records)
    defaults = {EXPERT_ID: pd.NA, TOKENS_ACTIVE: 1, TOKEN_STEP: 0, REPEAT: 1, LOOP_ITER: -1, WEIGHT_ID: "",
                KV_READ_BYTES: 0.0, KV_WRITE_BYTES: 0.0, WEIGHT_BYTES: 0.0, M: 0, N: 0, K: 0}
    for column, value in defaults.items():
        if column not in frame:
            frame[column] = value
    if OP_ID not in frame:
        frame[OP_ID] = np.arange(len(frame))
    return coerce(frame[COLUMNS] if set(COLUMNS) <= set(frame.columns) else frame)


def coerce(frame: pd.DataFrame) -> pd.DataFrame:
    if REPEAT not in frame.columns:       # written before the column existed: one row per op
        frame = frame.assign(**{REPEAT: 1})
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise TraceError(f"trace is missing columns: {', '.join(missing)}")
    out = frame[COLUMNS].copy()
    for column, dtype in SCHEMA.items():
        if dtype == "category":
            out[column] = out[column].astype("category")
        elif dtype == "object":
            out[column] = out[column].astype(object)
        else:
            out[column] = out[column].astype(dtype)
    return out.reset_index(drop=True)


def validate_trace(frame: pd.DataFrame) -> pd.DataFrame:
    """Check schema, dtypes and invariants; return the frame or raise TraceError naming the
    first broken rule (with an example row)."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise TraceError(f"trace is missing columns: {', '.join(missing)}")
    extra = [c for c in frame.columns if c not in SCHEMA]
    if extra:
        raise TraceError(f"trace has unknown columns: {', '.join(extra)}")
    for column, dtype in SCHEMA.items():
        actual = str(frame[column].dtype)
        if dtype == "object":
            ok = actual in ("object", "str", "string")
        elif dtype == "category":
            ok = actual == "category"
        else:
            ok = actual == dtype
        if not ok:
            raise TraceError(f"column {column} has dtype {actual}, expected {dtype}")
    if frame[OP_ID].duplicated().any():
        raise TraceError("op_id values are not unique")
    bad_phase = set(frame[PHASE].astype(str)) - set(PHASES)
    if bad_phase:
        raise TraceError(f"unknown phase values: {sorted(bad_phase)}")
    bad_kind = set(frame[OP_KIND].astype(str)) - set(OP_KINDS)
    if bad_kind:
        raise TraceError(f"unknown op_kind values: {sorted(bad_kind)}")
    for column in NON_NEGATIVE:
        values = frame[column].to_numpy(dtype=float)
        if not np.isfinite(values).all() or (values < 0).any():
            row = int(np.flatnonzero(~np.isfinite(values) | (values < 0))[0])
            raise TraceError(f"column {column} has a negative or non-finite value (row {row}, "
                             f"op {frame[NAME].iloc[row]!r})")
    if (frame[REPEAT].to_numpy() < 1).any():
        row = int(np.flatnonzero(frame[REPEAT].to_numpy() < 1)[0])
        raise TraceError(f"column {REPEAT} must be >= 1 (row {row}, op {frame[NAME].iloc[row]!r})")
    gemm = frame[OP_KIND].astype(str).isin(GEMM_KINDS).to_numpy()
    expected = 2.0 * frame[M].to_numpy(float) * frame[N].to_numpy(float) * frame[K].to_numpy(float)
    flops = frame[FLOPS].to_numpy(float)
    wrong = gemm & ~np.isclose(flops, expected, rtol=1e-9, atol=0.5)
    if wrong.any():
        row = int(np.flatnonzero(wrong)[0])
        raise TraceError(f"GEMM op {frame[NAME].iloc[row]!r} (row {row}) has flops {flops[row]:g}, "
                         f"expected 2*m*n*k = {expected[row]:g}")
    with_weight = frame[frame[WEIGHT_ID].astype(str) != ""]
    sizes = with_weight.groupby(WEIGHT_ID, observed=True)[WEIGHT_BYTES].nunique()
    if (sizes > 1).any():
        raise TraceError(f"weight_id {sizes[sizes > 1].index[0]!r} appears with more than one weight size")
    return frame
