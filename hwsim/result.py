"""SimResult: what one simulation produced, in a form sweeps, reports and the CLI share.

`totals` is a flat dict with fixed keys (TOTAL_KEYS, SI units in the names); `ops` holds the
per-op costs of the simulated ops with the multiplicity each stands for (a steady loop
iteration or decode step stands for the ones extrapolated from it); `timeline` holds the
event-level intervals per lane, with the decode step each belongs to (`token_step`, -1 for the
prefill) so one step's window can be picked directly; `actions` keeps the action counts so
energy can be re-priced without re-simulating.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from hwsim.cost import energy
from hwsim.spec.hardware import HardwareSpec

TOTAL_KEYS = (
    "latency_s", "ttft_s", "tpot_s", "tokens_per_s", "energy_j", "energy_per_token_j", "power_w",
    "dram_read_bytes", "dram_write_bytes", "dram_bytes_per_token", "dram_weight_first_fetch_bytes",
    "dram_weight_refetch_bytes", "dram_kv_bytes", "dram_activation_spill_bytes", "sram_peak_bytes",
    "memory_footprint_bytes", "memory_capacity_bytes", "fits", "shortfall_bytes",
    "compute_utilization", "bound", "energy_compute_j", "energy_sram_j", "energy_dram_j",
    "energy_static_j",
)
TIMELINE_COLUMNS = ("op_id", "name", "lane", "start_s", "end_s", "bound", "token_step")
LANE_ORDER = ("dma", "matrix", "vector")


class _Frame:
    """A DataFrame attribute that may be given as a function building it: built on first read,
    so a sweep that keeps only the totals never pays for assembling the per-op tables."""

    def __set_name__(self, owner, name: str) -> None:
        self.slot = "_" + name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        value = obj.__dict__[self.slot]
        if callable(value):
            value = obj.__dict__[self.slot] = value()
        return value

    def __set__(self, obj, value) -> None:
        obj.__dict__[self.slot] = value


@dataclass
class SimResult:
    inputs: dict
    totals: dict
    ops: pd.DataFrame = _Frame()           # or a function returning it (built on first read)
    timeline: pd.DataFrame = _Frame()
    actions: energy.ActionCounts = field(default=None)
    extra: dict = field(default_factory=dict)

    def reprice(self, hardware: HardwareSpec, table: energy.EnergyTable | None = None) -> dict[str, float]:
        """Energy by component of the same actions on `hardware` (or with another table)."""
        return energy.price(self.actions, hardware, self.totals["latency_s"], table)

    def to_dict(self) -> dict:
        return {"inputs": self.inputs, "totals": self.totals, "actions": self.actions.to_dict(),
                **({"extra": self.extra} if self.extra else {})}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=_plain)

    def to_chrome_trace(self, path: str | Path) -> Path:
        """Write the timeline as Chrome trace-event JSON (Perfetto and chrome://tracing open
        it): one track per lane (dma, matrix, vector), times in microseconds."""
        events = [{"name": "process_name", "ph": "M", "pid": 0, "tid": 0,
                   "args": {"name": f"hwsim {self.inputs.get('hardware', '')}"}}]
        for tid, lane in enumerate(LANE_ORDER):
            events.append({"name": "thread_name", "ph": "M", "pid": 0, "tid": tid, "args": {"name": lane}})
        lanes = {lane: tid for tid, lane in enumerate(LANE_ORDER)}
        for row in self.timeline.itertuples(index=False):
            events.append({"name": row.name, "cat": row.bound, "ph": "X", "pid": 0, "tid": lanes[row.lane],
                           "ts": row.start_s * 1e6, "dur": (row.end_s - row.start_s) * 1e6,
                           "args": {"op_id": int(row.op_id)}})
        path = Path(path)
        path.write_text(json.dumps({"traceEvents": events, "displayTimeUnit": "ns"}))
        return path


def _plain(value):
    """JSON fallback for numpy scalars."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
