"""What an engine measured over a whole run, before it becomes a SimResult.

Both engines (closed form, discrete-event) fill one `RunSums`; the one results builder
(hwsim.totals) turns it into the SimResult totals. Capacity (footprint, fits, shortfall) is not
here: it depends on the workload alone, so the builder computes it the same way for every engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RunSums:
    prefill_s: float = 0.0                 # time to the first token (the prompt's forward)
    decode_s: float = 0.0                  # time of all decode steps
    seconds_by_bound: dict[str, float] = field(default_factory=dict)   # compute / memory / overhead
    dtype: str = "bf16"                    # the dtype the GEMMs asked for
    matrix_flops: float = 0.0
    vector_flops: float = 0.0
    dram_read_bytes: float = 0.0
    dram_write_bytes: float = 0.0
    sram_read_bytes: float = 0.0
    sram_write_bytes: float = 0.0
    weight_first_fetch_bytes: float = 0.0
    weight_refetch_bytes: float = 0.0
    kv_dram_bytes: float = 0.0
    activation_spill_bytes: float = 0.0
    sram_peak_bytes: float = 0.0           # most SRAM held at once (0: the engine keeps nothing on chip)
