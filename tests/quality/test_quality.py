"""The quality model against the published rows it reads (configs/quality/) and the data set
they were copied from."""

import csv
import math
from pathlib import Path

import pytest

from hwsim.errors import ConfigError
from hwsim.quality import quality, quality_columns
from hwsim.quality.data import COLUMNS, QUALITY_DIR, SCORES_FILE, load, read_rows
from hwsim.quality.model import BEYOND, INTERPOLATED, PUBLISHED, UNKNOWN, UNMEASURED
from hwsim.spec import loader
from hwsim.resources import source_checkout
from hwsim.spec.variants import configure_model

# The project's data set sits beside the checkout (as CI lays it out); an installed copy has none.
CHECKOUT = source_checkout()
SHARED_CSV = CHECKOUT.parent / "shared" / "data" / "quality.csv" if CHECKOUT else Path("shared-data-absent")
GROUP = "ouro_base_lmeval"


def _raw(path: Path) -> list[tuple[str, ...]]:
    with open(path, newline="") as handle:
        return [tuple(row) for row in csv.reader(handle)][1:]


@pytest.mark.skipif(not SHARED_CSV.is_file(), reason="the project's quality data set is not beside the clone")
def test_every_copied_row_is_a_row_of_the_data_set():
    source = set(_raw(SHARED_CSV))
    copied = _raw(SCORES_FILE)
    assert copied and all(row in source for row in copied)


def test_every_quality_number_is_a_source_row_or_says_how_it_was_derived():
    """Every value quality_columns reports for the comparison presets is a row's score, a
    labelled interpolation of two rows, or a published quantisation delta on a row."""
    data = load()
    for name in ("ouro-1.4b", "ouro-2.6b", "qwen3-4b", "llama-3.2-3b", "gemma-3-4b", "huginn-0125", "trm"):
        model = loader.load_model(name)
        for loops in ((1, 2, 3, 4, 5, 8) if model.is_looped and name != "trm" else (None,)):
            variant = configure_model(model, loops=loops) if loops else model
            scores = __import__("hwsim.quality.model", fromlist=["x"]).model_quality(variant)
            for key, score in scores.items():
                if not score.known or key.endswith(".avg"):
                    continue
                assert all(row in data.rows for row in score.rows)
                if score.status in (PUBLISHED, BEYOND) and len(score.rows) == 1:
                    assert score.value == score.rows[0].score
                elif score.status == INTERPOLATED:
                    lo, hi = score.rows
                    assert min(lo.score, hi.score) <= score.value <= max(lo.score, hi.score)


def test_highlights_of_the_data():
    """Ouro-1.4B R4 vs Qwen3-4B-Base: ties BBH / Winogrande, wins GSM8K / MATH500, trails MMLU."""
    def score(model, bench, loops=None):
        return quality(model, bench, loops, GROUP).value

    for bench in ("BBH", "Winogrande"):
        assert abs(score("Ouro-1.4B", bench, 4) - score("Qwen3-4B", bench)) < 1.2
    for bench in ("GSM8K", "MATH500"):
        assert score("Ouro-1.4B", bench, 4) > score("Qwen3-4B", bench) + 5
    assert score("Ouro-1.4B", "MMLU", 4) < score("Qwen3-4B", "MMLU") - 5
    close = [b for b in ("MMLU", "MMLU-Pro", "BBH", "ARC-C", "HellaSwag", "Winogrande", "GSM8K")
             if abs(score("Ouro-2.6B", b, 4) - score("Qwen3-8B", b)) <= 3.0]
    assert len(close) == 7
    for bench in ("MMLU", "ARC-C", "HellaSwag", "Winogrande"):
        trained = score("Ouro-1.4B", bench, 4)
        assert all(score("Ouro-1.4B", bench, loops) < trained for loops in range(5, 9))


def test_exact_rows_and_hand_computed_interpolation():
    assert quality("Ouro-1.4B", "MMLU", 4, GROUP).value == 67.35          # Table 7 (first in file)
    beyond = quality("Ouro-1.4B", "MMLU", 8, GROUP)
    assert (beyond.value, beyond.status) == (64.49, BEYOND)
    # Huginn ARC-E at r=12: halfway between r=8 (65.11) and r=16 (69.49).
    mid = quality("Huginn-0125", "ARC-E", 12)
    assert mid.status == INTERPOLATED and mid.value == pytest.approx((65.11 + 69.49) / 2)


def test_no_extrapolation_and_unpublished_benchmarks_are_unmeasured():
    assert quality("Ouro-1.4B", "MMLU", 9, GROUP).status == UNMEASURED
    assert math.isnan(quality("Huginn-0125", "ARC-E", 64).value)
    gsm = quality("Ouro-1.4B", "GSM8K", 3, GROUP)          # GSM8K is published at T=4 only
    assert gsm.status == UNMEASURED and math.isnan(gsm.value)


def test_quantisation_penalty_only_where_published():
    llama = quality("Llama-3.2-3B", "MMLU", group=GROUP, quant="int4-g128", weight_bits=4.125)
    assert llama.value == pytest.approx(59.69 + (62.0 - 63.4))     # Meta card SpinQuant vs bf16
    qwen = quality("Qwen3-4B", "MMLU", group=GROUP, quant="int4-g128", weight_bits=4.125)
    assert qwen.status == UNKNOWN and math.isnan(qwen.value)
    assert quality("Llama-3.2-3B", "MMLU", group=GROUP, quant="int8", weight_bits=8).status == UNKNOWN


def test_kv_policy_quality_from_ouro_table_14():
    shared = quality("Ouro-1.4B", "MATH500", 4, GROUP, kv_policy="shared")
    assert shared.value == 80.40
    assert quality("Ouro-1.4B", "MATH500", 4, GROUP).value == 82.40
    assert quality("Ouro-1.4B", "MMLU", 4, GROUP, kv_policy="shared").status == UNMEASURED
    assert quality("Ouro-1.4B", "GSM8K", 3, GROUP, kv_policy="shared").status == UNMEASURED


def test_columns_carry_source_and_aggregate():
    model = configure_model(loader.load_model("ouro-1.4b"), loops=4)
    columns = quality_columns(model)
    assert columns["quality_source"] == f"published: {GROUP}"
    assert columns["quality.avg"] == pytest.approx((67.35 + 60.92 + 74.29 + 72.30) / 4)
    int4 = quality_columns(configure_model(model, quant="int4-g128"))
    assert math.isnan(int4["quality.avg"]) and int4["checkpoint_quality.avg"] == columns["quality.avg"]
    assert int4["quality_source"] == f"unknown: {GROUP}"
    trm = quality_columns(loader.load_model("trm"))
    assert trm["quality.arc_agi_1"] == 44.6
    assert math.isnan(quality_columns(configure_model(loader.load_model("trm"), loops=8))["quality.arc_agi_1"])
    assert quality_columns(loader.load_model("hrm"))["quality.arc_agi_1"] == 40.3


def test_estimator_extension_point(monkeypatch):
    from hwsim.quality import model as Q

    def estimate(model, loops, benchmark, group):
        return Q.Score(50.0, Q.ESTIMATED, group, "scaling law (phi=0.459)")

    monkeypatch.setattr(Q, "ESTIMATORS", [estimate])
    score = quality("GPT-2", "MMLU", group=GROUP)
    assert (score.value, score.label) == (50.0, "scaling law (phi=0.459)")


def test_bad_scores_file_is_one_clean_line(tmp_path):
    bad = tmp_path / "scores.csv"
    bad.write_text(",".join(COLUMNS) + "\nA,base,,MMLU,x,oops,src,g,\n")
    with pytest.raises(ConfigError, match=r"scores.csv:2: score 'oops'"):
        read_rows(bad)
    assert QUALITY_DIR.is_dir()


def test_trm_task_configuration_follows_its_source():
    """The paper's n=6 is the published configuration; the README's ARC n=4 has no score."""
    from hwsim.quality.tasks import configuration, load_tasks, recursion, task_model

    tasks = load_tasks("trm")
    trm = loader.load_model("trm")
    assert recursion(trm) == "T=3;n=6;Nsup=16" == configuration(tasks.tasks["arc-agi"], "paper")
    readme = task_model(trm, tasks, "arc-agi", "readme")
    assert recursion(readme) == "T=3;n=4;Nsup=16"
    assert quality_columns(task_model(trm, tasks, "arc-agi"))["quality.arc_agi_1"] == 44.6
    assert math.isnan(quality_columns(readme)["quality.arc_agi_1"])
    sudoku = task_model(trm, tasks, "sudoku-extreme")
    assert sudoku.task.seq_len == 81 and recursion(sudoku) == "T=3;n=6;Nsup=16"
    assert tasks.tasks["arc-agi"].augmentation_votes == 1000     # per-task cost excludes this voting
    assert recursion(loader.load_model("hrm")) == "T=2;n=2;Nsup=16"
    assert recursion(loader.load_model("ouro-1.4b")) is None
    with pytest.raises(ConfigError, match="unknown; known: arc-agi"):
        task_model(trm, tasks, "chess")


def test_last_k_takes_the_quality_of_the_policy_it_equals():
    ouro = loader.load_model("ouro-1.4b")
    last_one = quality_columns(configure_model(ouro, kv_policy="last_k", kv_last_k=1))
    assert last_one["quality.math500"] == 80.40                      # Table 14, last-step only
    every = quality_columns(configure_model(ouro, kv_policy="last_k", kv_last_k=4))
    assert every["quality.math500"] == 82.40
    assert math.isnan(quality_columns(configure_model(ouro, kv_policy="last_k", kv_last_k=2))["quality.math500"])


def test_a_hypothetical_model_gets_the_scaling_law_estimate_labelled_as_such():
    """A parametric design has no published rows: its quality column is the recurrence law's
    average accuracy, labelled with phi, unknown once quantised, and never a published group."""
    from hwsim.scaling.parametric import model_quality as law_quality
    from hwsim.spec.loader import load_model
    from hwsim.spec.variants import configure_model

    model = configure_model(load_model("workloads/parametric/looped-edge.yaml"), quant="bf16")
    columns = quality_columns(model)
    expected = law_quality(model, model.training_tokens).accuracy_pct
    assert columns["quality_group"] is None
    assert columns["quality_source"].startswith("scaling law (phi=0.459)")
    if expected is None:
        assert math.isnan(columns["quality.avg"])
    else:
        assert columns["quality.avg"] == pytest.approx(expected)
    quantised = quality_columns(configure_model(model, quant="int4-g128"))
    assert math.isnan(quantised["quality.avg"]) and quantised["quality_source"].startswith("unknown")
    assert quantised["checkpoint_quality.avg"] == pytest.approx(columns["checkpoint_quality.avg"], nan_ok=True)
