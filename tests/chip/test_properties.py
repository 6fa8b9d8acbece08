"""Properties of the chip cost model: more SRAM costs area and leakage, a bigger array costs
energy per access, and a running device never draws less than idle."""

from hypothesis import given, settings, strategies as st

from hwsim.chip import ChipParams, chip_cost
from hwsim.chip import model as M
from hwsim.cost import energy as E

NODES = st.sampled_from(["16nm", "8nm", "7nm", "5nm", "3nm"])
MIB = 2 ** 20


@settings(max_examples=60, deadline=None)
@given(node=NODES, mib=st.floats(0.5, 512), extra=st.floats(0.1, 512), style=st.sampled_from(["scratchpad", "cache"]))
def test_more_sram_more_area_and_leakage(node, mib, extra, style):
    base = dict(node=node, clock="1 GHz", mac_rows=32, mac_cols=32, sram_style=style)
    small = chip_cost(ChipParams(**base, sram=f"{mib} MiB"))
    large = chip_cost(ChipParams(**base, sram=f"{mib + extra} MiB"))
    assert large.total_area_mm2 > small.total_area_mm2
    assert large.static_w["sram_leakage"] > small.static_w["sram_leakage"]


@settings(max_examples=60, deadline=None)
@given(node=NODES, bank_kib=st.floats(8, 4096), mib=st.floats(0.01, 256), factor=st.floats(1.01, 64))
def test_bigger_array_higher_energy_per_access(node, bank_kib, mib, factor):
    bank = bank_kib * 1024
    assert M.sram_energy_pj_per_bit(mib * factor * MIB, node, bank) > M.sram_energy_pj_per_bit(mib * MIB, node, bank)


@settings(max_examples=40, deadline=None)
@given(bank_kib=st.floats(8, 2048), factor=st.floats(1.01, 64))
def test_bigger_banks_cost_more_per_access(bank_kib, factor):
    size = 4096 * MIB
    assert M.sram_energy_pj_per_bit(size, "7nm", bank_kib * factor * 1024) > 0
    assert (M.sram_energy_pj_per_bit(bank_kib * factor * 1024, "7nm", bank_kib * factor * 1024)
            > M.sram_energy_pj_per_bit(bank_kib * 1024, "7nm", bank_kib * 1024))


@settings(max_examples=60, deadline=None)
@given(flops=st.floats(0, 1e15), dram=st.floats(0, 1e12), sram=st.floats(0, 1e12),
       seconds=st.floats(1e-6, 1e3), preset=st.sampled_from(["jetson-orin-nano", "h100-sxm", "edge-npu", "raspberry-pi-5"]))
def test_power_never_below_idle(load_hardware, flops, dram, sram, seconds, preset):
    hw = load_hardware(preset)
    actions = E.ActionCounts(flops_by_dtype={"fp16": flops}, dram_read_bytes=dram, sram_read_bytes=sram)
    joules = E.price(actions, hw, seconds)["energy_j"]
    assert joules / seconds >= hw.power.idle_w * (1 - 1e-12)


def test_chip_power_never_below_idle_even_when_throttled():
    for cap in ("1.5 W", "3 W", "100 W"):
        cost = chip_cost(ChipParams(node="7nm", clock="1 GHz", mac_rows=128, mac_cols=128, sram="16 MiB",
                                    dram_type="LPDDR5", dram_channels=4, power_mode=cap))
        assert cost.tdp_w >= cost.idle_w
        assert cost.tdp_w <= float(cap.split()[0]) * (1 + 1e-9)
