"""The captured path on the command line: a config without a hwsim preset or mapping becomes a
trace that `hwsim simulate` accepts; schedule-only options are refused in one line;
`hwsim validate capture` prints the per-model table."""

import json

import pytest
from click.testing import CliRunner

pytest.importorskip("torch", reason="capture needs the `capture` extra (pip install torch==2.13.0 -e '.[capture]')")
pytest.importorskip("transformers", reason="capture needs the `capture` extra (pip install -e '.[capture]')")

from hwsim.cli import main  # noqa: E402
from hwsim.workload import trace as T  # noqa: E402
from hwsim.workload.io import read_trace  # noqa: E402

# StarCoder2: LayerNorm, biases, a plain GELU MLP; hwsim/spec/hf.py does not map it.
STARCODER2 = {"model_type": "starcoder2", "hidden_size": 64, "intermediate_size": 256, "num_hidden_layers": 2,
              "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 300,
              "max_position_embeddings": 256}


def run(*args):
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(STARCODER2))
    return str(path)


def test_trace_from_hf_capture_is_simulated(config, tmp_path):
    out = tmp_path / "sc2.parquet"
    result = run("trace", "--from-hf", config, "--capture", "--phase", "decode", "--context", "16",
                 "--out", str(out))
    assert result.exit_code == 0, result.output
    frame = read_trace(out)
    heads = frame[frame[T.OP_KIND] == "lm_head"]
    assert list(heads[T.FLOPS]) == [2.0 * 64 * 300]      # one token, untied head
    assert (frame[T.KV_READ_BYTES].sum() == 2 * 2 * 17 * 2 * 16 * 2)   # layers x K,V x keys x kv width x bf16
    simulated = run("simulate", "--model", str(out), "--hardware", "edge-npu", "--json")
    assert simulated.exit_code == 0, simulated.output
    assert json.loads(simulated.output)["totals"]["latency_s"] > 0
    direct = run("simulate", "--model", config, "--capture", "--phase", "prefill", "--prompt", "8",
                 "--hardware", "edge-npu", "--json")
    assert direct.exit_code == 0, direct.output


@pytest.mark.parametrize("extra", [["--loops", "2"], ["--quant", "int4-g128"], ["--phase", "e2e"]])
def test_schedule_options_refused_in_one_line(config, extra):
    args = ["simulate", "--model", config, "--capture", "--hardware", "edge-npu"]
    result = run(*args, *(extra if extra[0] == "--phase" else ["--phase", "decode", *extra]))
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "needs a hwsim schedule" in result.output


def test_unknown_architecture_is_one_clean_error(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "no_such_arch", "hidden_size": 8}))
    result = run("trace", "--from-hf", str(path), "--capture", "--phase", "prefill", "--out", str(tmp_path / "t.csv"))
    assert result.exit_code == 2 and "model_type" in result.output


def test_validate_capture_prints_the_table():
    result = run("validate", "capture", "--model", "gpt2", "--phase", "decode", "--context", "8")
    assert result.exit_code == 0, result.output
    assert "matmul GFLOP" in result.output and "GPT-2" in result.output and "PASS" in result.output
    missing = run("validate", "capture", "--model", "trm")
    assert missing.exit_code == 2 and "no published config" in missing.output


def test_validate_capture_exits_1_on_a_wrong_preset(monkeypatch):
    from hwsim.spec import loader

    real = loader.load_model
    monkeypatch.setattr(loader, "load_model", lambda name: real(name).model_copy(update={"tied_embeddings": False}))
    result = run("validate", "capture", "--model", "gpt2", "--phase", "decode", "--context", "8")
    assert result.exit_code == 1
    assert "FAIL GPT-2 decode: unique_weight_bytes" in result.output
