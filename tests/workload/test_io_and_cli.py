"""Trace files round-trip with their dtypes; `hwsim trace` writes one and prints totals."""

import pandas as pd
import pytest
from click.testing import CliRunner

from hwsim.cli import main
from hwsim.errors import TraceError
from hwsim.workload import trace as T
from hwsim.workload.io import read_trace, write_trace
from hwsim.workload.transformer import build_trace


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip_keeps_values_and_dtypes(load_model, tmp_path, suffix):
    frame = build_trace(load_model("olmoe-1b-7b"), "decode", 2, 10, token_step=1, num_steps=3)
    path = write_trace(frame, tmp_path / f"trace{suffix}")
    pd.testing.assert_frame_equal(read_trace(path), frame)


def test_bad_files_are_trace_errors(load_model, tmp_path):
    with pytest.raises(TraceError, match="unknown trace format"):
        read_trace(tmp_path / "trace.txt")
    with pytest.raises(TraceError, match="no such trace file"):
        read_trace(tmp_path / "missing.csv")
    frame = build_trace(load_model("llama-3.2-1b"), "decode", 1, 4)
    path = write_trace(frame, tmp_path / "trace.csv")
    broken = pd.read_csv(path, keep_default_na=False)
    broken.loc[3, T.FLOPS] = -1
    broken.to_csv(path, index=False)
    with pytest.raises(TraceError, match="trace.csv"):
        read_trace(path)


def test_cli_trace_writes_and_summarises(tmp_path):
    out = tmp_path / "ouro.parquet"
    result = CliRunner().invoke(main, ["trace", "--model", "ouro-1.4b", "--phase", "decode",
                                       "--context", "1", "--loops", "2", "--kv-policy", "shared",
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame = read_trace(out)
    assert frame[T.KV_WRITE_BYTES].sum() == 24 * 8192         # shared: one slot per layer (196,608 B)
    assert "ops" in result.output and f"{len(frame):,}" in result.output
    assert "KV bytes written" in result.output and "197 kB" in result.output


def test_cli_trace_error_is_one_line(tmp_path):
    result = CliRunner().invoke(main, ["trace", "--model", "trm", "--phase", "decode",
                                       "--out", str(tmp_path / "x.csv")])
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "no decode phase" in result.output
