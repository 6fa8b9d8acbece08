"""Measured CSV loading, the chip-name matcher and the mapping table."""

import pytest
from click.testing import CliRunner

from hwsim.cli import main
from hwsim.errors import ConfigError
from hwsim.spec.loader import REPO_ROOT
from hwsim.spec.runtime import Runtime
from hwsim.validation.mapping import Case, Entry, Mapping, RuntimeRule, load_mapping, map_rows, match_apple
from hwsim.validation.measured import REQUIRED_COLUMNS, load_measured, parse_row


@pytest.mark.parametrize("text, preset", [
    ("Apple M3 Pro (18-core GPU, 150 GB/s)", "apple-m3-pro-18c"),
    ("Apple M1 (7-core GPU, 68 GB/s)", "apple-m1-7c"),
    ("Apple M2 Ultra (76-core GPU, 192GB)", "apple-m2-ultra-76c"),
    ("Apple M4 Mac mini (10-core GPU, 32GB)", "apple-m4-10c"),
    ("Apple M4 Max (40-core GPU, 546 GB/s)", "apple-m4-max-40c"),
    ("NVIDIA RTX 3090", None),
    ("Apple M2 Pro", None),  # no core count: ambiguous between 16c and 19c
])
def test_apple_matcher(text, preset):
    assert match_apple(text) == preset


def _record(**changes):
    record = {"id": "r1", "source": "s", "hardware": "Apple M1 (8-core GPU, 68 GB/s)", "model": "LLaMA-2 7B",
              "quant": "Q4_0", "batch": "1", "prompt_tokens": "0", "gen_tokens": "128",
              "metric": "tg_tokens_per_s", "value": "14.15", "unit": "tokens/s"}
    record.update(changes)
    return record


def test_parse_row_fills_generated_tokens_and_converts_units():
    row = parse_row(_record(gen_tokens=""))
    assert row.gen_tokens == 128 and row.prompt_tokens == 0
    assert row.seconds == pytest.approx(1 / 14.15)
    ttft = parse_row(_record(metric="ttft_ms", value="14", prompt_tokens="128", gen_tokens="1"))
    assert ttft.seconds == pytest.approx(0.014)


@pytest.mark.parametrize("changes, reason", [
    ({"metric": "energy_j_per_token"}, "power rows: validated by the power model"),
    ({"metric": "op_latency_ms"}, "not modelled"),
    ({"batch": "offline(max)"}, "batch"),
    ({"value": "abc"}, "not a number"),
    ({"metric": "pp_tokens_per_s", "prompt_tokens": ""}, "prompt_tokens >= 1"),
])
def test_parse_row_reasons(changes, reason):
    assert reason in parse_row(_record(**changes))


def test_missing_columns_named_in_one_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,hardware,model,value\nx,a,b,1\n")
    with pytest.raises(ConfigError) as err:
        load_measured(bad)
    message = str(err.value)
    assert "bad.csv" in message and "source" in message and "metric" in message and "\n" not in message
    result = CliRunner().invoke(main, ["validate", "measured", "--csv", str(bad)])
    assert result.exit_code == 2
    assert "missing columns" in result.output and len(result.output.strip().splitlines()) == 1


def test_unmapped_rows_are_listed_with_reasons(tmp_path):
    import pandas as pd

    frame = pd.DataFrame([_record(), _record(id="r2", hardware="Mystery NPU"),
                          _record(id="r3", quant="INT4/INT8 mixed (vendor)"),
                          _record(id="r4", metric="energy_j_per_token")], dtype=str)
    mapping = Mapping(hardware={}, models={"LLaMA-2 7B": Entry("llama-2-7b")},
                      quant={"Q4_0": Entry("q4_0"), "INT4/INT8 mixed (vendor)": Entry(None, "unstated split")},
                      source="t.yaml", runtimes=(RuntimeRule("s", Runtime.LLAMA_CPP),))
    cases, unmapped = map_rows(frame, mapping)
    reasons = {u.id: u.reason for u in unmapped}
    assert set(reasons) >= {"r2", "r3", "r4"}
    assert "matches no chip pattern" in reasons["r2"]
    assert "unstated split" in reasons["r3"]
    assert reasons["r4"] == "power rows: validated by the power model"
    assert [c.runtime for c in cases] == [Runtime.LLAMA_CPP]
    assert len(cases) + len(unmapped) == 4


def test_repo_mapping_and_csv_are_consistent():
    frame = load_measured(REPO_ROOT / "validation" / "measured.csv")
    assert set(REQUIRED_COLUMNS) <= set(frame.columns) and "notes" in frame.columns
    mapping = load_mapping()
    cases, unmapped = map_rows(frame, mapping)
    assert len(cases) + len(unmapped) == len(frame)
    assert all(u.reason for u in unmapped)
    # Every row that maps to presets has a runtime: no row is unmapped for want of one.
    assert all(isinstance(c.runtime, Runtime) for c in cases)
    assert not [u.id for u in unmapped if "has no runtime" in u.reason]
    assert {c.runtime for c in cases} >= {Runtime.LLAMA_CPP, Runtime.TENSORRT_LLM, Runtime.QNN, Runtime.RKLLM,
                                          Runtime.MLC}


def test_runtime_rules_match_id_before_source():
    mapping = Mapping(hardware={}, models={}, quant={}, source="t.yaml",
                      runtimes=(RuntimeRule("-trtllm-", Runtime.TENSORRT_LLM), RuntimeRule("holohub", Runtime.LLAMA_CPP)))
    assert mapping.runtime_for("x-trtllm-7b", "holohub issue")[0] == Runtime.TENSORRT_LLM
    assert mapping.runtime_for("x-lcpp-7b", "holohub issue")[0] == Runtime.LLAMA_CPP
    assert "has no runtime" in mapping.runtime_for("x", "elsewhere")[1]


@pytest.mark.parametrize("text, message", [
    ("runtimes:\n  - {match: foo, runtime: cuda}\n", r"m.yaml: runtimes\[0\].runtime: unknown runtime 'cuda'"),
    ("hardware:\n  X: {preset: null}\n", "needs a note"),
    ("quant:\n  X: {preset: int4-g128, head: int3, note: x}\n", "head: unknown format 'int3'"),
    ("quant:\n  X: {preset: int4-g128, head: int8}\n", "head format needs a note"),
    ("models:\n  X: {preset: llama-2-7b, head: int8, note: x}\n", "expected a preset name or"),  # head: quant only
    ("quant:\n  X: {preset: int4-g128, runtimes: {cuda: q4_0}, note: x}\n", "X.runtimes: unknown runtime 'cuda'"),
    ("quant:\n  X: {preset: int4-g128, runtimes: {llama.cpp: q4_0}}\n", "presets by runtime need a note"),
    ("contexts:\n  - {match: q, decode_context: 0, note: n}\n", r"contexts\[0\].decode_context: expected a whole"),
    ("contexts:\n  - {match: q, decode_context: 4096}\n", r"contexts\[0\]: expected \{match"),
])
def test_bad_mapping_entry_is_an_error(tmp_path, text, message):
    path = tmp_path / "m.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_mapping(path)


def test_quant_entry_head_format_reaches_the_simulated_model():
    """A quant string that says some layers are wider (QNN 'w4a16 + w8a16 for some layers')
    maps with an 8-bit LM head: the row's model moves fewer head bytes than the 16-bit default."""
    from hwsim.validation.predict import model_for
    from hwsim.workload.weights import unique_weight_bytes

    frame = load_measured(REPO_ROOT / "validation" / "measured.csv")
    cases, _ = map_rows(frame, load_mapping())
    qnn = next(c for c in cases if c.runtime == Runtime.QNN and c.head_format is not None
               and c.model == "llama-3.2-1b")
    assert qnn.head_format == "int8"
    narrow, default = model_for(qnn), model_for(Case(qnn.row, qnn.hardware, qnn.model, qnn.quant, qnn.runtime))
    assert narrow.quant.overrides["lm_head"] == "int8" and default.quant.overrides["lm_head"] == "bf16"
    # Llama-3.2-1B's tied 128,256 x 2,048 embedding / head: one byte per weight saved.
    assert unique_weight_bytes(default) - unique_weight_bytes(narrow) == pytest.approx(128256 * 2048, rel=0.01)


def test_quant_string_reads_by_the_rows_runtime():
    """'4-bit (scheme not stated)' is a llama.cpp block format on a llama.cpp row and the g128
    layout elsewhere; an unknown preset named for a runtime is reported, not used."""
    import pandas as pd

    mapping = Mapping(hardware={}, models={"LLaMA-2 7B": Entry("llama-2-7b")},
                      quant={"4-bit": Entry("int4-g128", "n", by_runtime=((Runtime.LLAMA_CPP, "q4_0"),)),
                             "odd": Entry("int4-g128", "n", by_runtime=((Runtime.LLAMA_CPP, "q9_9"),))},
                      source="t.yaml", runtimes=(RuntimeRule("-lcpp-", Runtime.LLAMA_CPP),
                                                 RuntimeRule("-trt-", Runtime.TENSORRT_LLM)))
    frame = pd.DataFrame([_record(id="a-lcpp-", quant="4-bit"), _record(id="a-trt-", quant="4-bit"),
                          _record(id="b-lcpp-", quant="odd")], dtype=str)
    cases, unmapped = map_rows(frame, mapping)
    assert {c.row.id: c.quant for c in cases} == {"a-lcpp-": "q4_0", "a-trt-": "int4-g128"}
    assert [u.id for u in unmapped] == ["b-lcpp-"] and "q9_9: no such preset" in unmapped[0].reason


def test_a_static_context_rule_sets_the_kv_a_decode_row_is_simulated_at():
    """AI Hub's QNN graphs attend over their whole compiled context: a decode row matched by a
    `contexts` rule is simulated at that context, so it moves that KV cache every step."""
    from hwsim.validation.predict import predict_seconds
    from hwsim.validation.predict import case_hardware

    frame = load_measured(REPO_ROOT / "validation" / "measured.csv")
    cases, _ = map_rows(frame, load_mapping())
    row = next(c for c in cases if c.row.id == "qaihub26-8e-phi-3-5-mini-w4a16-tg")
    assert row.decode_context == 4096
    assert next(c for c in cases if c.row.id.startswith("lcpp")).decode_context == 0
    hardware = case_hardware(row.hardware)
    static, own = predict_seconds(row, hardware), predict_seconds(Case(**{**row.__dict__, "decode_context": 0}), hardware)
    # Phi-3.5-mini keeps 32 KV heads of 96 in 32 layers: 2 x 32 x 32 x 96 x 2 B = 393 KB a token,
    # 1.6 GB at 4,096 tokens, read at every step on top of ~2 GB of weights.
    assert 1.5 < static / own < 2.2


def test_geerling_amd_rows_run_vulkan_and_an_unstated_backend_stays_unmapped():
    """The ai-benchmarks README's footnote: its AMD cards ran llama.cpp's Vulkan backend; the
    Ollama row on the 9950X desktop names no backend (ROCm or Vulkan), so it has no runtime."""
    found, unmapped = map_rows(load_measured(REPO_ROOT / "validation" / "measured.csv"), load_mapping())
    amd = {c.row.id: c for c in found if c.hardware in ("rx-6700-xt", "radeon-pro-w7700", "rx-7900-xt")}
    assert len(amd) == 4 and {c.runtime for c in amd.values()} == {Runtime.LLAMA_CPP_VULKAN}
    reasons = {row.id: row.reason for row in unmapped}
    assert "backend on this AMD card is not stated" in reasons["geerling889-rx7900xt-9950x-llama32-3b-tg"]
    assert "GGUF 4-bit type is not stated" in reasons["geerling889-w7700-pi5-deepseek-r1-14b-tg"]


def test_tinychat_tables_fp16_column_is_hugging_face_code_not_tinychat():
    """llm-awq's Orin table times TinyChat's AWQ kernels against an FP16 baseline that is the
    default transformers implementation: the same source, two runtimes."""
    found, _ = map_rows(load_measured(REPO_ROOT / "validation" / "measured.csv"), load_mapping())
    runs = {c.row.id: c.runtime for c in found if c.row.id.startswith("tinychat-orin-")}
    assert {r for i, r in runs.items() if "-fp16hf-" in i} == {Runtime.PYTORCH}
    assert {r for i, r in runs.items() if "-awq-" in i} == {Runtime.TINYCHAT}
    assert sum("-fp16hf-" in i for i in runs) == 2 and sum("-awq-" in i for i in runs) == 5


def test_mlc_rows_run_mlc_q4f16_1_not_llama_cpp_q4_0():
    found, _ = map_rows(load_measured(REPO_ROOT / "validation" / "measured.csv"), load_mapping())
    mlc = [c for c in found if c.runtime == Runtime.MLC]
    assert len(mlc) >= 7 and {c.quant for c in mlc} == {"q4f16_1"}
