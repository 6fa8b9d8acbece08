"""A made-up device with round numbers, so every cost can be computed by hand."""

import pytest

from hwsim.spec.hardware import HardwareSpec
from hwsim.spec.loader import apply_overrides, validate
from hwsim.workload import trace as T

ROUND_DEVICE = {
    "name": "round", "class": "edge_npu", "process_node": "7nm", "source": "test",
    "compute": {
        "matrix": {"kind": "matrix", "peak": {"bf16": "1 TFLOP/s", "int8": "2 TOPS"}, "tile_m": 16,
                   "source": "test"},
        "vector": {"kind": "vector", "peak": {"fp16": "100 GFLOP/s"}, "source": "test"},
    },
    "memory": {
        "dram": {"kind": "dram", "type": "LPDDR5", "capacity": "8 GiB", "bandwidth": "1 GiB/s",
                 "source": "test"},
        "sram": {"kind": "sram", "type": "SRAM", "capacity": "4 MiB", "bandwidth": "1 TB/s", "source": "test"},
    },
    "power": {"idle": "2 W", "source": "test"},
    "overhead": {"op_launch": "0 s", "dequant_flops_per_weight": 2.0, "prefetch": "cross_op"},
    # The hand cases price the matrix engine's tile padding and a separate unpacking pass;
    # tests/cost/test_datapath.py covers the other datapaths.
    "datapath": {"dequant": "vector", "gemv_on_vector": False},
}


@pytest.fixture(scope="session")
def device():
    """`device()` is the round device; `device(**{"memory.dram.latency": "1 us"})` overrides fields."""

    def make(**overrides) -> HardwareSpec:
        return validate(HardwareSpec, apply_overrides(ROUND_DEVICE, overrides, "test"), "test")

    return make


def op(**fields) -> dict:
    """One trace row with neutral values for every field not given."""
    row = {T.PHASE: "decode", T.LAYER: 0, T.BLOCK_ID: "b", T.LOOP_ITER: -1, T.OP_KIND: "matmul", T.NAME: "op",
           T.M: 0, T.N: 0, T.K: 0, T.FLOPS: 0.0, T.WEIGHT_ID: "", T.WEIGHT_BYTES: 0.0, T.ACT_IN_BYTES: 0.0,
           T.ACT_OUT_BYTES: 0.0, T.KV_READ_BYTES: 0.0, T.KV_WRITE_BYTES: 0.0, T.WEIGHT_BITS: 16.0,
           T.ACT_BITS: 16.0, T.KV_BITS: 16.0, T.TOKENS_ACTIVE: 1, T.TOKEN_STEP: 0}
    row.update(fields)
    if row[T.OP_KIND] in T.GEMM_KINDS and T.FLOPS not in fields:
        row[T.FLOPS] = 2.0 * row[T.M] * row[T.N] * row[T.K]
    return row


def make_trace(*rows):
    return T.validate_trace(T.from_records(list(rows)))
