"""SweepSpec: axis expansion, point resolution, and errors before any work."""

import pytest

from hwsim.errors import ConfigError
from hwsim.spec import loader
from hwsim.spec.quant import FORMATS, quant_preset
from hwsim.sweep.spec import SweepSpec, load_sweep, resolve_points
from hwsim.units import MiB


def make_spec(axes, **fields):
    data = {"name": "t", "model": "ouro-1.4b", "hardware": "edge-npu", "axes": axes,
            "objectives": {"tpot_s": "min"}, **fields}
    return loader.validate(SweepSpec, data, "t.yaml")


def test_points_are_the_product_with_readable_keys():
    plan = resolve_points(make_spec({"model.loop.count": [1, 4], "model.quant": ["bf16", "int4-g128"],
                                     "batch": [1, 2]}))
    assert len(plan.points) == 8
    first = plan.points[0]
    assert first.key == "model.loop.count=1, model.quant=bf16, batch=1"
    last = plan.points[-1]
    assert last.labels == {"model.loop.count": 4, "model.quant": "int4-g128", "batch": 2}
    assert last.model.loop.count == 4
    assert last.model.quant == quant_preset("int4-g128")
    assert last.run.batch == 2


def test_log_range_of_sizes_comes_back_in_the_start_unit():
    spec = make_spec({"hardware.memory.sram.capacity": {"start": "1 MiB", "stop": "64 MiB", "num": 7,
                                                        "scale": "log"}})
    plan = resolve_points(spec)
    assert [p.labels["hardware.memory.sram.capacity"] for p in plan.points] == [
        "1 MiB", "2 MiB", "4 MiB", "8 MiB", "16 MiB", "32 MiB", "64 MiB"]
    assert [p.hardware.sram.capacity_bytes for p in plan.points] == [2 ** i * MiB for i in range(7)]
    column = plan.si_columns["hardware.memory.sram.capacity"]
    assert column == "hardware.memory.sram.capacity_bytes"
    assert plan.points[3].si[column] == 8 * MiB


def test_integer_ranges_by_step_linear_and_multiplicative():
    plan = resolve_points(make_spec({"model.loop.count": {"start": 1, "stop": 8, "step": 2, "scale": "log"},
                                     "batch": {"start": 1, "stop": 5, "step": 2}}))
    assert sorted({p.labels["model.loop.count"] for p in plan.points}) == [1, 2, 4, 8]
    assert sorted({p.labels["batch"] for p in plan.points}) == [1, 3, 5]


def test_named_quant_composes_with_a_kv_format_axis():
    plan = resolve_points(make_spec({"model.quant": ["int4-g128"], "model.quant.kv": ["fp8", "int4"]}))
    quants = [p.model.quant for p in plan.points]
    assert all(q.weight == FORMATS["int4-g128"] for q in quants)
    assert [q.kv.name for q in quants] == ["fp8", "int4"]


def test_fixed_overrides_turn_the_looped_block_into_moe():
    moe = {"num_experts": 8, "top_k": 2, "expert_intermediate_size": 1408}
    spec = make_spec({"model.moe.num_experts": [4, 16], "model.moe.top_k": [1, 2]},
                     **{"set": {"model.mlp": None, "model.moe": moe}})
    plan = resolve_points(spec)
    assert [(p.model.moe.num_experts, p.model.moe.top_k) for p in plan.points] == [(4, 1), (4, 2), (16, 1), (16, 2)]
    assert all(p.model.mlp is None and p.model.is_looped for p in plan.points)


def test_variants_are_built_once_and_shared():
    plan = resolve_points(make_spec({"model.loop.count": [1, 2],
                                     "hardware.memory.sram.capacity": ["1 MiB", "2 MiB", "4 MiB"]}))
    models = {id(p.model) for p in plan.points}
    hardware = {id(p.hardware) for p in plan.points}
    assert len(models) == 2 and len(hardware) == 3


def test_fingerprint_follows_the_design_space():
    a = resolve_points(make_spec({"batch": [1, 2]})).fingerprint
    assert a == resolve_points(make_spec({"batch": [1, 2]})).fingerprint
    assert a != resolve_points(make_spec({"batch": [1, 4]})).fingerprint


@pytest.mark.parametrize("axes, fragment", [
    ({"model.loop.count": [1, 2]}, "point [model.loop.count=2]: loops: Llama-3.2-1B has no loop"),
    ({"model.quant": ["bf16", "int3"]}, "sweep t: axes.model.quant: unknown quantisation 'int3'"),
    ({"model.quant.kv": ["int9"]}, "axes.model.quant.kv: unknown format 'int9'"),
    ({"model.loop.cout": [2]}, "point [model.loop.cout=2]: workloads/models/llama-3.2-1b.yaml: loop.cout: unknown field"),
    ({"hardware.memory.sram.capacity": ["1 MiB", "-2 MiB"]}, "memory.sram.capacity: '-2 MiB' must be a finite, non-negative"),
    ({"hardware": ["edge-npu", "no-such-chip"]}, "point [hardware=no-such-chip]: unknown hardware 'no-such-chip'"),
    ({"batch": [0]}, "point [batch=0]: run settings: batch"),
    ({"policy": ["fifo"]}, "point [policy=fifo]: run settings: policy"),
    ({"batch": [1, 1]}, "axes.batch: duplicate values 1"),
    ({"hardware.memory.sram.capacity": {"start": "1 MiB", "stop": "1 GB/s", "num": 3}},
     "stop '1 GB/s': expected the same kind of quantity"),
])
def test_bad_points_fail_before_any_work_with_one_line(axes, fragment):
    with pytest.raises(ConfigError) as info:
        resolve_points(make_spec(axes, model="llama-3.2-1b"))
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


@pytest.mark.parametrize("fields, fragment", [
    ({"axes": {"foo.bar": [1]}}, "axes: unknown axis 'foo.bar'"),
    ({"axes": {"batch": []}}, "batch: an axis needs at least one value"),
    ({"constraints": ["tpot < 1"]}, "unknown total 'tpot'"),
    ({"constraints": ["fits"]}, "expected a comparison"),
    ({"objectives": {"bound": "min"}}, "bound: not a numeric result total"),
    ({"objectives": {"tpot_s": "lowest"}}, "objectives.tpot_s"),
    ({"axes": {"batch": {"start": 1, "stop": 4}}}, "give exactly one of num or step"),
    ({"model": None}, "give a base `model` or a `model` axis"),
    ({"unknown_key": 1}, "unknown_key: unknown field"),
])
def test_bad_spec_fields_are_named(fields, fragment):
    data = {"name": "t", "model": "ouro-1.4b", "hardware": "edge-npu", "axes": {"batch": [1]},
            "objectives": {"tpot_s": "min"}, **fields}
    with pytest.raises(ConfigError, match="^t.yaml: ") as info:
        loader.validate(SweepSpec, data, "t.yaml")
    assert fragment in str(info.value)


def test_shipped_sweeps_resolve():
    names = [path.stem for path in loader.list_presets(loader.SWEEPS_DIR)]
    assert len(names) >= 4
    for name in names:
        spec = load_sweep(name)
        assert spec.origin == f"workloads/sweeps/{name}.yaml"
        assert resolve_points(spec).points


def test_quality_constraints_and_objectives():
    """Quality columns are published scores: a constraint on them is decided without the engine."""
    from hwsim.sweep.constraints import parse_constraint

    constraint = parse_constraint("quality.gsm8k >= 72.86")
    assert constraint.prunable and constraint.lhs.name == "quality.gsm8k"
    assert not constraint.holds({"quality.gsm8k": float("nan")})
    assert constraint.holds({"quality.gsm8k": 78.92})
    with pytest.raises(ValueError, match="quality.<benchmark>"):
        parse_constraint("quality.GSM8K >= 1")
    spec = SweepSpec(name="q", model="ouro-1.4b", hardware="edge-npu", axes={"model.loop.count": [2, 4]},
                     objectives={"tokens_per_s": "max", "quality.avg": "max"}, quality_group="ouro_base_lmeval")
    points = resolve_points(spec).points
    assert [p.quality["quality.mmlu"] for p in points] == [60.43, 67.35]
    assert points[1].quality["quality_source"] == "published: ouro_base_lmeval"
