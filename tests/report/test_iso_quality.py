"""The equal-quality report: its tables, that every number the conclusion quotes is a table
cell, and what it says about the looped model."""

import re
from pathlib import Path

import pytest

from hwsim.report import iso
from hwsim.report.conclusion import write_conclusion
from hwsim.report.presets import load_report
from hwsim.report.table import summary_table

TINY = Path(__file__).parent / "tiny-quality-report.yaml"
NUMBER = re.compile(r"\d+(?:\.\d+)?")


@pytest.fixture(scope="module")
def quality_data(tmp_path_factory):
    from hwsim.report.collect import from_preset

    return from_preset(str(TINY), tmp_path_factory.mktemp("tiny-quality"), jobs=1, progress=False)


def test_both_built_in_presets_load():
    spec, _ = load_report("looped-vs-standard-edge")
    assert spec.iso_quality.set == "ouro-1.4b-vs-4b" and spec.context.prompt_len[-1] == 32768
    equal_params, _ = load_report("looped-vs-standard-edge-equal-params")
    assert equal_params.iso_quality is None


def test_tables_pair_the_looped_model_with_its_equal_quality_peer(quality_data):
    tables = iso.tables(quality_data)
    assert tables.looped == "Ouro-1.4B x4" and tables.peers == ["Qwen3-4B"]
    rows = tables.rows[iso.ISO]
    for chip, group in rows.groupby("hardware"):
        assert group["design"].iloc[0] == "Ouro-1.4B x4" and group["looped_ratio"].iloc[0] == 1.0
        peer = group[group["design"] == "Qwen3-4B"].iloc[0]
        assert peer["looped_ratio"] == pytest.approx(group["tokens_per_s"].iloc[0] / peer["tokens_per_s"])
        assert peer["quality"] == pytest.approx((73.19 + 63.65 + 75.66 + 71.19) / 4)
        error = {"edge-npu": 0.5, "jetson-orin-nano": 0.1}[chip]
        assert peer["tokens_low"] == pytest.approx(peer["tokens_per_s"] * (1 - error))
    depth = tables.rows[iso.DEPTH]
    past = depth[depth["loops"] == 8]
    assert (past["quality_source"] == "published beyond trained depth: ouro_base_lmeval").all()
    context = tables.rows[iso.CONTEXT]
    assert set(context["prompt_len"]) == {512, 16384} and set(context["design"]) == {
        "Ouro-1.4B x4", "Qwen3-4B", "Llama-3.2-3B", "Gemma-3-4B"}
    kv = tables.rows[iso.SENSITIVITY]
    assert set(kv[kv["knob"] == "KV policy"]["peer"]) == {"Qwen3-4B"}


def test_every_number_of_the_equal_quality_paragraphs_is_a_table_cell(quality_data):
    tables = iso.tables(quality_data)
    conclusion = write_conclusion(quality_data.results, quality_data.objective, iso=tables)
    shown = {**tables.shown, "summary": summary_table(quality_data.results, quality_data.objective)}
    for table, index, column, text in conclusion.citations:
        assert shown[table].at[index, column] == text
    cells = {cell for frame in shown.values() for cell in frame.to_numpy().ravel().astype(str)}
    cell_numbers = {n for cell in cells for n in NUMBER.findall(cell)}
    names = set(quality_data.results["design"]) | set(quality_data.results["model"]) | \
        set(quality_data.results["quant"]) | set(quality_data.results["hardware"]) | \
        {"math500", "gsm8k", "mmlu_pro", "int4", "bf16", "arc_c"}
    text = "\n".join(conclusion.paragraphs[:4])
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, "")
    quoted = NUMBER.findall(text)
    assert quoted and all(number in cell_numbers for number in quoted), \
        [n for n in quoted if n not in cell_numbers]
    assert conclusion.paragraphs[0].startswith("Answer at equal quality: Ouro-1.4B x4 averages 68.72 "
                                               "(published: ouro_base_lmeval)")
    # Ouro x4 keeps one KV cache per loop: at 16K it needs more than the Orin Nano's 8 GB.
    assert "Context length (decode on jetson-orin-nano): at 512 tokens Ouro-1.4B x4 decodes" in conclusion.text
    assert "from 16384 tokens it needs" in conclusion.text and "does not fit" in conclusion.text


def test_report_draws_the_equal_quality_figures(quality_data, tmp_path):
    from hwsim.report.document import write_report
    from hwsim.report.figures import EQUAL_QUALITY, FIGURES
    from tests.report.test_figures import check_figure

    for definition in FIGURES:
        if definition.name in EQUAL_QUALITY:
            check_figure(definition, quality_data)

    written = write_report(quality_data, tmp_path, ["hwsim", "report", "--preset", "tiny-quality"])
    assert {"quality_pareto", "context", "sensitivity"} <= set(written.figures)
    assert "pareto" not in written.figures
    markdown = (tmp_path / "report.md").read_text()
    assert "## Equal quality: iso-quality" in markdown and "published: ouro_base_lmeval" in markdown


def test_quality_objectives_are_drawn_in_points():
    from hwsim.report.figures import display_scale

    assert display_scale("checkpoint_quality.avg", [68.72, 70.92]) == (1.0, "points")
    assert display_scale("energy_per_token_j", [0.05]) == (1e-3, "mJ")


def test_a_context_pruned_for_not_fitting_is_a_row_without_a_speed():
    """Was dropped: a DES report prunes a context whose footprint exceeds memory, and the table and
    conclusion then said nothing of Ouro x4 at 16K on an 8 GB chip."""
    from types import SimpleNamespace

    import pandas as pd

    frame = pd.DataFrame({"design": ["Ouro-1.4B x4"] * 3, "prompt_len": [512, 16384, 32768],
                          "status": ["ok", "pruned", "pruned"], "fits": [True, False, True],
                          "tokens_per_s": [15.0, 3.0, 2.0], "memory_footprint_bytes": [1e9, 13.9e9, 5e9]})
    rows = iso.context_rows(SimpleNamespace(context=frame))
    assert list(rows["prompt_len"]) == [512, 16384]         # pruned by another constraint: not shown
    assert rows["tokens_per_s"].isna().tolist() == [False, True]
    assert rows["memory_footprint_bytes"].tolist() == [1e9, 13.9e9]
