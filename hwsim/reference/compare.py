"""Capture a trace by running the executor, and compare it with `build_trace` row by row.

Every column that describes demand is compared exactly (identity, shape, FLOPs, weight id and
bytes, activation and KV bytes, precisions, active tokens). MoE expert rows are the one place
the two legitimately differ: the executor routes each token by its router logits, the builder
by the routing distribution, so *which* experts run differs. Expert rows (op_kind `expert` and
their `expert<e>.act` rows) are therefore compared per layer application by their totals
(FLOPs, routed token-assignments, weight bytes per expert), and all other rows one by one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hwsim.reference.executor import ReferenceExecutor
from hwsim.reference.recorder import TraceRecorder
from hwsim.spec.model import ModelSpec
from hwsim.workload import trace as T

EXACT_COLUMNS = [T.PHASE, T.LAYER, T.BLOCK_ID, T.LOOP_ITER, T.OP_KIND, T.NAME, T.M, T.N, T.K, T.FLOPS,
                 T.WEIGHT_ID, T.WEIGHT_BYTES, T.ACT_IN_BYTES, T.ACT_OUT_BYTES, T.KV_READ_BYTES,
                 T.KV_WRITE_BYTES, T.WEIGHT_BITS, T.ACT_BITS, T.KV_BITS, T.EXPERT_ID, T.TOKENS_ACTIVE,
                 T.TOKEN_STEP]
TOTAL_COLUMNS = [T.FLOPS, T.WEIGHT_BYTES, T.KV_READ_BYTES, T.KV_WRITE_BYTES]
_MAX_REPORTED = 5


def capture_trace(model: ModelSpec, phase: str, batch: int = 1, context_len: int = 8, *, seed: int = 0,
                  executor: ReferenceExecutor | None = None) -> pd.DataFrame:
    """Run the model and record its trace: a prefill of `context_len` random tokens per
    sequence (a task model: one forward over its task sequence), or one decode step after
    such a prefill (the prefill itself unrecorded)."""
    executor = executor or ReferenceExecutor(model, seed=seed)
    rng = np.random.default_rng(seed + 1)
    length = model.task.seq_len if model.task is not None else context_len
    tokens = rng.integers(0, model.vocab_size, (batch, length))
    recorder = TraceRecorder(model, phase)
    if phase == "prefill":
        executor.prefill(tokens, recorder)
    else:
        executor.prefill(tokens)
        executor.decode(rng.integers(0, model.vocab_size, batch), recorder)
    return recorder.frame()


@dataclass
class TraceComparison:
    rows_compared: int = 0
    expert_groups: int = 0
    mismatches: list[str] = field(default_factory=list)
    totals: dict[str, tuple[float, float]] = field(default_factory=dict)   # column -> (captured, built)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _is_expert(frame: pd.DataFrame) -> np.ndarray:
    return (frame[T.OP_KIND].astype(str) == "expert").to_numpy() | frame[T.NAME].astype(str).str.startswith("expert").to_numpy()


def compare_traces(captured: pd.DataFrame, built: pd.DataFrame) -> TraceComparison:
    """Exact row-by-row comparison (expert rows by per-layer-application totals)."""
    result = TraceComparison()
    cap_expert, built_expert = _is_expert(captured), _is_expert(built)
    cap_rows, built_rows = captured[~cap_expert].reset_index(drop=True), built[~built_expert].reset_index(drop=True)
    if len(cap_rows) != len(built_rows):
        result.mismatches.append(f"row count: captured {len(cap_rows)}, built {len(built_rows)} (expert rows aside)")
    rows = min(len(cap_rows), len(built_rows))
    bad_rows: dict[int, str] = {}
    for column in EXACT_COLUMNS:
        a, b = cap_rows[column].iloc[:rows], built_rows[column].iloc[:rows]
        if pd.api.types.is_float_dtype(a.dtype):
            differs = ~np.isclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-12, atol=0.0)
        else:
            a, b = a.astype(object).where(a.notna(), None), b.astype(object).where(b.notna(), None)
            differs = (a.to_numpy() != b.to_numpy())
        for i in np.flatnonzero(differs):
            bad_rows.setdefault(int(i), f"{column} captured {a.iloc[i]!r}, built {b.iloc[i]!r}")
    for i in sorted(bad_rows):
        result.mismatches.append(f"row {i} ({built_rows.at[i, T.NAME]}, layer {built_rows.at[i, T.LAYER]}, "
                                 f"iter {built_rows.at[i, T.LOOP_ITER]}): {bad_rows[i]}")
    result.rows_compared = rows
    _compare_experts(captured[cap_expert], built[built_expert], result)
    for column in TOTAL_COLUMNS:
        result.totals[column] = (float(captured[column].sum()), float(built[column].sum()))
    if len(result.mismatches) > _MAX_REPORTED:
        extra = len(result.mismatches) - _MAX_REPORTED
        result.mismatches = result.mismatches[:_MAX_REPORTED] + [f"... and {extra} more"]
    return result


def _compare_experts(captured: pd.DataFrame, built: pd.DataFrame, result: TraceComparison) -> None:
    """Per (layer, loop_iter) application: expert FLOPs, token assignments (sum of m over the
    gate GEMMs), activation FLOPs, and one weight size per expert GEMM must agree."""
    keys = [T.LAYER, T.LOOP_ITER]

    def summary(frame: pd.DataFrame) -> pd.DataFrame:
        gemm = frame[T.OP_KIND].astype(str) == "expert"
        first = frame[gemm & frame[T.NAME].astype(str).str.endswith((".gate", ".up"))]
        first = first[~first.duplicated(keys + [T.EXPERT_ID])]
        return pd.DataFrame({
            "flops": frame.groupby(keys)[T.FLOPS].sum(),
            "assignments": first.groupby(keys)[T.M].sum(),
            "weight_sizes": frame[gemm].groupby(keys)[T.WEIGHT_BYTES].agg(lambda s: tuple(sorted(set(s)))),
        })

    if captured.empty and built.empty:
        return
    cap, blt = summary(captured), summary(built)
    result.expert_groups = len(blt)
    if list(cap.index) != list(blt.index):
        result.mismatches.append(f"expert rows in layer applications {list(cap.index)} vs {list(blt.index)}")
        return
    for key in blt.index:
        for column in cap.columns:
            a, b = cap.at[key, column], blt.at[key, column]
            if (a != b) if not isinstance(a, float) else not np.isclose(a, b, rtol=1e-12):
                result.mismatches.append(f"experts of layer {key[0]} iter {key[1]}: {column} captured {a}, built {b}")
