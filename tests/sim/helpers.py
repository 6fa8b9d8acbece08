"""Small hand-made devices and traces for exact engine scenarios."""

from __future__ import annotations

from functools import lru_cache

from hwsim.spec.hardware import HardwareSpec
from hwsim.spec.loader import validate
from hwsim.workload.trace import from_records

MiB = 2**20


@lru_cache(maxsize=None)
def device(*, bandwidth="1 GiB/s", latency="1 us", matrix="1 GFLOP/s", vector="1 GFLOP/s", sram=None,
           dram=True, launch="0 s", tile_m=1) -> HardwareSpec:
    """A device with one DRAM channel, unit efficiencies and (optionally) an SRAM buffer."""
    memory = {}
    if dram:
        memory["dram"] = {"kind": "dram", "type": "LPDDR5", "capacity": "8 GB", "bandwidth": bandwidth,
                          "latency": latency, "source": "test"}
    if sram is not None:
        memory["sram"] = {"kind": "sram", "type": "SRAM", "capacity": sram, "bandwidth": "1 PB/s",
                          "latency": "0 s", "source": "test"}
    data = {
        "name": "test-device", "class": "edge_npu", "process_node": "7nm", "source": "test",
        "compute": {"matrix": {"kind": "matrix", "peak": {"int8": matrix, "fp16": matrix}, "tile_m": tile_m,
                               "source": "test"},
                    "vector": {"kind": "vector", "peak": {"fp16": vector, "int8": vector}, "source": "test"}},
        "memory": memory,
        "power": {"idle": "1 W", "source": "test"},
        "overhead": {"op_launch": launch, "prefetch": "cross_op", "source": "test"},
    }
    return validate(HardwareSpec, data, "test device")


def gemm(name, weight_id, n, k, m=1, weight_bits=8, act_bytes=0.0, **extra) -> dict:
    """A weighted GEMM row at int8 (weights n x k, one byte each)."""
    row = {"phase": "decode", "layer": 0, "block_id": "b", "loop_iter": -1, "op_kind": "matmul",
           "name": name, "m": m, "n": n, "k": k, "flops": 2.0 * m * n * k, "weight_id": weight_id,
           "weight_bytes": n * k * weight_bits / 8, "act_in_bytes": act_bytes, "act_out_bytes": act_bytes,
           "weight_bits": weight_bits, "act_bits": 8, "kv_bits": 8, "kv_read_bytes": 0.0, "kv_write_bytes": 0.0}
    row.update(extra)
    return row


def trace(rows: list[dict]):
    return from_records(rows)
