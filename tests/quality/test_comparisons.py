"""Iso-quality sets: every shipped set loads, and its table is the published rows."""

import pytest
from click.testing import CliRunner

from hwsim.cli import main
from hwsim.errors import ConfigError
from hwsim.quality.comparisons import COMPARISONS_DIR, load_comparison, quality_table

SETS = sorted(p.stem for p in COMPARISONS_DIR.glob("*.yaml"))


@pytest.mark.parametrize("name", SETS)
def test_shipped_sets_load_and_quote_published_rows(name):
    spec = load_comparison(name)
    table = quality_table(spec)
    assert len(table) == len(spec.members)
    assert table["quality_source"].str.startswith("published: ").all()


def test_ouro_set_is_table_7():
    table = quality_table(load_comparison("ouro-1.4b-vs-4b")).set_index("member")
    assert table.at["Ouro-1.4B x4", "GSM8K"] == 78.92 and table.at["Qwen3-4B", "GSM8K"] == 72.86
    assert table.at["Qwen3-4B", "avg"] == pytest.approx((73.19 + 63.65 + 75.66 + 71.19) / 4)


def test_a_member_without_quality_rows_is_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nquestion: q\nquality_group: ouro_base_lmeval\nbenchmarks: [MMLU]\n"
                   "members: [{preset: ouro-1.4b}, {preset: gpt2}]\n")
    with pytest.raises(ConfigError, match=r"members\[1\]: GPT-2 has no entry"):
        load_comparison(str(bad))


def test_cli_prints_set_and_configuration():
    result = CliRunner().invoke(main, ["quality", "ouro-1.4b-vs-4b"])
    assert result.exit_code == 0 and "78.92" in result.output and "published: ouro_base_lmeval" in result.output
    one = CliRunner().invoke(main, ["quality", "--model", "qwen3-4b", "--quant", "int4-g128"])
    assert one.exit_code == 0 and "no published MMLU score of Qwen3-4B at int4-g128" in one.output
