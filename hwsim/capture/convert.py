"""A Capture as an OpTrace that `simulate` accepts, built with the workload.trace helpers
(so columns added to the schema with a default need nothing here).

Captured rows keep the model code's names: `weight_id` is the parameter name (an expert's
slice is `name[e]`), `block_id` the path of the layer module, `layer` its physical index.
Without a schedule there is no loop iteration to name, so `loop_iter` is -1 throughout: the
simulator runs the trace as given (no steady-state extrapolation), and a looped model's
repeated weights still share their `weight_id`, which is what residency needs.
"""

from __future__ import annotations

import pandas as pd

from hwsim.capture.record import Capture
from hwsim.workload import trace as T


def to_trace(cap: Capture, token_step: int = 0) -> pd.DataFrame:
    step = token_step if cap.phase == "decode" else 0
    records = [{
        T.PHASE: cap.phase, T.LAYER: op.layer, T.BLOCK_ID: op.block_id, T.LOOP_ITER: -1,
        T.OP_KIND: op.kind, T.NAME: op.name, T.M: op.m, T.N: op.n, T.K: op.k, T.FLOPS: op.flops,
        T.WEIGHT_ID: op.weight_id, T.WEIGHT_BYTES: op.weight_bytes, T.ACT_IN_BYTES: op.act_in_bytes,
        T.ACT_OUT_BYTES: op.act_out_bytes, T.KV_READ_BYTES: op.kv_read_bytes,
        T.KV_WRITE_BYTES: op.kv_write_bytes, T.WEIGHT_BITS: op.weight_bits,
        T.ACT_BITS: 8.0 * cap.itemsize, T.KV_BITS: 8.0 * cap.itemsize,
        T.EXPERT_ID: op.expert_id if op.expert_id is not None else pd.NA,
        T.TOKENS_ACTIVE: max(op.tokens, 1), T.TOKEN_STEP: step,
    } for op in cap.ops]
    return T.validate_trace(T.from_records(records))
