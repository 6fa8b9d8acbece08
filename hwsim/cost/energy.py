"""Energy from action counts: what a run did (MACs per dtype, vector FLOPs, bytes per memory
level) times what each action costs on a process node, plus static power over the run time.

The simulator only counts actions; pricing them is a separate step (the Accelergy idea), so a
result can be re-priced with another energy table, node or DRAM type without re-simulating.

Tables live in `configs/energy/`: one file per process node (`7nm.yaml`: MAC energy per dtype,
vector energy per FLOP, SRAM energy per byte by array size) and `dram.yaml` (energy per byte by
DRAM type). DRAM sits on its own die and process, so its energy per bit does not follow the
logic node (Jouppi et al., ISCA 2021): one DRAM table serves every node.

Action energies alone come out 3-4x below measured board power (clocks, uncore, host CPU, DRAM
background, regulators burn power while a device runs, whatever it computes), so power has
two more terms: operand delivery per matrix FLOP (register and local-buffer traffic, where the
hardware gives it: hwsim.chip derives it) and an active power drawn over the run on top of
idle: the hardware's own `power.active`, else ACTIVE_FRACTION of (tdp - idle), the share fitted
on measured board power (configs/chip_costs/power_fit.yaml, hwsim.validation.power).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import lru_cache

from pydantic import Field, model_validator

from hwsim import cache
from hwsim.errors import ConfigError
from hwsim.spec._base import Bytes, JoulesPerByte, JoulesPerFlop, Spec
from hwsim.spec.hardware import HardwareSpec, MemoryLevelSpec
from hwsim.spec.quant import DTYPE_WIDER, DType
from hwsim.spec import loader

DRAM_TABLE = "dram"


# --- the YAML schema -------------------------------------------------------------------------

class OpEnergy(Spec):
    energy: JoulesPerFlop = Field(description="per FLOP; write MACs as 'pJ/MAC' (1 MAC = 2 FLOP)")
    source: str = Field(min_length=1)


class SramRow(Spec):
    """Energy per byte of an SRAM array up to `max_capacity` (the last row has none: larger)."""

    max_capacity: Bytes | None = None
    read: JoulesPerByte
    write: JoulesPerByte
    source: str = Field(min_length=1)


class NodeEnergySpec(Spec):
    node: str
    source: str = Field(min_length=1)
    scaling: str = Field("", description="how figures not measured at this node were derived")
    mac: dict[DType, OpEnergy] = Field(description="energy per multiply-accumulate by dtype")
    vector: OpEnergy
    sram: list[SramRow] = Field(min_length=1)

    @model_validator(mode="after")
    def _complete(self):
        problems = []
        missing = [d for d in DTYPE_WIDER if d not in self.mac]
        if missing:
            problems.append(f"mac: missing dtypes {', '.join(missing)}")
        caps = [row.max_capacity for row in self.sram]
        if caps[-1] is not None or any(c is None for c in caps[:-1]):
            problems.append("sram: every row but the last needs max_capacity; the last has none")
        elif caps[:-1] != sorted(caps[:-1]):
            problems.append("sram: rows must be ordered by increasing max_capacity")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class DramEnergy(Spec):
    read: JoulesPerByte
    write: JoulesPerByte
    source: str = Field(min_length=1)


class DramEnergySpec(Spec):
    source: str = Field(min_length=1)
    types: dict[str, DramEnergy] = Field(min_length=1)


@lru_cache(maxsize=None)
def load_node(node: str) -> NodeEnergySpec:
    path = loader.ENERGY_DIR / f"{node}.yaml"
    spec = loader.validate(NodeEnergySpec, loader.read_document(path), f"configs/energy/{path.name}")
    if spec.node != node:
        raise ConfigError(f"configs/energy/{path.name}: node: says {spec.node!r}, file is for {node!r}")
    return spec


@lru_cache(maxsize=1)
def load_dram() -> DramEnergySpec:
    path = loader.ENERGY_DIR / f"{DRAM_TABLE}.yaml"
    return loader.validate(DramEnergySpec, loader.read_document(path), f"configs/energy/{path.name}")


@lru_cache(maxsize=64)
def dram_energy(dram_type: str) -> DramEnergy | None:
    """The DRAM table's entry for a memory type, matched without regard to case (None if absent)."""
    return next((entry for name, entry in load_dram().types.items() if name.lower() == dram_type.lower()), None)


@lru_cache(maxsize=1)
def known_nodes() -> tuple[str, ...]:
    """Process nodes with an energy table, smallest first."""
    return tuple(sorted((p.stem for p in loader.list_presets(loader.ENERGY_DIR) if p.stem != DRAM_TABLE),
                  key=lambda n: float(n.removesuffix("nm"))))


# --- actions and prices ----------------------------------------------------------------------

@dataclass(frozen=True)
class ActionCounts:
    """What a run did, in countable actions: matrix FLOPs per dtype the engine ran at, vector
    FLOPs (softmax, norms, activations, dequantisation), and bytes read/written per level."""

    flops_by_dtype: dict[str, float] = field(default_factory=dict)
    vector_flops: float = 0.0
    sram_read_bytes: float = 0.0
    sram_write_bytes: float = 0.0
    dram_read_bytes: float = 0.0
    dram_write_bytes: float = 0.0

    def __add__(self, other: ActionCounts) -> ActionCounts:
        if not isinstance(other, ActionCounts):
            return NotImplemented
        flops = dict(self.flops_by_dtype)
        for dtype, value in other.flops_by_dtype.items():
            flops[dtype] = flops.get(dtype, 0.0) + value
        return ActionCounts(flops, *(getattr(self, f) + getattr(other, f) for f in _SCALAR_FIELDS))

    def __mul__(self, factor: float) -> ActionCounts:
        if not isinstance(factor, (int, float)):
            return NotImplemented
        flops = {dtype: value * factor for dtype, value in self.flops_by_dtype.items()}
        return ActionCounts(flops, *(getattr(self, f) * factor for f in _SCALAR_FIELDS))

    __rmul__ = __mul__

    @property
    def matrix_flops(self) -> float:
        return sum(self.flops_by_dtype.values())

    def to_dict(self) -> dict:
        return {"flops_by_dtype": dict(self.flops_by_dtype),
                **{f: getattr(self, f) for f in _SCALAR_FIELDS}}

    @classmethod
    def from_dict(cls, data: dict) -> ActionCounts:
        return cls(**data)


_SCALAR_FIELDS = [f.name for f in fields(ActionCounts) if f.name != "flops_by_dtype"]


@dataclass(frozen=True)
class EnergyTable:
    """Energy per action for one hardware spec, in J/FLOP and J/B."""

    node: str
    matrix_j_per_flop: dict[str, float]
    vector_j_per_flop: float
    sram_read_j_per_byte: float
    sram_write_j_per_byte: float
    dram_read_j_per_byte: float
    dram_write_j_per_byte: float

    def matrix_energy_for(self, dtype: str) -> float:
        """J/FLOP of matrix work at `dtype` (an unknown dtype is priced at the next wider one)."""
        current: str | None = dtype
        while current is not None:
            if current in self.matrix_j_per_flop:
                return self.matrix_j_per_flop[current]
            current = DTYPE_WIDER.get(current)
        raise ConfigError(f"energy table {self.node}: no MAC energy for dtype {dtype!r}")


def _level_key(hardware: HardwareSpec, level: MemoryLevelSpec) -> str:
    return next(name for name, candidate in hardware.memory.items() if candidate is level)


def _sram_prices(hardware: HardwareSpec, level: MemoryLevelSpec | None, node: NodeEnergySpec):
    """(read, write) J/B of an SRAM level: the first array-size row that holds its capacity. No
    level: operands are staged in small buffers, priced at the smallest array."""
    if level is None:
        row = node.sram[0]
    else:
        row = next(r for r in node.sram if r.max_capacity is None or level.capacity_bytes <= r.max_capacity)
    return _with_overrides(level, row.read, row.write)


def _dram_prices(hardware: HardwareSpec, level: MemoryLevelSpec):
    if level.read_energy is not None:
        return _with_overrides(level, level.read_energy, level.read_energy)
    entry = dram_energy(level.type)
    if entry is None:
        known = ", ".join(load_dram().types)
        raise ConfigError(f"hardware {hardware.name}: memory.{_level_key(hardware, level)}.type: no DRAM "
                          f"energy for {level.type!r} (configs/energy/{DRAM_TABLE}.yaml has {known}; "
                          f"or set read_energy)")
    return _with_overrides(level, entry.read, entry.write)


def _with_overrides(level: MemoryLevelSpec | None, read: float, write: float) -> tuple[float, float]:
    """A memory level's own read_energy / write_energy replace the table's figures; a level that
    gives only read_energy is written at the same energy."""
    if level is None:
        return read, write
    read = level.read_energy if level.read_energy is not None else read
    write = level.write_energy if level.write_energy is not None else (
        level.read_energy if level.read_energy is not None else write)
    return read, write


def energy_table(hardware: HardwareSpec) -> EnergyTable:
    """Energy per action for `hardware`: node table by `process_node`, DRAM by its `type`, SRAM
    by its capacity; a memory level's read_energy / write_energy override the tables. Kept per
    hardware object (hwsim.cache): every priced point reads it."""
    return cache.per_spec.get("energy_table", hardware, lambda: _energy_table(hardware))


def _energy_table(hardware: HardwareSpec) -> EnergyTable:
    if hardware.process_node not in known_nodes():
        raise ConfigError(f"hardware {hardware.name}: process_node: no energy table for "
                          f"{hardware.process_node!r} (known: {', '.join(known_nodes())})")
    node = load_node(hardware.process_node)
    sram_read, sram_write = _sram_prices(hardware, hardware.sram, node)
    main = hardware.main_memory
    if main.kind == "dram":
        dram_read, dram_write = _dram_prices(hardware, main)
    else:  # all-SRAM design: "main memory" traffic is SRAM traffic
        dram_read, dram_write = sram_read, sram_write
    return EnergyTable(
        node=node.node,
        matrix_j_per_flop={dtype: entry.energy for dtype, entry in node.mac.items()},
        vector_j_per_flop=node.vector.energy,
        sram_read_j_per_byte=sram_read, sram_write_j_per_byte=sram_write,
        dram_read_j_per_byte=dram_read, dram_write_j_per_byte=dram_write,
    )


POWER_FIT_PATH = loader.REPO_ROOT / "configs" / "chip_costs" / "power_fit.yaml"


@lru_cache(maxsize=1)
def active_fraction() -> float:
    """Share of (tdp - idle) a running device draws beyond its action energies (fitted)."""
    data = loader.read_document(POWER_FIT_PATH)
    value = data.get("active_fraction")
    if not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"configs/chip_costs/{POWER_FIT_PATH.name}: active_fraction: expected a number in [0, 1]")
    return float(value)


def active_power_w(hardware: HardwareSpec, fraction: float | None = None) -> float:
    """Power drawn while running on top of idle and the action energies: `power.active` where
    the hardware states it, else `fraction` (default: the fitted share) of tdp - idle."""
    power = hardware.power
    if power.active_w is not None:
        return power.active_w
    if power.tdp_w is None:
        return 0.0
    share = active_fraction() if fraction is None else fraction
    return share * max(power.tdp_w - power.idle_w, 0.0)


def price(actions: ActionCounts, hardware: HardwareSpec, duration_s: float,
          table: EnergyTable | None = None, fraction: float | None = None) -> dict[str, float]:
    """Joules by component for `actions` over a run of `duration_s` seconds on `hardware`.
    compute = MACs + operand delivery + vector FLOPs; static = (idle + active power) x time,
    `energy_active_j` and `energy_operand_j` break those two terms out. Pass `table` to
    re-price with another energy table, `fraction` to replace the fitted active share."""
    table = table or energy_table(hardware)
    operand_j = actions.matrix_flops * hardware.power.operand_j_per_flop
    compute_j = sum(flops * table.matrix_energy_for(dtype) for dtype, flops in actions.flops_by_dtype.items())
    compute_j += actions.vector_flops * table.vector_j_per_flop + operand_j
    sram_j = actions.sram_read_bytes * table.sram_read_j_per_byte + actions.sram_write_bytes * table.sram_write_j_per_byte
    dram_j = actions.dram_read_bytes * table.dram_read_j_per_byte + actions.dram_write_bytes * table.dram_write_j_per_byte
    active_j = active_power_w(hardware, fraction) * duration_s
    static_j = hardware.power.idle_w * duration_s + active_j
    return {"energy_compute_j": compute_j, "energy_sram_j": sram_j, "energy_dram_j": dram_j,
            "energy_static_j": static_j, "energy_j": compute_j + sram_j + dram_j + static_j,
            "energy_operand_j": operand_j, "energy_active_j": active_j}
