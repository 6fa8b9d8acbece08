"""Energy tables and pricing against hand-computed cases."""

import math

import pytest
from hypothesis import given, settings, strategies as st

from hwsim import units
from hwsim.cost import energy as E
from hwsim.errors import ConfigError
from hwsim.spec import loader

NODES = ["3nm", "4nm", "5nm", "7nm", "8nm", "14nm", "16nm", "45nm"]


def test_every_energy_yaml_loads():
    assert list(E.known_nodes()) == NODES
    for node in NODES:
        assert E.load_node(node).node == node
    assert {"HBM2", "HBM3", "HBM3e", "GDDR6", "GDDR6X", "LPDDR4X", "LPDDR5", "LPDDR5X", "DDR4",
            "DDR5"} <= set(E.load_dram().types)


def test_one_int8_mac_at_7nm(device):
    # Jouppi et al. 2021: 0.08 pJ per int8 MAC; one MAC = 2 FLOP.
    prices = E.price(E.ActionCounts(flops_by_dtype={"int8": 2.0}), device(), duration_s=0.0)
    assert prices["energy_compute_j"] == pytest.approx(0.08e-12)
    assert prices["energy_j"] == pytest.approx(0.08e-12)


def test_one_gigabyte_of_lpddr5_at_the_tables_pj_per_bit(device):
    raw = loader.read_document(loader.ENERGY_DIR / "dram.yaml")["types"]["LPDDR5"]["read"]
    pj_per_bit = units.parse(raw, "j_per_byte") / units.parse("1 pJ/bit", "j_per_byte")
    prices = E.price(E.ActionCounts(dram_read_bytes=1e9), device(), duration_s=0.0)
    assert prices["energy_dram_j"] == pytest.approx(1e9 * 8 * pj_per_bit * 1e-12)
    assert pj_per_bit == pytest.approx(5.0)


def test_static_power_times_duration(device):
    prices = E.price(E.ActionCounts(), device(), duration_s=3.0)
    assert prices["energy_static_j"] == pytest.approx(6.0)  # idle 2 W x 3 s
    assert prices["energy_j"] == pytest.approx(6.0)


def test_sram_price_by_array_size(device):
    node = E.load_node("7nm")
    assert E.energy_table(device()).sram_read_j_per_byte == node.sram[-1].read  # 4 MiB: large array
    assert E.energy_table(device(**{"memory.sram.capacity": "8 KiB"})).sram_read_j_per_byte == node.sram[0].read
    assert E.energy_table(device(**{"memory.sram.capacity": "16 KiB"})).sram_write_j_per_byte == node.sram[1].write
    # 45 nm Horowitz: 10 pJ per 64-bit read of an 8 KB array = 1.25 pJ/B.
    hw45 = device(**{"process_node": "45nm", "memory.sram.capacity": "8 KiB"})
    assert E.energy_table(hw45).sram_read_j_per_byte == pytest.approx(1.25e-12)


def test_memory_level_energy_overrides_the_table(device):
    hw = device(**{"memory.dram.read_energy": "2 pJ/B", "memory.dram.type": "made-up",
                   "memory.sram.write_energy": "0.5 pJ/B"})
    table = E.energy_table(hw)
    assert table.dram_read_j_per_byte == pytest.approx(2e-12)
    assert table.dram_write_j_per_byte == pytest.approx(2e-12)  # only read given: writes cost the same
    assert table.sram_write_j_per_byte == pytest.approx(0.5e-12)


def test_all_sram_device_prices_main_memory_as_sram(device):
    hw = device(**{"memory": {"sram": {"kind": "sram", "type": "SRAM", "capacity": "230 MB",
                                       "bandwidth": "80 TB/s", "source": "test"}}})
    table = E.energy_table(hw)
    assert table.dram_read_j_per_byte == table.sram_read_j_per_byte == E.load_node("7nm").sram[-1].read


def test_unknown_node_and_dram_type_name_the_field(device):
    with pytest.raises(ConfigError, match=r"process_node: .*'2nm'"):
        E.energy_table(device(process_node="2nm"))
    with pytest.raises(ConfigError, match=r"memory\.dram\.type: .*'HBM9'"):
        E.energy_table(device(**{"memory.dram.type": "HBM9"}))


def test_dram_type_lookup_ignores_case(device):
    assert E.energy_table(device(**{"memory.dram.type": "lpddr5"})).dram_read_j_per_byte == pytest.approx(40e-12)


def test_derived_nodes_follow_the_scaling_rule():
    anchor = E.load_node("7nm")
    logic_alpha = math.log(0.23 / 0.08) / math.log(45 / 7)
    sram_alpha = math.log(1.6) / math.log(45 / 7)
    for node in ["3nm", "4nm", "5nm", "8nm", "14nm", "16nm"]:
        spec = E.load_node(node)
        size = float(node.removesuffix("nm"))
        for dtype, entry in spec.mac.items():
            assert entry.energy == pytest.approx(anchor.mac[dtype].energy * (size / 7) ** logic_alpha, rel=5e-3)
        for row, anchor_row in zip(spec.sram, anchor.sram):
            assert row.read == pytest.approx(anchor_row.read * (size / 7) ** sram_alpha, rel=5e-3)
    # Smaller nodes are cheaper per MAC; every figure carries a source.
    assert E.load_node("3nm").mac["int8"].energy < anchor.mac["int8"].energy < E.load_node("45nm").mac["int8"].energy
    assert all(entry.source for node in NODES for entry in E.load_node(node).mac.values())


def _load_written(tmp_path, monkeypatch, text: str) -> str:
    (tmp_path / "9nm.yaml").write_text(text)
    monkeypatch.setattr(loader, "ENERGY_DIR", tmp_path)
    E.load_node.cache_clear()
    try:
        with pytest.raises(ConfigError) as error:
            E.load_node("9nm")
    finally:
        E.load_node.cache_clear()
    assert "\n" not in str(error.value)
    return str(error.value)


def test_bad_energy_table_collects_every_problem(tmp_path, monkeypatch):
    message = _load_written(tmp_path, monkeypatch,
                            'node: 9nm\nsource: x\nmac: {int8: {energy: "0.1 pJ/B", source: x}}\n'
                            'vector: {energy: "1 pJ/FLOP", source: x}\n'
                            'sram: [{max_capacity: "8 KiB", write: "1 pJ/B", source: x}]\n')
    assert "9nm.yaml: 2 problems" in message
    assert "mac.int8.energy: '0.1 pJ/B' is an energy per byte" in message and "sram.0.read" in message


def test_incomplete_energy_table_names_what_is_missing(tmp_path, monkeypatch):
    message = _load_written(tmp_path, monkeypatch,
                            'node: 9nm\nsource: x\nmac: {int8: {energy: "0.1 pJ/MAC", source: x}}\n'
                            'vector: {energy: "1 pJ/FLOP", source: x}\n'
                            'sram: [{max_capacity: "8 KiB", read: "1 pJ/B", write: "1 pJ/B", source: x}]\n')
    assert "mac: missing dtypes fp4, int4, fp8, int16, bf16, fp16, fp32" in message
    assert "sram: every row but the last needs max_capacity; the last has none" in message


def test_action_counts_algebra():
    a = E.ActionCounts({"int8": 2.0}, vector_flops=1.0, dram_read_bytes=4.0)
    b = E.ActionCounts({"bf16": 3.0, "int8": 1.0}, sram_write_bytes=5.0)
    total = a + b
    assert total.flops_by_dtype == {"int8": 3.0, "bf16": 3.0}
    assert (total.vector_flops, total.sram_write_bytes, total.dram_read_bytes) == (1.0, 5.0, 4.0)
    assert (2 * a).flops_by_dtype == {"int8": 4.0} and (a * 2).dram_read_bytes == 8.0
    assert E.ActionCounts.from_dict(total.to_dict()) == total
    assert a.flops_by_dtype == {"int8": 2.0}  # operands unchanged


def test_every_hardware_preset_has_an_energy_table():
    for path in loader.list_presets(loader.HARDWARE_DIR):
        table = E.energy_table(loader.load_hardware(str(path)))
        assert table.dram_read_j_per_byte > 0 and table.matrix_energy_for("bf16") > 0


amounts = st.floats(min_value=0, max_value=1e18, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(flops=st.dictionaries(st.sampled_from(["fp32", "bf16", "fp16", "int16", "fp8", "int8", "int4", "fp4"]), amounts),
       vector=amounts, sram_r=amounts, sram_w=amounts, dram_r=amounts, dram_w=amounts,
       duration=st.floats(min_value=0, max_value=1e6), node=st.sampled_from(NODES),
       dram_type=st.sampled_from(["HBM3", "LPDDR5", "GDDR6X", "DDR5"]))
def test_energy_is_never_negative_and_adds_up(device, flops, vector, sram_r, sram_w, dram_r, dram_w, duration,
                                             node, dram_type):
    hw = device(process_node=node, **{"memory.dram.type": dram_type})
    actions = E.ActionCounts(flops, vector, sram_r, sram_w, dram_r, dram_w)
    prices = E.price(actions, hw, duration)
    assert all(value >= 0 for value in prices.values())
    parts = sum(prices[k] for k in ("energy_compute_j", "energy_sram_j", "energy_dram_j", "energy_static_j"))
    assert prices["energy_j"] == pytest.approx(parts)
    doubled = E.price(actions * 2, hw, 0.0)
    # Summed from the parts, not energy_j - static: a huge static term would cancel the digits away.
    dynamic = prices["energy_compute_j"] + prices["energy_sram_j"] + prices["energy_dram_j"]
    assert doubled["energy_j"] == pytest.approx(2 * dynamic)


def test_operand_delivery_per_mac(device):
    # 0.1 pJ per MAC = 0.05 pJ per FLOP; 2e12 FLOP = 1e12 MACs -> 0.1 J on top of the 0.08 pJ int8 MACs
    prices = E.price(E.ActionCounts(flops_by_dtype={"int8": 2e12}), device(**{"power.operand_delivery": "0.1 pJ/MAC"}),
                     duration_s=0.0)
    assert prices["energy_operand_j"] == pytest.approx(0.1)
    assert prices["energy_compute_j"] == pytest.approx(0.1 + 0.08)


def test_active_power_stated_or_fitted_share(device):
    stated = E.price(E.ActionCounts(), device(**{"power.tdp": "10 W", "power.active": "3 W"}), duration_s=2.0)
    assert stated["energy_active_j"] == pytest.approx(6.0)
    assert stated["energy_static_j"] == pytest.approx(2 * 2.0 + 6.0)  # idle 2 W + active 3 W, 2 s
    fitted = E.price(E.ActionCounts(), device(**{"power.tdp": "10 W"}), duration_s=2.0)
    assert fitted["energy_active_j"] == pytest.approx(E.active_fraction() * (10 - 2) * 2.0)
    assert E.price(E.ActionCounts(), device(**{"power.tdp": "10 W"}), 2.0, fraction=0.5)["energy_active_j"] == pytest.approx(8.0)
    assert E.price(E.ActionCounts(), device(), duration_s=2.0)["energy_active_j"] == 0.0  # no TDP: no share


def test_fitted_share_is_stored_with_provenance():
    doc = loader.read_document(E.POWER_FIT_PATH)
    assert 0 < doc["active_fraction"] < 1 and "rows" in doc["provenance"]
