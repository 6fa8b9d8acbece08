"""Iso-area / iso-power chip search: at a fixed die-area budget, trade SRAM against MACs against
DRAM channels; at a fixed power budget, the chip runs in that power mode (clocks and DRAM
bandwidth throttled to fit it, hwsim.chip.model). Each model gets the chip that maximises its
decode tokens/s.

Candidates per budget: every SRAM size x DRAM-channel count with 64x64 int8 MAC arrays (each with
64 fp32 vector lanes) in the area left over: as many as fit (the iso-area fill) and every count
of a fixed grid (1, 2, 3, 4, 6, 8, 12, ...) below that, so a larger budget's candidates include
a smaller one's grid points (under a power cap more MACs throttle the clock and the DRAM
bandwidth, so the fullest chip is often not the fastest). Each is
screened with the per-op roofline estimate and the roofline floor (a lower bound on the
simulator's time, so an upper bound on tokens/s); candidates are then simulated with the
event-driven engine under the `pin` residency policy (weights pinned in SRAM) in estimate
order, skipping any whose floor cannot beat the best simulated point, at most MAX_SIMULATED
per budget and model: the optimum is the event simulation's best among those.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from hwsim.chip.model import build_hardware, chip_cost, mac_area_mm2, vector_area_mm2
from hwsim.chip.params import ChipParams
from hwsim.errors import ConfigError

# up to 768 MiB so a looped model's shared block (Ouro-1.4B at int4-g128: 607 MiB) can be resident
SRAM_MIB = (0, 4, 8, 16, 32, 64, 128, 256, 512, 640, 768)
# x16 channels up to a 256-bit bus (Apple M4 Pro: 256-bit LPDDR5X, 273 GB/s; AMD Strix Halo:
# 256-bit LPDDR5X-8000); pins and package are not priced, so this ceiling is an assumption, and
# the optima take every channel the power budget affords
DRAM_CHANNELS = (1, 2, 4, 8, 16)
ARRAY_COUNTS = tuple(sorted({2 ** k for k in range(12)} | {3 * 2 ** k for k in range(11)}))
ARRAY = 64                     # 64 x 64 int8 arrays
LANES_PER_ARRAY = 64           # fp32 vector lanes beside each array (norms, softmax, dequantisation)
FORMATS = {"int4": 2.0, "fp16": 0.5, "bf16": 0.5}   # int8-native arrays as on RK3588 / Hailo-10H
MAX_SIMULATED = 6              # event simulations per (budget, model) at most


@dataclass(frozen=True)
class Budget:
    node: str
    area_mm2: float
    power_w: float

    @property
    def label(self) -> str:
        return f"{self.node} {self.area_mm2:g} mm2 {self.power_w:g} W"


@dataclass(frozen=True)
class Run:
    """Decode settings every candidate is judged on."""

    quant: str = "int4-g128"
    prompt_len: int = 128
    gen_len: int = 16
    dram_type: str = "LPDDR5X"
    clock: str = "1 GHz"


@dataclass
class Optimum:
    budget: Budget
    model: str
    params: ChipParams | None
    totals: dict = field(default_factory=dict)
    candidates: int = 0
    simulated: int = 0


def candidates(budget: Budget, run: Run) -> list[ChipParams]:
    """Every chip of the iso-area trade that fits `budget.area_mm2` and whose static power is
    below the power budget, in `budget.power_w` power mode."""
    per_array = mac_area_mm2(ARRAY * ARRAY, "int8", budget.node) + vector_area_mm2(LANES_PER_ARRAY, budget.node)
    out = []
    for sram in SRAM_MIB:
        for channels in DRAM_CHANNELS:
            base = ChipParams(name="probe", node=budget.node, clock=run.clock, mac_rows=ARRAY, mac_cols=ARRAY,
                              sram=f"{sram} MiB", dram_type=run.dram_type, dram_channels=channels)
            probe = chip_cost(base)
            # area left for arrays: (budget - area without arrays) scaled back by the uncore share
            without = probe.total_area_mm2 - probe.area_mm2["mac_array"] / (1 - _uncore_fraction())
            if without > budget.area_mm2:
                continue
            room = (budget.area_mm2 - without) * (1 - _uncore_fraction())
            most = int(room // per_array)
            for arrays in sorted({n for n in ARRAY_COUNTS if n < most} | ({most} if most >= 1 else set())):
                params = base.model_copy(update={
                    "name": f"{budget.node}-{arrays}x{ARRAY}x{ARRAY}-{sram}MiB-{channels}ch",
                    "mac_arrays": arrays, "vector_lanes": arrays * LANES_PER_ARRAY, "formats": FORMATS,
                    "power_mode": budget.power_w})
                cost = chip_cost_or_none(params)
                if cost is not None and cost.total_area_mm2 <= budget.area_mm2 * (1 + 1e-9):
                    out.append(params)
    return out


def _uncore_fraction() -> float:
    from hwsim.chip.costs import load_costs

    return load_costs().uncore.area_fraction


def chip_cost_or_none(params: ChipParams):
    """The chip's cost, or None where its static power alone exceeds its power mode."""
    try:
        return chip_cost(params)
    except ConfigError:
        return None


_BUILT: OrderedDict[str, object] = OrderedDict()


def _hardware(params: ChipParams):
    """build_hardware, remembered for the last few thousand chips: every model of a budget
    screens the same candidates, and building one (unit strings parsed back) costs more than
    its roofline screen."""
    key = params.model_dump_json()
    if key not in _BUILT:
        _BUILT[key] = build_hardware(params)
        if len(_BUILT) > 4096:
            _BUILT.popitem(last=False)
    return _BUILT[key]


def best_chip(budget: Budget, model_name: str, run: Run, engine: str = "des", min_sram_bytes: float = 0.0) -> Optimum:
    """The candidate with the highest simulated decode tokens/s that fits the model and draws at
    most the power budget (see module docstring for the floor-ordered search); only candidates
    with at least `min_sram_bytes` of SRAM (e.g. a looped model's shared block) where given,
    searched in floor order to the end (exact)."""
    from hwsim.sim import roofline_totals
    from hwsim.sim import simulate
    from hwsim.validation.predict import case_model

    model = case_model(model_name, run.quant)
    options = dict(phase="decode", prompt_len=run.prompt_len, gen_len=run.gen_len, batch=1)
    screened = []
    chips = [p for p in candidates(budget, run) if p.sram_bytes >= min_sram_bytes]
    for params in chips:
        hardware = _hardware(params)
        floor = roofline_totals(model, hardware, bound="floor", **options)
        if floor["fits"]:
            estimate = roofline_totals(model, hardware, bound="op", **options)["tokens_per_s"]
            screened.append((estimate, floor["tokens_per_s"], params, hardware))
    # The per-op estimate streams weights from DRAM, so it misorders chips chosen to hold them;
    # those go in floor order without the cap: the search ends at the first floor at or below
    # the best simulated point, so it finds the best of all candidates.
    screened.sort(key=lambda item: -item[1] if min_sram_bytes else -item[0])
    cap = len(screened) if min_sram_bytes else MAX_SIMULATED
    best = Optimum(budget=budget, model=model_name, params=None, candidates=len(chips))
    for _, bound, params, hardware in screened:
        if best.simulated >= cap:
            break
        if best.params is not None and bound <= best.totals["tokens_per_s"]:
            continue
        if engine == "des":
            totals = dict(simulate(model, hardware, policy="pin", engine="des", **options).totals)
        else:
            totals = roofline_totals(model, hardware, bound="floor", **options)
        best.simulated += 1
        if totals["power_w"] > budget.power_w * (1 + 1e-6):
            continue
        if best.params is None or totals["tokens_per_s"] > best.totals["tokens_per_s"]:
            best.params, best.totals = params, totals
    return best


def looped_block_bytes(model_name: str, quant: str) -> float:
    """Weight bytes of the blocks a looped model repeats (0 for a standard model): what must be
    resident in SRAM for its loop iterations to stop re-reading DRAM."""
    from hwsim.validation.predict import case_model
    from hwsim.workload.schedule import block_offsets, loop_repeat
    from hwsim.workload.weights import weight_table

    model = case_model(model_name, quant)
    repeat = loop_repeat(model)
    if repeat is None:
        return 0.0
    offsets = block_offsets(model)
    sizes = {b.name: b.num_layers for b in model.blocks}
    layers = {offsets[name] + i for name in repeat.body if isinstance(name, str) for i in range(sizes[name])}
    return sum(t.bytes(model) for t in weight_table(model).tensors if t.layer in layers)


def largest_sram_mib(budget: Budget, run: Run) -> float:
    """The most SRAM (MiB, 1 MiB steps) a chip with one 64x64 array and one DRAM channel fits."""
    lo, hi = 0, 8192
    while lo < hi:
        mid = (lo + hi + 1) // 2
        params = ChipParams(node=budget.node, clock=run.clock, mac_rows=ARRAY, mac_cols=ARRAY, sram=f"{mid} MiB",
                            dram_type=run.dram_type, dram_channels=1)
        if chip_cost(params).total_area_mm2 <= budget.area_mm2:
            lo = mid
        else:
            hi = mid - 1
    return float(lo)
