"""Instrumentation: one OpTrace row per op, recorded while the executor runs it.

The executor reports what it actually did (the shapes of the arrays it multiplied, the
weight it looked up, the K/V it read from and wrote to its cache); this module turns that into
rows with the schema and conventions of `hwsim.workload.transformer.build_trace`, so a
captured trace can be compared with a built one row by row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from hwsim import units
from hwsim.spec.model import ModelSpec
from hwsim.workload import trace as T
from hwsim.workload.weights import WeightTensor


@dataclass
class Where:
    """The schedule position of the op being run."""

    layer: int = -1
    block: str = ""
    loop_iter: int = -1


@dataclass
class TraceRecorder:
    """Collects rows for one phase (prefill or decode) of one executor call."""

    model: ModelSpec
    phase: str
    token_step: int = 0
    rows: list[dict] = field(default_factory=list)
    where: Where = field(default_factory=Where)

    @property
    def act_bits(self) -> float:
        return self.model.quant.act.effective_bits

    @property
    def kv_bits(self) -> float:
        return self.model.quant.kv.effective_bits

    def act_bytes(self, elements: float) -> float:
        return units.bytes_for(elements, self.act_bits)

    def kv_bytes(self, elements: float) -> float:
        return units.bytes_for(elements, self.kv_bits)

    def record(self, op_kind: str, name: str, *, m: int = 0, n: int = 0, k: int = 0, flops: float | None = None,
               weight: WeightTensor | None = None, act_in_elements: float = 0, act_out_elements: float = 0,
               kv_read_elements: float = 0, kv_write_elements: float = 0, tokens_active: int = 1,
               expert_id: int | None = None, act_in_bytes: float | None = None,
               weight_bits: float = 0.0) -> int:
        """Append one row and return its index (so a KV write decided later can be added)."""
        if flops is None:
            flops = 2.0 * m * n * k
        self.rows.append({
            T.PHASE: self.phase, T.LAYER: self.where.layer, T.BLOCK_ID: self.where.block,
            T.LOOP_ITER: self.where.loop_iter, T.OP_KIND: op_kind, T.NAME: name,
            T.M: m, T.N: n, T.K: k, T.FLOPS: float(flops),
            T.WEIGHT_ID: weight.weight_id if weight is not None else "",
            T.WEIGHT_BYTES: weight.bytes(self.model) if weight is not None else 0.0,
            T.ACT_IN_BYTES: self.act_bytes(act_in_elements) if act_in_bytes is None else act_in_bytes,
            T.ACT_OUT_BYTES: self.act_bytes(act_out_elements),
            T.KV_READ_BYTES: self.kv_bytes(kv_read_elements),
            T.KV_WRITE_BYTES: self.kv_bytes(kv_write_elements),
            T.WEIGHT_BITS: weight.bits(self.model) if weight is not None else weight_bits,
            T.ACT_BITS: self.act_bits, T.KV_BITS: self.kv_bits,
            T.EXPERT_ID: expert_id, T.TOKENS_ACTIVE: tokens_active, T.TOKEN_STEP: self.token_step,
        })
        return len(self.rows) - 1

    def add_kv_write(self, row: int, elements: float) -> None:
        self.rows[row][T.KV_WRITE_BYTES] += self.kv_bytes(elements)

    def frame(self) -> pd.DataFrame:
        if not self.rows:
            return T.empty_trace()
        return T.validate_trace(T.from_records(self.rows))
