"""Report preset hypothetical-looped-edge: rows carry their quality source, the conclusion
quotes table cells, and the reason given for a win follows the residency figures."""

import re

import pandas as pd
import pytest
from click.testing import CliRunner

from hwsim.report import hypothetical as H

SMALL = H.Grid(once_layers=(2,), middle_layers=(2,), loops=(2, 4), streams=(1, 4), quants=("int8",),
               chips=(("edge-npu", "8 MiB"), ("edge-npu", "128 MiB")),
               phis=("baseline", "equal_depth_recipe"), gen_len=4, published_rows=False)


@pytest.fixture(scope="module")
def small_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("hyp")
    return out, H.write(out, SMALL, command=["test"])


def test_every_row_names_its_quality_source(small_report):
    out, _ = small_report
    frame = pd.read_csv(out / "results.csv")
    assert len(frame) == 4 * 2
    expected = frame["streams"].map({1: "scaling law (phi=0.459)", 4: "scaling law (phi=0.646)"})
    assert (frame["quality_source"] == expected).all()


def test_conclusion_numbers_are_table_cells(small_report):
    out, written = small_report
    text = (out / "report.md").read_text()
    tables = text[text.index("## Best looped shape"):]
    numbers = re.findall(r"\d+(?:\.\d+)?(?:x| %| tok/s| [kMG]?B)", " ".join(written))
    assert numbers
    for number in numbers:
        assert number in tables, number


def test_resident_block_is_named_as_the_reason():
    # 4 loops re-read a 10 MB block 3 times per token; 0.5 MB from DRAM -> 98 % on chip
    row = {"loops": 4, "block_bytes": 10e6, "refetch_bytes_per_token": 0.5e6, "speedup": 1.5,
           "bound": "memory", "sram_bytes": 128 * 2**20}
    assert H.resident_share(row) == pytest.approx(1 - 0.5 / 30)
    assert H.why(row) == "block resident"
    assert H.why({**row, "refetch_bytes_per_token": 15e6}) == "block 50 % resident"
    assert H.why({**row, "refetch_bytes_per_token": 30e6, "speedup": 0.8}) == \
        "bandwidth (block re-read from DRAM each loop)"


def test_a_larger_sram_lets_more_looped_designs_win(small_report):
    out, _ = small_report
    frame = pd.read_csv(out / "results.csv")
    small, large = (frame[frame["chip"] == f"edge-npu ({s} SRAM)"]["speedup"].max() for s in ("8 MiB", "128 MiB"))
    assert large > small


@pytest.mark.slow
def test_preset_runs_from_the_cli(tmp_path):
    from hwsim.cli import main

    result = CliRunner().invoke(main, ["report", "--preset", "hypothetical-looped-edge", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "best looped shape" in result.output
    assert (tmp_path / "results.csv").exists()
