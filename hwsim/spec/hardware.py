"""HardwareSpec: compute engines, memory levels, power and efficiencies of one device.

YAML keeps units in strings (`bandwidth: "68 GB/s"`); Python reads SI floats under names with
the unit (`bandwidth_bytes_per_s`). Engines and memory levels are mappings keyed by name, so
an override path reads naturally: `memory.sram.capacity`, `compute.matrix.peak.int8`.
Every section carries a `source:` saying where its figures come from.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from hwsim import cache
from hwsim.spec._base import Bytes, BytesPerS, FlopsPerS, Hertz, JoulesPerByte, JoulesPerFlop, Seconds, Spec, Watts
from hwsim.spec.quant import DTYPE_WIDER, DType

DeviceClass = Literal[
    "datacenter_gpu", "consumer_gpu", "edge_gpu", "apple_gpu", "mobile_npu", "edge_npu",
    "cpu", "sram_accelerator",
]


class EfficiencyCurve(Spec):
    """Achievable fraction of a matrix engine's peak as a function of GEMM size: piecewise-linear
    in log2(size) between the points, flat beyond them (calculon-style). `size` says what a point's
    size counts: `macs`, the multiply-accumulates of one op (m*n*k = FLOPs / 2: a cuBLAS-style curve,
    where small GEMMs fill too few tiles), or `rows`, the op's M (a runtime that switches kernels
    with batch: llama.cpp runs a GEMV-style kernel at M = 1 and a tiled GEMM at prefill sizes). The
    fractions need not rise with size: they describe the runtime's kernels, not the silicon."""

    size: Literal["macs", "rows"] = "macs"
    points: list[tuple[float, float]] = Field(min_length=1, description="(size, fraction) pairs")
    source: str = ""

    @model_validator(mode="after")
    def _sane(self):
        sizes = [s for s, _ in self.points]
        if any(b <= a for a, b in zip(sizes, sizes[1:])) or any(s <= 0 for s in sizes):
            raise ValueError("points must have positive, strictly increasing sizes")
        if any(not 0 < f <= 1 for _, f in self.points):
            raise ValueError("fractions must be in (0, 1]")
        return self


class ComputeEngineSpec(Spec):
    kind: Literal["matrix", "vector"]
    peak: dict[DType, FlopsPerS] = Field(min_length=1, description="dense peak rate per dtype")
    clock: Hertz | None = None
    tile_m: int = Field(1, ge=1, description="rows a matrix unit processes at once; a GEMM with "
                        "M below it runs at M/tile_m of peak (a decode GEMV underuses it)")
    efficiency: float = Field(1.0, gt=0, le=1, description="achievable fraction of peak at large sizes")
    efficiency_curve: dict[DType | Literal["any"], EfficiencyCurve] = Field(
        default_factory=dict, description="size-dependent achievable fraction of peak per dtype "
        "(`any`: every dtype without its own); replaces `efficiency` for the GEMMs it covers")
    source: str = Field(min_length=1)

    @field_validator("peak")
    @classmethod
    def _positive_peaks(cls, value: dict[str, float]):
        zero = [dtype for dtype, rate in value.items() if rate <= 0]
        if zero:
            raise ValueError(f"{', '.join(zero)}: a peak rate must be above 0 (leave out a dtype the engine lacks)")
        return value

    def rate_for(self, dtype: str) -> tuple[str, float]:
        """(dtype actually used, peak FLOP/s): a dtype the engine lacks runs at the next wider one;
        past the widest listed, at the engine's slowest rate (never a faster, narrower one)."""
        current: str | None = dtype
        while current is not None:
            if current in self.peak:
                return current, self.peak[current]
            current = DTYPE_WIDER[current]
        slowest = min(self.peak, key=self.peak.get)
        return slowest, self.peak[slowest]


class MemoryLevelSpec(Spec):
    kind: Literal["dram", "sram"]
    type: str = Field(description="HBM3, LPDDR5, GDDR6X, SRAM, ... (selects the energy per byte)")
    capacity: Bytes
    bandwidth: BytesPerS
    latency: Seconds = Field("0 s")
    read_energy: JoulesPerByte | None = Field(None, description="overrides the energy table")
    write_energy: JoulesPerByte | None = None
    efficiency: float = Field(1.0, gt=0, le=1, description="achievable fraction of bandwidth")
    source: str = Field(min_length=1)

    @field_validator("bandwidth")
    @classmethod
    def _moves_data(cls, value: float):
        if value <= 0:
            raise ValueError("must be above 0 B/s (a memory that moves no data never finishes)")
        return value

    # Python-side names carrying units (YAML keeps the short keys).
    @property
    def capacity_bytes(self) -> float:
        return self.capacity

    @property
    def bandwidth_bytes_per_s(self) -> float:
        return self.bandwidth

    @property
    def latency_s(self) -> float:
        return self.latency


class PowerSpec(Spec):
    tdp: Watts | None = None
    idle: Watts = Field("0 W", description="static / idle power drawn whenever the device is on")
    active: Watts | None = Field(None, description="drawn while running beyond idle and the action "
                                 "energies (clocks, uncore, host); unset: hwsim.cost.energy's fitted share of tdp - idle")
    operand_delivery: JoulesPerFlop | None = Field(None, description="register / local-buffer energy "
                                                   "per matrix FLOP (write 'pJ/MAC'); unset: none")
    source: str = Field(min_length=1)

    @property
    def tdp_w(self) -> float | None:
        return self.tdp

    @property
    def idle_w(self) -> float:
        return self.idle

    @property
    def active_w(self) -> float | None:
        return self.active

    @property
    def operand_j_per_flop(self) -> float:
        return self.operand_delivery or 0.0


class OverheadSpec(Spec):
    """Fixed costs real runtimes pay: a per-op launch/dispatch time, and the extra vector work of
    unpacking quantised weights (FLOPs per weight element dequantised)."""

    op_launch: Seconds = Field("0 s")
    request: Seconds = Field("0 s", description="fixed time per request (prompt) a runtime spends outside "
                             "the model's ops (graph setup, tokenisation, scheduling); added once to the "
                             "time to first token")
    dequant_flops_per_weight: float = Field(2.0, ge=0)
    prefetch: Literal["cross_op", "within_op"] | None = Field(
        None, description="cross_op: a DMA engine loads the next ops' operands while this one "
        "runs; within_op: each kernel loads its own operands after it is launched (GPU/CPU "
        "runtimes); unset: by device class (hwsim.cost.op_cost.PREFETCH_BY_CLASS)")
    source: str = "default"

    @property
    def op_launch_s(self) -> float:
        return self.op_launch

    @property
    def request_s(self) -> float:
        return self.request


DequantSite = Literal["fused", "vector", "load"]


class DatapathSpec(Spec):
    """How a device and its runtime map ops onto the silicon (docs/cost.md, "Datapath"). A field
    left empty takes the default of the device class (CLASS_DATAPATH), so a preset states only
    where it differs.

    - `dequant`: where weight-only formats are unpacked to the compute type: `fused` in the MAC
      array or the kernel's registers (no extra pass: ggml CUDA/Metal kernels, Marlin, most NPU
      toolchains), `vector` as a separate pass on the vector engine, `load` once when a weight is
      fetched into on-chip memory (a weight resident in SRAM is not unpacked again).
    - `gemv_on_vector`: a GEMM with few rows may run on the vector engine (GEMV kernels) when
      that is faster than the matrix engine padded to its tile.
    - `grouped_moe`: a layer's experts are one launch (grouped GEMM) instead of one per expert.
    - `fused_attention`: attention is one tiled kernel (FlashAttention): the score matrix stays
      on chip when a tile of `attention_tile` queries x keys fits; otherwise it spills.
    - `legacy_mma_fraction`: the share of the matrix peak that the previous generation's
      warp-level MMA instructions reach on this device (Hopper: about 2/3 with `mma.sync`, the
      peak needs `wgmma`). A runtime whose kernels for a type issue only those instructions
      (hwsim.spec.runtime.LEGACY_MMA) sees that share of the type's peak.
    """

    dequant: DequantSite | None = None
    gemv_on_vector: bool | None = None
    grouped_moe: bool | None = None
    fused_attention: bool | None = None
    attention_tile: int = Field(128, ge=1, description="FlashAttention block rows = columns (Br = Bc)")
    legacy_mma_fraction: float | None = Field(None, gt=0, le=1, description="share of the matrix peak "
                                              "the previous generation's MMA instructions reach")
    source: str = "device-class default"


# Per device class (hwsim.cost.datapath resolves a preset's datapath against these). Sources in
# docs/cost.md: GPUs run ggml's fused dequant kernels and FlashAttention-style kernels and launch
# MoE experts as one grouped GEMM (ggml mul_mat_id, vLLM fused_moe); NPU toolchains fuse the
# dequant into the MAC datapath (w4a16 / w4a8) and attention into one op, but compile experts
# as separate ops; a CPU unpacks in the same SIMD units that multiply; an all-SRAM accelerator
# unpacks once at load.
CLASS_DATAPATH: dict[str, dict] = {
    "datacenter_gpu": dict(dequant="fused", gemv_on_vector=True, grouped_moe=True, fused_attention=True),
    "consumer_gpu": dict(dequant="fused", gemv_on_vector=True, grouped_moe=True, fused_attention=True),
    "edge_gpu": dict(dequant="fused", gemv_on_vector=True, grouped_moe=True, fused_attention=True),
    "apple_gpu": dict(dequant="fused", gemv_on_vector=True, grouped_moe=True, fused_attention=True),
    "cpu": dict(dequant="vector", gemv_on_vector=True, grouped_moe=True, fused_attention=True),
    "edge_npu": dict(dequant="fused", gemv_on_vector=True, grouped_moe=False, fused_attention=True),
    "mobile_npu": dict(dequant="fused", gemv_on_vector=True, grouped_moe=False, fused_attention=True),
    "sram_accelerator": dict(dequant="load", gemv_on_vector=True, grouped_moe=False, fused_attention=True),
}


class HardwareSpec(Spec):
    name: str
    display_name: str = ""
    device_class: DeviceClass = Field(alias="class")
    process_node: str = Field(description="energy table key, e.g. '4nm', '7nm', '8nm', '16nm'")
    compute: dict[str, ComputeEngineSpec] = Field(min_length=1)
    memory: dict[str, MemoryLevelSpec] = Field(min_length=1)
    power: PowerSpec
    overhead: OverheadSpec = OverheadSpec()
    datapath: DatapathSpec = DatapathSpec()
    dram_efficiency_by_format: dict[str, float] = Field(
        default_factory=dict, description="achievable DRAM-bandwidth fraction per weight format "
        "(llama.cpp dequant kernels reach less of peak on Q4 than on F16); calibrated")
    calibration: str = Field("", description="provenance of fitted efficiencies")
    source: str = Field(min_length=1)
    notes: str = ""

    @model_validator(mode="after")
    def _levels(self):
        kinds = [m.kind for m in self.memory.values()]
        if "dram" not in kinds and "sram" not in kinds:
            raise ValueError("memory needs a dram or an sram level")
        if kinds.count("dram") > 1:
            raise ValueError("at most one dram level")
        if kinds.count("sram") > 1:
            raise ValueError("at most one sram level (the on-chip buffer the residency policy manages)")
        if not any(e.kind == "matrix" for e in self.compute.values()):
            raise ValueError("compute needs a matrix engine")
        return self

    @property
    def resolved_datapath(self) -> DatapathSpec:
        """`datapath` with every empty field filled from the device class default, made once per
        spec object (hwsim.cache): the cost kernel reads it for every trace it prices."""
        def resolve() -> DatapathSpec:
            stated = self.datapath.model_dump(exclude_none=True)
            return DatapathSpec(**{**CLASS_DATAPATH[self.device_class], **stated})
        return cache.per_spec.get("datapath", self, resolve)

    @property
    def decode_pads_matrix(self) -> bool:
        """Whether a batch-1 decode GEMM runs as the prefill's tiled kernels do, on the matrix
        engine padded to `tile_m` rows (no GEMV path): it then runs at the prefill fraction, and
        its time is the padded pass, not the weight stream (docs/validation.md, "Padded decode")."""
        return not self.resolved_datapath.gemv_on_vector and self.matrix.tile_m > 1

    @property
    def dram(self) -> MemoryLevelSpec | None:
        return next((m for m in self.memory.values() if m.kind == "dram"), None)

    @property
    def sram(self) -> MemoryLevelSpec | None:
        return next((m for m in self.memory.values() if m.kind == "sram"), None)

    @property
    def main_memory(self) -> MemoryLevelSpec:
        """Where weights and KV live: DRAM, or the SRAM of an all-SRAM design."""
        return self.dram or self.sram

    @property
    def main_memory_name(self) -> str:
        """Key of `main_memory` in `memory` (for dotted paths and copies)."""
        return next(name for name, level in self.memory.items() if level is self.main_memory)

    @property
    def matrix(self) -> ComputeEngineSpec:
        return next(e for e in self.compute.values() if e.kind == "matrix")

    @property
    def matrix_name(self) -> str:
        """Key of `matrix` in `compute`."""
        return next(name for name, engine in self.compute.items() if engine.kind == "matrix")

    @property
    def vector(self) -> ComputeEngineSpec:
        """The vector engine, or the matrix engine where the device has no separate one."""
        return next((e for e in self.compute.values() if e.kind == "vector"), self.matrix)
