"""`hwsim simulate`: table, JSON keys, overrides, Chrome trace, one-line errors."""

import json

from click.testing import CliRunner

from hwsim.cli import main
from hwsim.result import TOTAL_KEYS


def run(*args):
    return CliRunner().invoke(main, ["simulate", *args])


def test_json_has_exactly_the_totals_keys_and_set_overrides_hardware():
    args = ["--model", "ouro-1.4b", "--hardware", "edge-npu", "--phase", "decode", "--prompt", "32",
            "--gen", "2", "--loops", "2", "--quant", "int4-g128", "--kv-policy", "shared", "--policy", "belady",
            "--json"]
    small = run(*args, "--set", "sram=0 B")
    large = run(*args, "--set", "sram=64 MiB")
    assert small.exit_code == 0, small.output
    totals = json.loads(small.output)["totals"]
    assert tuple(totals) == TOTAL_KEYS
    assert json.loads(large.output)["totals"]["dram_read_bytes"] < totals["dram_read_bytes"]
    assert json.loads(small.output)["inputs"]["kv_policy"] == "shared"


def test_table_and_chrome_trace(tmp_path):
    path = tmp_path / "trace.json"
    result = run("--model", "trm", "--hardware", "edge-npu", "--phase", "prefill", "--loops", "1",
                 "--engine", "des", "--chrome-trace", str(path))
    assert result.exit_code == 0, result.output
    assert "time to first token" in result.output and "fits" in result.output
    events = json.loads(path.read_text())["traceEvents"]
    lanes = {e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert lanes == {"dma", "matrix", "vector"}
    assert any(e["ph"] == "X" and e["tid"] == 0 for e in events)


def test_bad_input_is_one_line_error():
    result = run("--model", "trm", "--hardware", "edge-npu", "--phase", "decode")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "no decode phase" in result.output
    result = run("--model", "ouro-1.4b", "--hardware", "edge-npu", "--set", "sram=lots")
    assert result.exit_code == 2 and result.output.startswith("hwsim: error:")
