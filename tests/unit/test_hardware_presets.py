"""Hardware presets: each is complete, sourced, internally consistent, and matches the datasheet
figures it cites; `hwsim list hardware` shows them all."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from hwsim.cli import main
from hwsim.spec import loader

PRESETS = [path.stem for path in loader.list_presets(loader.HARDWARE_DIR)]
NODES = {"3nm", "4nm", "5nm", "7nm", "8nm", "14nm", "16nm"}  # keys of the energy tables
# Narrow-to-wide tiers: a narrower dtype never runs slower than a wider one on the same engine.
TIERS = [("fp4", "int4"), ("fp8", "int8"), ("fp16", "bf16", "int16"), ("fp32",)]


@pytest.fixture(params=PRESETS)
def hw(request, load_hardware):
    return load_hardware(request.param)


def test_enough_presets():
    assert len(PRESETS) >= 22


def test_name_is_file_stem_in_kebab_case(hw):
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9.]+)*", hw.name)
    assert hw.name in PRESETS


def test_process_node_has_an_energy_table_key(hw):
    assert hw.process_node in NODES


def test_matrix_engine_and_main_memory(hw):
    assert hw.matrix.peak and all(rate > 0 for rate in hw.matrix.peak.values())
    main = hw.main_memory
    assert main.bandwidth_bytes_per_s > 0 and main.capacity_bytes > 0


def test_every_section_has_a_source(hw):
    sections = [hw.source, hw.power.source, hw.overhead.source]
    sections += [engine.source for engine in hw.compute.values()]
    sections += [level.source for level in hw.memory.values()]
    assert all(text.strip() for text in sections)
    assert hw.overhead.source != "default"


def test_fp32_is_listed_so_no_dtype_falls_back_to_the_fastest_rate(hw):
    # rate_for walks to wider dtypes and ends at fp32; without it, it would pick the top rate.
    assert "fp32" in hw.matrix.peak
    for dtype in ("fp32", "bf16", "fp16", "int16", "fp8", "int8", "int4", "fp4"):
        used, _ = hw.matrix.rate_for(dtype)
        assert used in hw.matrix.peak


@pytest.mark.parametrize("engine", ["matrix", "vector"])
def test_narrower_dtypes_are_not_slower(hw, engine):
    peak = getattr(hw, engine).peak
    best_wider = 0.0
    for tier in reversed(TIERS):
        rates = [peak[d] for d in tier if d in peak]
        if rates:
            assert min(rates) >= best_wider, (tier, peak)
            best_wider = max(best_wider, max(rates))


def test_vector_engine_is_not_faster_than_matrix(hw):
    assert hw.vector.rate_for("fp16")[1] <= hw.matrix.rate_for("fp16")[1]


def test_on_chip_level_is_smaller_and_faster_than_dram(hw):
    if hw.dram and hw.sram:
        assert hw.sram.capacity_bytes < hw.dram.capacity_bytes
        assert hw.sram.bandwidth_bytes_per_s > hw.dram.bandwidth_bytes_per_s


def test_power_is_sane(hw):
    assert hw.power.idle_w >= 0
    if hw.power.tdp_w is not None:
        assert hw.power.idle_w < hw.power.tdp_w


@pytest.mark.parametrize("name", PRESETS)
def test_launch_overhead_is_microseconds(name):
    # As written, a preset's launch overhead is a few microseconds (an estimate); a value fitted
    # by `hwsim calibrate measured` may be larger (a runtime's per-op cost), but stays well
    # under a millisecond.
    assert 0 < loader.load_hardware(name, calibrated=False).overhead.op_launch_s <= 20e-6
    assert 0 < loader.load_hardware(name).overhead.op_launch_s <= 100e-6


def _apple_variants():
    families: dict[str, list[tuple[int, str]]] = {}
    for name in PRESETS:
        match = re.fullmatch(r"(apple-m\d(?:-\w+?)?)-(\d+)c", name)
        if match:
            families.setdefault(match[1], []).append((int(match[2]), name))
    return [sorted(v) for v in families.values() if len(v) == 2]


def test_apple_family_has_every_variant():
    assert len([p for p in PRESETS if p.startswith("apple-")]) >= 28


@pytest.mark.parametrize("pair", _apple_variants(), ids=lambda pair: pair[1][1])
def test_apple_binned_variant_scales_with_gpu_cores(load_hardware, pair):
    (small_cores, small), (big_cores, big) = pair
    ratio = load_hardware(small).matrix.peak["fp32"] / load_hardware(big).matrix.peak["fp32"]
    assert ratio == pytest.approx(small_cores / big_cores, rel=2e-3)


def test_apple_gpu_runs_fp16_at_the_fp32_rate(load_hardware):
    for name in (p for p in PRESETS if p.startswith("apple-")):
        peak = load_hardware(name).matrix.peak
        assert peak["fp16"] == peak["fp32"]


@pytest.mark.parametrize("name,figure,expected", [
    # Datasheet figures (vendor datasheets), hand-copied to catch edits.
    ("h100-sxm", "dram_bw", 3350e9), ("h100-sxm", "bf16", 989.4e12), ("h100-pcie", "dram_bw", 2000e9),
    ("a100-sxm-80gb", "dram_bw", 2039e9), ("a100-sxm-80gb", "int4", 1248e12), ("l4", "fp8", 242.5e12),
    ("rtx-4090", "dram_bw", 1008e9), ("rtx-4090", "sram_cap", 72e6), ("jetson-agx-orin-64gb", "dram_bw", 204.8e9),
    ("jetson-orin-nano", "dram_bw", 68e9), ("jetson-orin-nano-super", "dram_bw", 102e9),
    ("apple-m1-max-32c", "fp32", 10.4e12), ("apple-m2-ultra-76c", "dram_cap", 192e9),
    ("apple-m3-max-30c", "dram_bw", 307.2e9), ("apple-m4-max-40c", "dram_bw", 546e9),
    ("apple-m4-pro-16c", "dram_bw", 273e9), ("snapdragon-8-gen3-npu", "dram_bw", 76.8e9),
    ("rk3588", "int8", 6e12), ("hailo-10h", "int4", 40e12), ("intel-lunar-lake-npu", "int8", 48e12),
    ("amd-strix-halo-npu", "dram_bw", 256e9),
    ("rtx-a4000", "dram_bw", 448e9), ("rtx-6000-ada", "fp8", 728.5e12), ("rtx-3080-ti", "dram_bw", 912e9),
    # Bandwidths the measured rows state next to the card's name.
    ("rtx-3090-ti", "dram_bw", 1008e9), ("rtx-6000-ada", "dram_bw", 960e9), ("rtx-4070", "dram_bw", 504e9),
    # Derived figures, computed by hand.
    ("rtx-4070", "fp16", 46 * 512 * 2.475e9),  # SMs x FP16 FLOP/clock/SM (FP32 accumulate, GeForce) x boost
    ("rtx-4070-ti-super", "fp16", 66 * 512 * 2.61e9),
    ("rtx-3090-ti", "fp16", 84 * 512 * 1.86e9),
    ("rx-6700-xt", "fp32", 40 * 64 * 2 * 2.581e9),  # CUs x lanes x FMA x boost (no matrix cores on RDNA 2)
    ("rx-6700-xt", "dram_bw", 16e9 / 8 * 192),  # 16 Gbps x 192 bits
    ("rx-7900-xt", "dram_bw", 20e9 / 8 * 320), ("radeon-pro-w7700", "fp32", 28.3e12),
    ("raspberry-pi-5", "fp32", 4 * 2.4e9 * 16),  # 4 cores x 2.4 GHz x 2 x 128-bit FMA (8 FLOP each)
    ("raspberry-pi-5", "sram_cap", 4 * 512 * 1024 + 2 * 2**20),  # L2 4 x 512 KiB + L3 2 MiB
    ("jetson-orin-nx-16gb", "int8", 30.1e12),  # 32 TC x 1024 op/clk x 0.918 GHz = 30.08e12
    ("apple-m1-7c", "fp32", 2.6e12 * 7 / 8),
    ("apple-m4-10c", "fp32", 10 * 128 * 2 * 1.5e9),
])
def test_figures(load_hardware, name, figure, expected):
    hw = load_hardware(name)
    values = {"dram_bw": lambda: hw.dram.bandwidth_bytes_per_s, "dram_cap": lambda: hw.dram.capacity_bytes,
              "sram_cap": lambda: hw.sram.capacity_bytes}
    value = values[figure]() if figure in values else hw.matrix.peak[figure]
    assert value == pytest.approx(expected, rel=2e-3)


def test_groq_like_design_is_all_sram(load_hardware):
    hw = load_hardware("groq-lpu")
    assert hw.dram is None and hw.main_memory is hw.sram
    assert hw.sram.capacity_bytes == 230e6 and hw.sram.bandwidth_bytes_per_s == 80e12
    assert hw.matrix.peak["int8"] == 750e12 and hw.matrix.peak["fp16"] == 188e12
    assert hw.power.tdp_w == 300


def test_list_hardware_shows_every_preset():
    result = CliRunner().invoke(main, ["list", "hardware"])
    assert result.exit_code == 0, result.stderr
    rows = result.stdout.strip().splitlines()[2:]  # header and rule
    assert len(rows) >= 20
    assert sorted(row.split()[0] for row in rows) == sorted(PRESETS)
    peaks = {row.split()[0]: row for row in rows}
    assert "50 TOP/s int8" in peaks["amd-strix-point-npu"]  # integer formats count operations
    assert "TFLOP/s fp16" in peaks["apple-m1-7c"]


@pytest.mark.parametrize("kind, count", [("models", len(list(loader.list_presets(loader.MODELS_DIR)))),
                                         ("hardware", len(PRESETS))])
def test_readme_tour_counts_the_presets_there_are(kind, count):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    stated = re.search(rf"hwsim list {kind} +# (\d+) \w+ presets", readme)
    assert stated, f"README's tour lost its `hwsim list {kind}` line"
    assert int(stated.group(1)) == count


@pytest.mark.parametrize("name", ["h100-sxm", "apple-m4-max-40c", "groq-lpu"])
def test_show_hardware(name):
    result = CliRunner().invoke(main, ["show", name])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(name) and "compute.matrix.peak" in result.stdout


def test_dram_type_has_an_energy_price(hw):
    from hwsim.cost.energy import load_dram

    if hw.dram:
        assert hw.dram.type.lower() in {name.lower() for name in load_dram().types}


ONE_PER_CLASS = ["h100-sxm", "rtx-4090", "jetson-orin-nano", "apple-m2-ultra-76c", "snapdragon-8-gen3-npu",
                 "rk3588", "raspberry-pi-5", "groq-lpu"]


@pytest.mark.parametrize("name", ONE_PER_CLASS)
def test_preset_simulates_and_decode_is_not_faster_than_streaming_weights(load_hardware, load_model, name):
    from hwsim.sim import simulate
    from hwsim.spec.derived import model_figures

    hw, model = load_hardware(name), load_model("llama-3.2-1b")
    totals = simulate(model, hw, phase="decode", prompt_len=64, gen_len=2, engine="roofline").totals
    if not totals["fits"]:  # 2.5 GB of bf16 weights on a 230 MB all-SRAM chip: a result, not a crash
        assert name == "groq-lpu" and totals["shortfall_bytes"] > 0
        return
    # Decode reads every weight once per token; only the on-chip level can spare part of it.
    spared = hw.sram.capacity_bytes if hw.sram else 0.0
    floor_s = (model_figures(model)["weight_bytes"] - spared) / hw.main_memory.bandwidth_bytes_per_s
    assert totals["tpot_s"] >= floor_s
