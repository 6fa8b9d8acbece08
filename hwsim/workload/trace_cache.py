"""One process-wide cache of built traces, shared by both engines.

A sweep over hardware axes (SRAM size, bandwidth, presets) runs the same model at the same
batch and contexts many times; building the trace was about a third of a simulation's time.
Traces are keyed by the model spec's JSON (hwsim.cache.spec_text) and the build arguments, so
any model change gives a new key. The table is bounded (hwsim.cache). Cached frames are
shared: callers must not modify them in place.
"""

from __future__ import annotations

import pandas as pd

from hwsim import cache
from hwsim.spec.model import ModelSpec

MAX_TRACES = 256   # a 1,024-token decode uses 4 traces; Ouro x64 traces are a few MB each

_traces = cache.register(cache.Memo(MAX_TRACES))


def cached_trace(model: ModelSpec, phase: str, batch: int = 1, context_len: int = 0, *,
                 loops: int | None = None, token_step: int = 0, num_steps: int = 1,
                 compress_loops: bool = True) -> pd.DataFrame:
    """`build_trace` with the same arguments, built once per process per distinct key. Loops
    are compressed by default (one row per op of a run of alike iterations, with its repeat
    count): the engines' traces do not grow with the loop count."""
    from hwsim.workload.transformer import build_trace

    key = (cache.spec_text(model), phase, batch, context_len, loops, token_step, num_steps, compress_loops)
    return _traces.get(key, lambda: build_trace(model, phase, batch, context_len, loops=loops,
                                                token_step=token_step, num_steps=num_steps,
                                                compress_loops=compress_loops))
