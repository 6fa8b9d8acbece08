"""Datapath physics (hwsim.cost.datapath): hand-computed cases on the round device, and the
issue's cases, each with the physically right direction."""

import numpy as np
import pytest

from hwsim.cost import datapath
from hwsim.cost import op_cost as R
from hwsim.sim import roofline_totals
from hwsim.sim import simulate
from hwsim.sim import memory
from hwsim.spec import loader
from hwsim.spec.hardware import CLASS_DATAPATH, EfficiencyCurve
from hwsim.spec.quant import quant_preset
from hwsim.spec.variants import configure_model
from hwsim.workload.weights import lm_head_tensor, weight_table
from tests.cost.conftest import make_trace, op

TFLOP = 1e12
GEMV_FLOPS = 2.0 * 1024 * 1024    # M = 1, n = k = 1024


# -- hand-computed cases on the round device (matrix 1 TFLOP/s bf16, tile 16; vector 100 GFLOP/s)

def test_gemv_runs_on_the_faster_engine(device):
    # Matrix: one row padded to 16 at 1 TFLOP/s = 33.6 us; vector: 2^21 / 1e11 = 21.0 us.
    assert R.compute_seconds(GEMV_FLOPS, 1, "matmul", "bf16", device()) == pytest.approx(GEMV_FLOPS * 16 / TFLOP)
    gemv = device(**{"datapath.gemv_on_vector": True})
    assert R.compute_seconds(GEMV_FLOPS, 1, "matmul", "bf16", gemv) == pytest.approx(GEMV_FLOPS / 1e11)
    # 16 rows fill the tile: the matrix engine (33.6 us) beats the vector engine (336 us).
    assert R.compute_seconds(16 * GEMV_FLOPS, 16, "matmul", "bf16", gemv) == pytest.approx(16 * GEMV_FLOPS / TFLOP)


@pytest.mark.parametrize("site, expected_s", [("vector", 2e6 / 1e11), ("load", 2e6 / 1e11), ("fused", 0.0)])
def test_dequant_cost_follows_where_it_happens(device, site, expected_s):
    # 1e6 weights x 2 FLOP on the 100 GFLOP/s vector engine, unless fused into the multiply.
    hw = device(**{"datapath.dequant": site})
    assert R.dequant_seconds(1e6, hw) == pytest.approx(expected_s)
    assert float(R.dequant_flops(1e6, hw)) == pytest.approx(expected_s * 1e11)


def test_load_site_unpacks_only_what_comes_from_dram(device):
    hw = device(**{"datapath.dequant": "load"})
    dequant_s = np.array([4.0, 4.0, 4.0])
    fetched = datapath.dequant_after_residency(dequant_s, np.array([8.0, 8.0, 0.0]), np.array([8.0, 2.0, 0.0]), hw)
    assert fetched == pytest.approx([4.0, 1.0, 0.0])
    # An all-SRAM design unpacked its weights once, at load: no pass per use.
    sram_only = device(**{"datapath.dequant": "load", "memory": {"sram": {
        "kind": "sram", "type": "SRAM", "capacity": "1 GiB", "bandwidth": "1 TB/s", "source": "test"}}})
    assert R.dequant_seconds(1e6, sram_only) == 0.0
    vector = device(**{"datapath.dequant": "vector"})
    assert datapath.dequant_after_residency(dequant_s, np.ones(3), np.zeros(3), vector) is dequant_s


def test_curves_are_shared_by_dtypes_of_equal_rate(device):
    curve = EfficiencyCurve(size="rows", points=[(1, 0.25), (1024, 0.5)])
    hw = device(**{"compute.matrix.peak": {"bf16": "1 TFLOP/s", "fp16": "1 TFLOP/s", "int8": "2 TOPS"},
                   "compute.matrix.efficiency_curve": {"fp16": curve.model_dump()}})
    matrix = hw.matrix
    assert datapath.curve_for(matrix, "bf16") == curve          # same 1 TFLOP/s peak
    assert datapath.curve_for(matrix, "int8") is None           # 2 TOPS: not the fp16 kernels
    flops = 2.0 * 1024 * 64 * 64
    assert R.compute_seconds(flops, 1024, "matmul", "bf16", hw) == R.compute_seconds(flops, 1024, "matmul", "fp16", hw)
    assert R.compute_seconds(flops, 1024, "matmul", "bf16", hw) == pytest.approx(flops / (TFLOP * 0.5))


def test_weights_stored_narrower_than_the_compute_type_are_unpacked():
    assert datapath.stored_narrower([4.125, 16.0, 8.5, 0.0], "bf16").tolist() == [True, False, True, False]
    assert datapath.stored_narrower([8.0, 16.0, 4.125], "int8").tolist() == [False, False, True]
    assert datapath.stored_narrower([4.5], "fp4").tolist() == [False]


def test_grouped_moe_launches_each_projection_once_per_layer(device):
    names = ["router", "expert0.gate", "expert0.up", "expert0.act", "expert0.down", "expert3.gate", "expert3.up",
             "expert3.act", "expert3.down", "moe_combine", "expert1.gate", "expert2.gate"]
    followers = datapath.grouped_expert_followers(names)
    assert followers.tolist() == [False] * 5 + [True] * 4 + [False, False, True]
    hw = device(**{"overhead.op_launch": "1 us"})
    assert datapath.launch_seconds(followers, hw).sum() == pytest.approx(12e-6)       # edge_npu: one per expert op
    grouped = device(**{"overhead.op_launch": "1 us", "datapath.grouped_moe": True})
    assert datapath.launch_seconds(followers, grouped).sum() == pytest.approx(7e-6)


def test_flash_attention_tile_and_score_bytes():
    # Br = Bc = 128, d = 64, 16-bit: (4 x 128 x 64 + 128 x 128) x 2 B.
    assert datapath.attention_tile_bytes(64, 16, 128) == 98304
    scores = 4 * 100 * 2.0                           # 4 query rows x 100 keys, 16-bit
    trace = make_trace(
        op(name="attn_score", op_kind="attn_score", m=4, n=100, k=64, act_in_bytes=512.0, act_out_bytes=scores),
        op(name="softmax", op_kind="softmax", flops=2000.0, act_in_bytes=scores, act_out_bytes=scores),
        op(name="router_topk", op_kind="softmax", flops=10.0, act_in_bytes=8.0, act_out_bytes=8.0),
        op(name="attn_value", op_kind="attn_value", m=4, n=64, k=100, act_in_bytes=scores + 256.0, act_out_bytes=512.0))
    score_in, score_out = datapath.score_bytes(trace)
    assert score_in.tolist() == [0.0, scores, 0.0, scores]
    assert score_out.tolist() == [scores, scores, 0.0, 0.0]


def test_datapath_defaults_by_class_and_overrides():
    h100 = loader.load_hardware("h100-sxm", calibrated=False)
    assert h100.resolved_datapath.dequant == "fused" and h100.resolved_datapath.grouped_moe
    npu = loader.load_hardware("edge-npu", {"datapath.dequant": "vector"}, calibrated=False)
    assert npu.resolved_datapath.dequant == "vector"
    assert npu.resolved_datapath.grouped_moe is CLASS_DATAPATH["edge_npu"]["grouped_moe"]


# -- formats: compute type and per-tensor precision ---------------------------------------------

def test_formats_state_their_compute_type():
    compute = {name: quant_preset(name).compute_dtype for name in ("int4-g128", "q4_0", "q4_k_m", "int8", "w4a8",
                                                                   "w4a4", "fp8", "fp4")}
    # llama.cpp quantises a matmul's activations to 8 bits on the fly (Q8_1 on CUDA, Q8_0 / Q8_K on
    # CPUs) and multiplies with int8 dot products; an engine without int8 (Apple GPUs) runs fp16.
    assert compute == {"int4-g128": "bf16", "q4_0": "int8", "q4_k_m": "int8", "int8": "int8", "w4a8": "int8",
                       "w4a4": "int4", "fp8": "fp8", "fp4": "fp4"}
    assert quant_preset("int4-g128").weight_only and not quant_preset("w4a8").weight_only
    assert quant_preset("w4a16-int").compute_dtype == "int16" and not quant_preset("w4a16-int").weight_only
    apple, rtx = loader.load_hardware("apple-m2-10c"), loader.load_hardware("rtx-3090")
    assert apple.matrix.rate_for("int8")[0] == "fp16" and rtx.matrix.rate_for("int8") == ("int8", rtx.matrix.peak["int8"])


def test_int16_activations_run_at_the_int16_rate_where_the_engine_has_one():
    """QNN's w4a16 (int16 activations) on a Hexagon preset uses the int16 peak, twice its fp16
    one, so a compute-bound prompt runs twice as fast as the float-activation build (w4); an
    engine without int16 runs it at fp16."""
    hexagon, h100 = loader.load_hardware("snapdragon-8-elite-npu"), loader.load_hardware("h100-sxm")
    assert hexagon.matrix.rate_for("int16") == ("int16", 2 * hexagon.matrix.rate_for("fp16")[1])
    assert h100.matrix.rate_for("int16") == ("fp16", h100.matrix.peak["fp16"])
    flops, rows = 2 * 4096 * 4096 * 1024, 1024            # one prompt-sized GEMM, well past the tile
    integer = datapath.compute_seconds(flops, rows, True, "int16", hexagon)
    floating = datapath.compute_seconds(flops, rows, True, "fp16", hexagon)
    assert float(floating / integer) == pytest.approx(2.0)


def test_lm_head_and_embeddings_keep_16_bits_unless_the_format_says_otherwise():
    base = loader.load_model("llama-3.2-1b")              # tied: the embedding is the head
    for quant, bits in (("int4-g128", 16.0), ("int8", 16.0), ("q4_0", 6.5625), ("q4_k_m", 6.5625)):
        model = configure_model(base, quant=quant)
        assert lm_head_tensor(model).bits(model) == pytest.approx(bits), quant
    packed = configure_model(base, quant="int4-g128", head_format="int4-g128")
    assert lm_head_tensor(packed).bits(packed) == pytest.approx(4.125)
    untied = configure_model(loader.load_model("llama-3-8b"), quant="int4-g128")
    assert weight_table(untied).get("embed").bits(untied) == 16.0
    assert weight_table(untied).get("lm_head").bits(untied) == 16.0


def test_head_format_on_the_command_line():
    from click.testing import CliRunner
    from hwsim.cli import main

    def tpot(*extra):
        result = CliRunner().invoke(main, ["simulate", "--model", "llama-3.2-1b", "--hardware", "jetson-orin-nano",
                                           "--quant", "int4-g128", "--phase", "decode", "--gen", "2", "--prompt", "16",
                                           "--engine", "roofline", "--json", *extra])
        assert result.exit_code == 0, result.output
        import json
        return json.loads(result.output)["totals"]["tpot_s"]

    # The 16-bit tied head is 525 MB of the 1.2 GB streamed per token: packing it speeds decode up.
    assert tpot("--head-format", "int4-g128") < 0.8 * tpot()


# -- the cases --------------------------------------------------------------------------

def _decode(model, hardware, engine="roofline", **run):
    return simulate(model, hardware, phase="decode", prompt_len=run.pop("prompt_len", 128),
                    gen_len=run.pop("gen_len", 4), engine=engine, **run).totals


def test_edge_npu_ouro_x4_int4_with_weights_resident_is_not_vector_bound():
    """Was 52.6 ms/token, bound by unpacking every weight on the vector unit on every loop
    iteration at M = 1 padded to 16 rows; a 10x faster matrix engine barely helped."""
    model = configure_model(loader.load_model("ouro-1.4b"), loops=4, quant="int4-g128")
    hw = loader.load_hardware("edge-npu", {"memory.sram.capacity": "2 GiB"})
    run = dict(phase="e2e", prompt_len=64, gen_len=4)    # the prefill leaves the weights on chip
    result = simulate(model, hw, **run)
    ops = result.ops[result.ops["phase"] == "decode"]
    assert float(ops["dequant_s"].abs().sum()) == 0.0                 # NPU: unpacked in the MAC datapath
    tpot = result.totals["tpot_s"]
    # Weights resident: the on-chip reads (~2.9 GB at 1 TB/s) and the matrix work (~11 GFLOP at
    # 3.2 TFLOP/s achievable fp16) are about equal, a few ms each.
    onchip_s, compute_s = (float((ops[c] * ops["multiplicity"]).sum()) / 4 for c in ("onchip_s", "compute_s"))
    assert 0.5 < onchip_s / compute_s < 2.0
    assert max(onchip_s, compute_s) <= tpot < 2.5 * max(onchip_s, compute_s) < 15e-3
    # So a 10x faster matrix engine is worth less than 2x: the SRAM reads remain.
    faster = loader.load_hardware("edge-npu", {"memory.sram.capacity": "2 GiB",
                                               "compute.matrix.peak": {"fp16": "40 TFLOP/s", "int8": "80 TOPS"}})
    assert simulate(model, faster, **run).totals["tpot_s"] > 0.5 * tpot


def test_int8_compute_beats_weight_only_int4_only_where_compute_binds():
    base = configure_model(loader.load_model("ouro-1.4b"), loops=4)
    hw = loader.load_hardware("edge-npu")
    int8, int4 = configure_model(base, quant="int8"), configure_model(base, quant="int4-g128")
    # Prefill of 512 tokens is compute-bound: int8 runs at 8 TOPS, w4a16 at 4 TFLOP/s.
    prefill = {q: roofline_totals(m, hw, phase="prefill", prompt_len=512)["ttft_s"] for q, m in
               (("int8", int8), ("int4", int4))}
    assert prefill["int8"] < 0.7 * prefill["int4"]
    # Decode streams weights from DRAM (8 MiB SRAM): fewer bytes win.
    decode = {q: _decode(m, hw)["tpot_s"] for q, m in (("int8", int8), ("int4", int4))}
    assert decode["int4"] < 0.7 * decode["int8"]


def test_a100_q4_0_decode_is_not_slower_than_bf16_and_more_bandwidth_never_hurts():
    """Was 520 vs 551 tok/s: an fp16 cuBLAS curve fitted on M >= 64 applied to M = 1 products
    padded to 32 rows; the PCIe card (less bandwidth) ran q4_0 twice as fast as the SXM."""
    base = loader.load_model("llama-3.2-1b")
    sxm, pcie = loader.load_hardware("a100-sxm-80gb"), loader.load_hardware("a100-pcie-80gb")
    for engine in ("roofline", "des"):
        rate = {(q, hw.name): _decode(configure_model(base, quant=q), hw, engine)["tokens_per_s"]
                for q in ("bf16", "q4_0") for hw in (sxm, pcie)}
        assert rate["q4_0", sxm.name] >= rate["bf16", sxm.name], engine
        assert rate["q4_0", sxm.name] >= rate["q4_0", pcie.name], engine


def test_qwen3_moe_batch_decode_is_near_its_weight_streaming_time():
    """Was 99 ms/step from 16,128 per-expert launches at 4 us while its weights move in ~20 ms."""
    model = loader.load_model("qwen3-30b-a3b")
    hw = loader.load_hardware("h100-sxm")
    totals = _decode(model, hw, batch=32)
    streaming_s = totals["dram_bytes_per_token"] * 32 / (hw.main_memory.bandwidth_bytes_per_s
                                                         * R.dram_efficiency(hw, model.quant))
    assert totals["tpot_s"] < 2.0 * streaming_s
    ungrouped = loader.load_hardware("h100-sxm", {"datapath.grouped_moe": False})
    assert _decode(model, ungrouped, batch=32)["tpot_s"] > 2.0 * streaming_s


def test_trm_fused_attention_spills_no_scores_when_the_tile_fits():
    """Was 31 GB of score-matrix spill per task on edge-npu: a 916 x 916 matrix per head."""
    model = loader.load_model("trm")

    def attention_spill(fused: bool) -> float:
        hw = loader.load_hardware("edge-npu", {"datapath.fused_attention": fused})
        ops = simulate(model, hw, phase="prefill").ops
        attention = ops["name"].isin(["attn_score", "softmax", "attn_value"])
        spill = (ops["spill_read_bytes"] + ops["spill_write_bytes"]) * ops["multiplicity"]
        return float(spill[attention].sum())

    assert attention_spill(True) == 0.0
    assert attention_spill(False) > 10e9
    # A tile that does not fit the activation share of a 64 KiB SRAM spills like unfused.
    hw = loader.load_hardware("edge-npu", {"memory.sram.capacity": "64 KiB"})
    trace = make_trace(op(name="attn_score", op_kind="attn_score", m=1, n=8, k=64))
    assert not memory.fused_attention_fits(trace, hw, hw.sram.capacity_bytes)


@pytest.mark.parametrize("phase", ["prefill", "decode"])
def test_fp16_equals_bf16_where_the_rates_are_equal(phase):
    """Was 104 ms (bf16) vs 31.7 ms (fp16) for A100 Llama-3-8B prefill: dtype names picked curves."""
    base = loader.load_model("llama-3-8b")
    for name in ("h100-sxm", "a100-sxm-80gb"):
        hw = loader.load_hardware(name)
        run = dict(phase=phase, prompt_len=512, gen_len=4)
        bf16, fp16 = (roofline_totals(configure_model(base, quant=q), hw, **run) for q in ("bf16", "fp16"))
        if name == "h100-sxm":     # every engine runs both at one rate
            assert bf16["latency_s"] == pytest.approx(fp16["latency_s"], rel=1e-12)
        else:                      # tensor cores equal, A100 CUDA cores run bf16 at half the fp16 rate
            matrix = hw.matrix
            assert datapath.curve_for(matrix, "bf16") == datapath.curve_for(matrix, "fp16")
            assert bf16["latency_s"] == pytest.approx(fp16["latency_s"], rel=0.05)


def test_head_precision_is_a_sweep_axis():
    from hwsim.sweep.spec import SweepSpec, resolve_points

    spec = loader.validate(SweepSpec, {
        "name": "head", "model": "llama-3.2-1b", "hardware": "jetson-orin-nano", "objectives": {"tpot_s": "min"},
        "axes": {"model.quant": ["int4-g128"], "model.quant.overrides.lm_head": ["bf16", "q6_k", "int4-g128"]}},
        "head.yaml")
    bits = [lm_head_tensor(p.model).bits(p.model) for p in resolve_points(spec).points]
    assert bits == pytest.approx([16.0, 6.5625, 4.125])
