"""Bad input a new user tries: each ends in one clean line that names the option or file and the
problem (exit 2), or in sensible output; never an "internal error" or a traceback. One test per
case found when the CLI was tried as a new user would."""

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from hwsim.cli import main

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--model", "llama-3.2-1b", "--hardware", "edge-npu"]


def hwsim(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def refused(*args: str, match: str) -> str:
    """Run hwsim with `args`; assert exit 2 and one clean stderr line containing `match`."""
    result = hwsim(*args)
    message = result.stderr.strip()
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert message.startswith("hwsim: error: ") and "\n" not in message, message
    assert "internal error" not in message and "Traceback" not in message
    assert match in message, message
    return message


def unwritable(tmp_path: Path) -> Path:
    """A directory hwsim cannot create or write. Tests may run as root, which ignores permission
    bits, so a path below a regular file stands in for a read-only directory: both fail with an
    OSError naming the path."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    return blocker / "out"


def test_decode_with_zero_generated_tokens():
    refused("simulate", *SMALL, "--phase", "decode", "--gen", "0",
            match="--gen 0: the decode phase needs at least 1 generated token")


def test_zero_bandwidth_via_set():
    refused("simulate", *SMALL, "--set", "bandwidth=0 GB/s",
            match="configs/hardware/edge-npu.yaml: memory.dram.bandwidth: must be above 0 B/s")


def test_zero_bandwidth_in_a_yaml_file(tmp_path):
    text = (ROOT / "configs" / "hardware" / "edge-npu.yaml").read_text()
    path = tmp_path / "slow.yaml"
    path.write_text(text.replace('bandwidth: "68 GB/s"', 'bandwidth: "0 GB/s"', 1))
    assert path.read_text() != text
    refused("simulate", "--model", "llama-3.2-1b", "--hardware", path,
            match="memory.dram.bandwidth: must be above 0 B/s")


def test_zero_peak_compute_rate():
    refused("simulate", *SMALL, "--set", "compute.matrix.peak.int8=0 TFLOP/s",
            match="compute.matrix.peak: int8: a peak rate must be above 0")


def test_binary_config_file(tmp_path):
    path = tmp_path / "blob.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    refused("show", path, match=f"{path}: not a UTF-8 text file")


def test_sweep_into_an_unwritable_directory(tmp_path):
    out = unwritable(tmp_path)
    refused("sweep", "sram-residency-edge-npu", "--out", out, "--engine", "roofline", "--no-progress",
            match=f"{out}: Not a directory")


def test_report_into_an_unwritable_directory(tmp_path):
    out = unwritable(tmp_path)
    refused("report", "--preset", "looped-vs-standard-edge", "--out", out, "--no-progress",
            match=f"{out}")


def test_trace_into_an_unwritable_directory(tmp_path):
    out = unwritable(tmp_path) / "t.parquet"
    refused("trace", "--model", "llama-3.2-1b", "--phase", "decode", "--context", "16", "--out", out,
            match=f"{out}: directory")


def test_chrome_trace_into_an_unwritable_directory(tmp_path):
    out = unwritable(tmp_path) / "t.json"
    refused("simulate", *SMALL, "--prompt", "16", "--gen", "2", "--chrome-trace", out,
            match=f"{out.parent}: Not a directory")


def test_chrome_trace_into_a_missing_directory_creates_it(tmp_path):
    out = tmp_path / "new" / "deeper" / "t.json"
    result = hwsim("simulate", *SMALL, "--prompt", "16", "--gen", "2", "--chrome-trace", out)
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 0


def test_output_piped_into_a_closed_reader_exits_quietly():
    process = subprocess.Popen([sys.executable, "-c", "from hwsim.cli import main; main()", "show", "ouro-1.4b"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    process.stdout.close()  # as `| head -0` does: every write hits a closed pipe
    stderr = process.stderr.read().decode()
    process.wait(timeout=120)
    assert stderr == "" and process.returncode in (0, 1)


def test_prompt_beyond_the_model_positions():
    refused("simulate", *SMALL, "--prompt", "10000000", "--gen", "1", "--engine", "roofline",
            match="exceed Llama-3.2-1B's 131072 positions (max_position_embeddings); pass "
                  "--allow-beyond-max-positions")


def test_huginn_prompt_beyond_its_positions():
    refused("simulate", "--model", "huginn-0125", "--hardware", "h100-sxm", "--prompt", "1000000",
            "--engine", "roofline", match="exceed Huginn-0125's 4096 positions")


def test_beyond_max_positions_on_request():
    result = hwsim("simulate", *SMALL, "--prompt", "200000", "--gen", "1", "--engine", "roofline",
                   "--allow-beyond-max-positions")
    assert result.exit_code == 0, result.output
    assert "latency" in result.output


def test_zero_sram_reads_as_zero_bytes():
    result = hwsim("simulate", *SMALL, "--prompt", "16", "--gen", "2", "--set", "sram=0 MiB")
    assert result.exit_code == 0, result.output
    sram_line = next(line for line in result.output.splitlines() if line.startswith("SRAM peak"))
    assert sram_line.split()[-2:] == ["0", "B"]


def test_absurdly_slow_memory_gives_times_in_years():
    result = hwsim("simulate", *SMALL, "--set", "bandwidth=1e-30 GB/s", "--engine", "roofline")
    assert result.exit_code == 0, result.output
    latency = next(line for line in result.output.splitlines() if line.startswith("latency"))
    assert latency.endswith(" years") and "Ps" not in result.output


def test_loops_on_a_standard_model_in_show():
    refused("show", "llama-3.2-1b", "--loops", "4", match="--loops: Llama-3.2-1B is not a looped model")


def test_loops_on_a_standard_model_in_simulate():
    refused("simulate", *SMALL, "--loops", "4", match="--loops: Llama-3.2-1B is not a looped model")


def test_last_k_kv_policy_needs_its_k():
    refused("simulate", "--model", "ouro-1.4b", "--hardware", "edge-npu", "--kv-policy", "last_k",
            match="--kv-policy last_k: give --kv-last-k K")


def test_kv_last_k_without_the_last_k_policy():
    refused("simulate", "--model", "ouro-1.4b", "--hardware", "edge-npu", "--kv-last-k", "2",
            match="--kv-last-k applies only with --kv-policy last_k")


def test_kv_policy_is_a_choice():
    result = hwsim("simulate", "--model", "ouro-1.4b", "--hardware", "edge-npu", "--kv-policy", "lastk")
    assert result.exit_code == 2 and "'lastk' is not one of" in result.stderr


def test_generated_tokens_do_not_apply_to_prefill():
    refused("simulate", *SMALL, "--phase", "prefill", "--gen", "5",
            match="--gen does not apply to --phase prefill")


def test_des_only_options_with_the_roofline_engine():
    refused("simulate", *SMALL, "--engine", "roofline", "--policy", "belady",
            match="--policy applies to --engine des only")


def test_tokens_per_second_below_one_has_no_milli_prefix():
    result = hwsim("simulate", *SMALL, "--set", "bandwidth=1 GB/s", "--engine", "roofline")
    assert result.exit_code == 0, result.output
    rate = next(line for line in result.output.splitlines() if line.startswith("tokens/s"))
    assert rate.endswith(" tok/s") and "mtok/s" not in rate and float(rate.split()[-2]) < 1


def test_a_misspelt_model_suggests_the_close_names():
    message = refused("simulate", "--model", "ouro-1.4", "--hardware", "edge-npu",
                      match="unknown model 'ouro-1.4' (did you mean ouro-1.4b")
    assert len(message) < 200


def test_a_misspelt_name_in_show_suggests_models_and_hardware():
    refused("show", "edge-npv", match="unknown model or hardware 'edge-npv' (did you mean edge-npu")


def test_a_misspelt_quantisation_suggests_the_close_names():
    refused("simulate", "--model", "ouro-1.4b", "--hardware", "edge-npu", "--quant", "int4_g12",
            match="(did you mean int4-g128")


def test_a_misspelt_field_suggests_the_close_names():
    refused("simulate", *SMALL, "--set", "memory.sram.capacty=8 MiB",
            match="memory.sram.capacty: unknown field (did you mean capacity?)")


def test_feasibility_takes_the_simulate_option_names():
    result = hwsim("feasibility", *SMALL, "--target", "tokens_per_s>=1", "--prompt", "64", "--gen", "8",
                   "--no-search")
    assert result.exit_code == 0, result.output
    assert "prompt 64, 8 generated" in result.output


def test_presets_directory_that_does_not_exist(tmp_path, monkeypatch):
    monkeypatch.delenv("HWSIM_PATH", raising=False)
    refused("--presets", tmp_path / "nowhere", "list", "models", match="--presets: ")


def test_presets_directory_without_presets(tmp_path, monkeypatch):
    monkeypatch.delenv("HWSIM_PATH", raising=False)
    refused("--presets", tmp_path, "list", "models", match="holds no presets (expected models/*.yaml")


def test_hwsim_path_without_presets(tmp_path, monkeypatch):
    monkeypatch.setenv("HWSIM_PATH", str(tmp_path))
    refused("list", "hardware", match=f"HWSIM_PATH: {tmp_path}: holds no presets")


def test_a_user_preset_directory_adds_models(tmp_path, monkeypatch):
    monkeypatch.setenv("HWSIM_PATH", "")
    (tmp_path / "models").mkdir()
    text = (ROOT / "workloads" / "models" / "gpt2.yaml").read_text()
    (tmp_path / "models" / "my-gpt.yaml").write_text(text)
    result = hwsim("--presets", tmp_path, "list", "models")
    assert result.exit_code == 0, result.output
    assert "my-gpt" in result.output and "llama-3.2-1b" in result.output


def test_version():
    result = hwsim("--version")
    assert result.exit_code == 0 and result.output.startswith("hwsim, version ")
