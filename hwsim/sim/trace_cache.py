"""One process-wide cache of built traces, shared by the event simulator and the roofline.

A sweep over hardware axes (SRAM size, bandwidth, presets) runs the same model at the same
batch and contexts many times; building the trace was about a third of a simulation's time.
Traces are keyed by the model spec's JSON and the build arguments, so any model change gives a
new key. The cache is bounded (least recently used entries go first). Cached frames are shared:
callers must not modify them in place.
"""

from __future__ import annotations

from collections import OrderedDict

import pandas as pd

from hwsim.spec.model import ModelSpec

MAX_TRACES = 256   # a 1,024-token decode uses 4 traces; Ouro x64 traces are a few MB each

_traces: OrderedDict[tuple, pd.DataFrame] = OrderedDict()
_spec_json: dict[int, tuple[ModelSpec, str]] = {}


def model_key(model: ModelSpec) -> str:
    """The spec's JSON: equal for equal specs, whichever object holds them. Remembered per
    object (specs are frozen) so repeated calls on one spec serialise it once."""
    held = _spec_json.get(id(model))
    if held is None or held[0] is not model:
        if len(_spec_json) >= MAX_TRACES:
            _spec_json.clear()
        held = (model, model.model_dump_json())
        _spec_json[id(model)] = held
    return held[1]


def cached_trace(model: ModelSpec, phase: str, batch: int = 1, context_len: int = 0, *,
                 loops: int | None = None, token_step: int = 0, num_steps: int = 1) -> pd.DataFrame:
    """`build_trace` with the same arguments, built once per process per distinct key."""
    from hwsim.workload.transformer import build_trace

    key = (model_key(model), phase, batch, context_len, loops, token_step, num_steps)
    trace = _traces.get(key)
    if trace is not None:
        _traces.move_to_end(key)
        return trace
    trace = build_trace(model, phase, batch, context_len, loops=loops, token_step=token_step,
                        num_steps=num_steps)
    _traces[key] = trace
    if len(_traces) > MAX_TRACES:
        _traces.popitem(last=False)
    return trace


def clear() -> None:
    """Drop every cached trace (tests that count builds)."""
    _traces.clear()
    _spec_json.clear()
