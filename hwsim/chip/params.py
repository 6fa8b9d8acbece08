"""ChipParams: the few design choices a hypothetical chip is described by."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hwsim.spec._base import Bytes, Hertz, Spec, Watts
from hwsim.spec.hardware import DeviceClass
from hwsim.spec.quant import DType


class ChipParams(Spec):
    """One chip. `macs` is arrays x rows x cols MAC units of `mac_format`; `formats` gives other
    dtypes' MACs per unit per cycle (int4: 2.0 = two int4 MACs where one int8 fits). SRAM is the
    on-chip level the residency policy manages (`style: cache` pays tags, ECC and crossbar
    ports); `local_buffer_per_mac` is register file / L1 per MAC (GPU SMs), priced as cache
    banks of 32 KiB. `power_mode` caps power: clocks and DRAM bandwidth throttle to fit it."""

    name: str = "chip"
    device_class: DeviceClass = "edge_npu"
    node: str
    clock: Hertz
    mac_arrays: int = Field(1, ge=1)
    mac_rows: int = Field(ge=1)
    mac_cols: int = Field(ge=1)
    mac_format: DType = "int8"
    formats: dict[DType, float] = Field(default_factory=dict, description="MACs per unit per cycle")
    vector_lanes: int = Field(0, ge=0, description="fp32 FMA lanes")
    sram: Bytes = Field("0 B")
    sram_bank: Bytes | None = None
    sram_style: Literal["scratchpad", "cache"] = "scratchpad"
    local_buffer_per_mac: Bytes = Field("0 B")
    dram_type: str | None = "LPDDR5"
    dram_channels: int = Field(1, ge=0)
    dram_capacity: Bytes = Field("8 GB")
    power_mode: Watts | None = None
    source: str = "hypothetical"

    @property
    def clock_hz(self) -> float:
        return self.clock

    @property
    def sram_bytes(self) -> float:
        return self.sram

    @property
    def macs(self) -> int:
        return self.mac_arrays * self.mac_rows * self.mac_cols

    @property
    def rates(self) -> dict[str, float]:
        """MACs per unit per cycle by dtype (the native format at 1)."""
        rates: dict[str, float] = {self.mac_format: 1.0}
        rates.update(self.formats)
        return rates


def is_chip_document(data: dict) -> bool:
    """Whether a hardware document is a chip's design parameters (a MAC array field, no
    `compute` / `memory` sections) rather than a HardwareSpec: such a file can be passed
    wherever a hardware preset can."""
    keys = set(data) if isinstance(data, dict) else set()
    return bool(keys & {"mac_rows", "mac_cols", "mac_arrays"}) and not keys & {"compute", "memory"}


# A HardwareSpec built from chip parameters carries them in its `notes` after this marker, so its
# area and power are priced from the parameters themselves (hwsim.chip.describe), not read back
# from its peaks and bandwidths (which a power mode has throttled).
CHIP_NOTE = "hwsim.chip parameters: "
