"""The closed-form engine: decode sums against step-by-step sums, totals, and the floor."""

import pytest

from hwsim.cost import closed_form as R
from hwsim.cost.energy import price
from hwsim.cost.op_cost import op_times, trace_demand
from hwsim.result import TOTAL_KEYS
from hwsim.sim import roofline_totals, simulate
from hwsim.totals import build_totals
from hwsim.spec.loader import load_model
from hwsim.workload.transformer import build_trace
from tests.cost.conftest import make_trace, op


def _direct_decode_seconds(model, hardware, prompt_len, gen_len, batch):
    return sum(op_times(build_trace(model, "decode", batch, prompt_len + j, token_step=j, num_steps=gen_len),
                          hardware, quant=model.quant)["bound_s"].sum() for j in range(gen_len))


@pytest.mark.parametrize("hardware", ["edge-npu", "h100-sxm"])
def test_closed_form_decode_equals_step_by_step(load_model, load_hardware, hardware):
    model, hw = load_model("llama-3.2-1b"), load_hardware(hardware)
    totals = roofline_totals(model, hw, phase="decode", prompt_len=37, gen_len=6, batch=2)
    assert totals["latency_s"] == pytest.approx(_direct_decode_seconds(model, hw, 37, 6, 2), rel=1e-12)
    assert totals["ttft_s"] == 0.0 and totals["tpot_s"] == pytest.approx(totals["latency_s"] / 6)


def test_closed_form_with_per_token_loop_depths(load_hardware):
    # Depths drawn from a distribution change with the step: steps are grouped by depth.
    model = load_model("ouro-1.4b", overrides={"loop.distribution": [0.5, 0.0, 0.25, 0.25]})
    hw = load_hardware("edge-npu")
    totals = roofline_totals(model, hw, phase="decode", prompt_len=5, gen_len=8, batch=1)
    assert totals["latency_s"] == pytest.approx(_direct_decode_seconds(model, hw, 5, 8, 1), rel=1e-12)


def test_closed_form_handles_an_op_that_changes_side(device):
    # Compute grows faster with context than memory: memory-bound early, compute-bound later.
    hw = device()
    def attention(keys):
        return op(op_kind="attn_score", m=16, n=keys, k=2**20, kv_read_bytes=1e6 + 1e3 * keys)
    pair = trace_demand(make_trace(attention(1), attention(2)))     # the step at contexts 0 and 1
    run = R._steps_run(pair, R._Devices([hw]), first_context=0, steps=200)
    # One row per step (context c reads c + 1 keys), timed op by op.
    direct = op_times(make_trace(*(attention(c + 1) for c in range(200))), hw)
    assert list(direct["bound"].iloc[[0, -1]]) == ["memory", "compute"]
    assert run.seconds[0] == pytest.approx(direct["bound_s"].sum(), rel=1e-12)
    assert run.compute_s[0] > 0 and run.memory_s[0] > 0


def test_totals_keys_energy_and_bytes(load_model, load_hardware):
    model, hw = load_model("llama-3.2-1b"), load_hardware("edge-npu")
    run = dict(phase="e2e", prompt_len=64, gen_len=4, batch=1)
    totals, actions = build_totals(R.closed_form_sums(model, hw, **run), model, hw, **run)
    assert tuple(totals) == TOTAL_KEYS
    assert totals["latency_s"] == pytest.approx(totals["ttft_s"] + 4 * totals["tpot_s"])
    assert totals["energy_j"] == pytest.approx(price(actions, hw, totals["latency_s"])["energy_j"])
    split = sum(totals[k] for k in ("dram_weight_first_fetch_bytes", "dram_weight_refetch_bytes",
                                    "dram_kv_bytes", "dram_activation_spill_bytes"))
    assert split == pytest.approx(totals["dram_read_bytes"] + totals["dram_write_bytes"])
    # Nothing stays on chip: every step reads every weight again; the first fetch is the model.
    assert totals["dram_weight_first_fetch_bytes"] <= 2.48e9 and totals["dram_weight_refetch_bytes"] > 4 * 2.4e9
    assert totals["fits"] and totals["shortfall_bytes"] == 0.0
    assert 0 < totals["compute_utilization"] < 1 and totals["bound"] in ("compute", "memory", "overhead")


def test_a_model_that_does_not_fit_is_a_result(load_model, load_hardware):
    from hwsim.spec.loader import load_hardware as load
    small = load("edge-npu", overrides={"memory.dram.capacity": "1 GB"})
    totals = roofline_totals(load_model("llama-3.2-1b"), small, prompt_len=16, gen_len=2)
    assert not totals["fits"]
    assert totals["shortfall_bytes"] == pytest.approx(totals["memory_footprint_bytes"] - 1e9)


def test_latency_grows_with_generated_tokens_and_falls_with_bandwidth(load_model, load_hardware):
    from hwsim.spec.loader import load_hardware as load
    model = load_model("llama-3.2-1b")
    short = roofline_totals(model, load_hardware("edge-npu"), prompt_len=32, gen_len=4)
    long = roofline_totals(model, load_hardware("edge-npu"), prompt_len=32, gen_len=8)
    fast = roofline_totals(model, load("edge-npu", overrides={"memory.dram.bandwidth": "136 GB/s"}),
                             prompt_len=32, gen_len=8)
    assert long["latency_s"] > short["latency_s"] and fast["latency_s"] < long["latency_s"]


def test_non_causal_model_runs_its_forward_only(load_model, load_hardware):
    totals = roofline_totals(load_model("trm"), load_hardware("edge-npu"), phase="e2e")
    assert totals["latency_s"] == totals["ttft_s"] > 0 and totals["tpot_s"] == 0.0


def test_all_sram_device_moves_no_dram_bytes(load_model, device):
    hw = device(**{"memory": {"sram": {"kind": "sram", "type": "SRAM", "capacity": "230 MB",
                                       "bandwidth": "80 TB/s", "source": "test"}}})
    totals = roofline_totals(load_model("llama-3.2-1b"), hw, prompt_len=16, gen_len=2)
    assert totals["dram_read_bytes"] == totals["dram_write_bytes"] == totals["energy_dram_j"] == 0.0
    assert totals["energy_sram_j"] > 0 and not totals["fits"]  # 2.5 GB of weights in 230 MB


def test_roofline_engine_gives_a_sim_result(load_model, load_hardware):
    result = simulate(load_model("llama-3.2-1b"), load_hardware("h100-sxm"), prompt_len=16, gen_len=2,
                      engine="roofline")
    assert tuple(result.totals) == TOTAL_KEYS
    assert result.reprice(load_hardware("h100-sxm"))["energy_j"] == pytest.approx(result.totals["energy_j"])
    assert '"latency_s"' in result.to_json()


@pytest.mark.parametrize("hardware", ["edge-npu", "h100-sxm"])
@pytest.mark.parametrize("phase", ["prefill", "decode"])
def test_simulator_never_beats_the_floor_when_streaming(load_model, load_hardware, hardware, phase):
    model, hw = load_model("llama-3.2-1b"), load_hardware(hardware)
    simulated = simulate(model, hw, phase=phase, prompt_len=64, gen_len=4, policy="stream").totals["latency_s"]
    floor = roofline_totals(model, hw, phase=phase, prompt_len=64, gen_len=4, bound="floor")["latency_s"]
    per_op = roofline_totals(model, hw, phase=phase, prompt_len=64, gen_len=4, bound="op")["latency_s"]
    assert simulated >= floor * (1 - 1e-9)
    assert floor <= per_op


def _floor_rows(keys):
    """w1 (3 MiB) used twice, w2 (2 MiB), an attention op reading 1 MiB + 1 KiB per key of KV and
    writing 1 KiB, and a norm whose 6 MiB of activations exceed the 4 MiB SRAM by 2 MiB."""
    KiB, MiB = 2**10, 2**20
    return (op(name="a", weight_id="w1", m=1, n=1024, k=1536, weight_bytes=3 * MiB),
            op(name="b", weight_id="w1", m=1, n=1024, k=1536, weight_bytes=3 * MiB),
            op(name="c", weight_id="w2", m=1, n=1024, k=1024, weight_bytes=2 * MiB),
            op(op_kind="attn_score", name="attn", m=1, n=keys, k=64,
               kv_read_bytes=MiB + KiB * keys, kv_write_bytes=KiB),
            op(op_kind="norm", name="norm", flops=0.0, act_in_bytes=3 * MiB, act_out_bytes=3 * MiB))


@pytest.mark.parametrize("cold", [False, True])
def test_floor_traffic_by_hand(device, cold):
    KiB, MiB, GiB = 2**10, 2**20, 2**30
    hw = device(**{"memory.dram.latency": "1 us"})
    pair = trace_demand(make_trace(*_floor_rows(0), *_floor_rows(1)))     # the step at contexts 0 and 1
    run = R._steps_run(pair, R._Devices([hw]), first_context=10, steps=4, cold=cold)
    # Per step: 5 MiB of weights used, 4 MiB may stay on chip from the step before (all 5 MiB
    # cross in the first step of a cold start); KV 1 MiB + (10 + j) KiB read, 1 KiB written;
    # 2 MiB of activations spill. Two KV transfers per step, 1 us each.
    weights = 4 * MiB + (4 * MiB if cold else 0)
    kv = 4 * MiB + (10 + 11 + 12 + 13) * KiB + 4 * KiB
    expected = (weights + kv + 4 * 2 * MiB) / GiB + 4 * 2 * 1e-6
    assert run.floor_memory_s[0] == pytest.approx(expected, rel=1e-12)
    assert run.floor_s[0] == run.floor_memory_s[0] > run.serial_s[0] > 0
    prefill = R._prefill_run(trace_demand(make_trace(*_floor_rows(1))), R._Devices([hw]))
    # The SRAM starts empty: every weight crosses once (5 MiB), plus KV and the spill.
    assert prefill.floor_memory_s[0] == pytest.approx((5 * MiB + MiB + 2 * KiB + 2 * MiB) / GiB + 2e-6, rel=1e-12)


def test_a_batch_of_devices_prices_each_as_alone(load_model, load_hardware):
    # The vectorised path is the single-point path with more rows: every device's sums are the
    # ones it gets on its own, whatever else is in the batch.
    from hwsim.spec.loader import load_hardware as load
    model = load_model("ouro-1.4b")
    devices = [load_hardware("edge-npu"), load_hardware("h100-sxm"),
               load("edge-npu", overrides={"memory.dram.bandwidth": "17 GB/s", "overhead.op_launch": "5 us"})]
    for bound in R.BOUNDS:
        run = dict(phase="e2e", prompt_len=40, gen_len=7, batch=2, bound=bound)
        together = R.closed_form_batch(model, devices, **run)
        for joint, hw in zip(together, devices):
            alone = vars(R.closed_form_sums(model, hw, **run))
            for key, value in vars(joint).items():
                assert value == (pytest.approx(alone[key], rel=1e-12) if key != "dtype" else alone[key]), key
        assert len({s.decode_s for s in together}) == 3


def test_sweep_chunk_batch_gives_the_point_by_point_totals(load_model, load_hardware):
    from hwsim.spec.loader import load_hardware as load
    from hwsim.sweep.batch import BatchEvaluator
    from hwsim.sweep.spec import Point, RunSpec

    model = load_model("llama-3.2-1b")
    devices = [load_hardware("h100-sxm"), load("edge-npu", overrides={"memory.dram.bandwidth": "20 GB/s"})]
    runs = [RunSpec(phase="e2e", batch=1, prompt_len=32, gen_len=4), RunSpec(phase="decode", batch=2, prompt_len=8, gen_len=3)]
    points = [Point(i, str(i), {}, model, hw, run) for i, (hw, run) in enumerate((h, r) for h in devices for r in runs)]

    def refuse(point, engine):
        raise AssertionError(f"point {point.index} ({engine}) left the batch path")

    evaluate = BatchEvaluator(points, refuse)
    for engine, bound in (("roofline", "op"), ("floor", "floor")):
        for p in points:
            alone = roofline_totals(p.model, p.hardware, phase=p.run.phase, prompt_len=p.run.prompt_len,
                                    gen_len=p.run.gen_len, batch=p.run.batch, bound=bound)
            batched = evaluate(p, engine)
            assert batched.pop("bound") == alone.pop("bound")
            assert batched == pytest.approx(alone, rel=1e-12)


def test_cost_does_not_grow_with_the_loop_count(load_hardware):
    # Alike loop iterations are one row block with a repeat count: the trace has as many rows
    # at 100,000 loops as at 8, and the closed form scales the loop's share exactly.
    from hwsim.spec.variants import configure_model
    from hwsim.workload.transformer import build_trace

    hw = load_hardware("edge-npu")
    base = load_model("ouro-1.4b")
    small, huge = (configure_model(base, loops=n) for n in (8, 100_000))
    assert len(build_trace(small, "decode", 1, 16, compress_loops=True)) == \
        len(build_trace(huge, "decode", 1, 16, compress_loops=True))
    run = dict(phase="decode", prompt_len=16, gen_len=2)
    t8, t9, big = (roofline_totals(configure_model(base, loops=n), hw, **run)["latency_s"] for n in (8, 9, 100_000))
    assert big == pytest.approx(t8 + (100_000 - 8) * (t9 - t8), rel=1e-6)


def test_compressed_loops_cost_what_every_iteration_costs(load_hardware):
    from hwsim.spec.variants import configure_model
    from hwsim.workload.transformer import build_trace

    model = configure_model(load_model("ouro-1.4b", overrides={"loop.kv_policy": "last_k", "loop.kv_last_k": 2}),
                            loops=7)
    hw = load_hardware("edge-npu")
    full = build_trace(model, "decode", 2, 30)
    compressed = build_trace(model, "decode", 2, 30, compress_loops=True)
    assert len(compressed) < len(full) and compressed["repeat"].max() > 1
    per_op = op_times(full, hw, quant=model.quant)["bound_s"].sum()
    repeated = op_times(compressed, hw, quant=model.quant)["bound_s"] @ compressed["repeat"]
    assert repeated == pytest.approx(per_op, rel=1e-12)
    assert (compressed[["flops", "weight_bytes", "kv_write_bytes"]].mul(compressed["repeat"], axis=0).sum()
            == full[["flops", "weight_bytes", "kv_write_bytes"]].sum()).all()
