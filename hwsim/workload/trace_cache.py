"""One process-wide cache of built traces, shared by both engines.

A sweep over hardware axes (SRAM size, bandwidth, presets) runs the same model at the same
batch and contexts many times; building the trace was about a third of a simulation's time.
Traces are keyed by the model spec's JSON (hwsim.cache.spec_text) and the build arguments, so
any model change gives a new key. A trace is kept as its numpy columns (what the closed form
reads: no DataFrame is built for it) and, once an engine asks for one, as its DataFrame; the
closed form reads the traces with alike layers merged (build_sum_columns), a decode step at two
contexts stacked (build_decode_sum_columns). The tables are bounded (hwsim.cache). Cached traces
are shared: callers must not modify them in place.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from hwsim import cache
from hwsim.spec.model import ModelSpec

MAX_TRACES = 256   # a 1,024-token decode uses 4 traces; Ouro x64 traces are a few MB each

_columns = cache.register(cache.Memo(MAX_TRACES))
_traces = cache.register(cache.Memo(MAX_TRACES))
_sum_columns = cache.register(cache.Memo(MAX_TRACES))


def cached_columns(model: ModelSpec, phase: str, batch: int = 1, context_len: int = 0, *,
                   loops: int | None = None, token_step: int = 0, num_steps: int = 1,
                   compress_loops: bool = True) -> dict[str, np.ndarray]:
    """`build_columns` with the same arguments, built once per process per distinct key. Loops
    are compressed by default (one row per op of a run of alike iterations, with its repeat
    count): the engines' traces do not grow with the loop count."""
    from hwsim.workload.transformer import build_columns

    key = (cache.spec_text(model), phase, batch, context_len, loops, token_step, num_steps, compress_loops)
    return _columns.get(key, lambda: build_columns(model, phase, batch, context_len, loops=loops,
                                                   token_step=token_step, num_steps=num_steps,
                                                   compress_loops=compress_loops))


def cached_trace(model: ModelSpec, phase: str, batch: int = 1, context_len: int = 0, *,
                 loops: int | None = None, token_step: int = 0, num_steps: int = 1,
                 compress_loops: bool = True) -> pd.DataFrame:
    """The DataFrame of `cached_columns` with the same arguments (`build_trace`), built once per
    process per distinct key."""
    from hwsim.workload.transformer import columns_frame

    key = (cache.spec_text(model), phase, batch, context_len, loops, token_step, num_steps, compress_loops)
    return _traces.get(key, lambda: columns_frame(
        cached_columns(model, phase, batch, context_len, loops=loops, token_step=token_step, num_steps=num_steps,
                       compress_loops=compress_loops), phase))


def cached_sum_columns(model: ModelSpec, phase: str, batch: int = 1, context_len: int = 0, *, token_step: int = 0,
                       num_steps: int = 1) -> tuple[dict[str, np.ndarray], Callable[[], float]]:
    """`build_sum_columns` with the same arguments, built once per process per distinct key."""
    from hwsim.workload.transformer import build_sum_columns

    key = (cache.spec_text(model), phase, batch, context_len, token_step, num_steps)
    return _sum_columns.get(key, lambda: build_sum_columns(model, phase, batch, context_len, token_step=token_step,
                                                           num_steps=num_steps))


def cached_decode_pair(model: ModelSpec, batch: int = 1, context_len: int = 0, *, token_step: int = 0,
                       num_steps: int = 1) -> tuple[dict[str, np.ndarray], Callable[[], float]]:
    """`build_decode_sum_columns` at `context_len` and the next context, stacked (the closed form
    reads every decode step at contexts 0 and 1, and prices both in one pass), built once per
    process per distinct key."""
    from hwsim.workload.transformer import build_decode_sum_columns

    key = (cache.spec_text(model), "decode pair", batch, context_len, token_step, num_steps)
    return _sum_columns.get(key, lambda: build_decode_sum_columns(model, batch, (context_len, context_len + 1),
                                                                  token_step=token_step, num_steps=num_steps))
