"""Pareto front, sensitivity and constraints on hand-made tables."""

import numpy as np
import pandas as pd
import pytest

from hwsim.sweep.analysis import non_dominated, pareto_front, sensitivity
from hwsim.sweep.constraints import parse_constraint


def test_non_dominated_hand_case():
    costs = np.array([[1, 5], [2, 2], [5, 1], [3, 3], [2, 2], [6, 6]])
    # (3,3) is dominated by (2,2); (6,6) by everything; the duplicate (2,2) rows both stay.
    assert non_dominated(costs).tolist() == [True, True, True, False, True, False]


def test_non_dominated_blocks_agree_with_brute_force(monkeypatch):
    import hwsim.sweep.analysis as analysis

    rng = np.random.default_rng(0)
    costs = rng.integers(0, 6, size=(300, 3)).astype(float)
    brute = [not any((c <= x).all() and (c < x).any() for c in costs) for x in costs]
    monkeypatch.setattr(analysis, "_BLOCK_ELEMENTS", 900 * 7)  # forces blocks of 7 rows
    assert non_dominated(costs).tolist() == brute


def frame():
    return pd.DataFrame({
        "loops": [1, 1, 4, 4, 8],
        "quant": ["bf16", "int4", "bf16", "int4", "int4"],
        "status": ["ok", "ok", "ok", "ok", "error"],
        "feasible": [True, True, True, False, False],
        "tpot_s": [4.0, 2.0, 6.0, 1.0, np.nan],
        "tokens_per_s": [10.0, 30.0, 20.0, 50.0, np.nan],
    })


def test_front_skips_unusable_rows_and_honours_max():
    front = pareto_front(frame(), {"tpot_s": "min", "tokens_per_s": "max"})
    # Row 3 dominates all but is infeasible; row 4 failed. Of the rest, (2, 30) dominates
    # (4, 10); (6, 20) is dominated by (2, 30) too.
    assert front["tpot_s"].tolist() == [2.0]
    front = pareto_front(frame(), {"tpot_s": "max", "tokens_per_s": "max"})
    assert sorted(front["tpot_s"].tolist()) == [2.0, 6.0]


def test_sensitivity_ranks_the_axis_with_the_largest_main_effect():
    table = sensitivity(frame(), ["loops", "quant"], {"tpot_s": "min"})
    # Usable rows: (1, bf16, 4) (1, int4, 2) (4, bf16, 6); overall mean 4.
    # loops: means 3 (loops 1) and 6 (loops 4) -> spread 3; quant: 5 (bf16) and 2 (int4) -> 3.
    by_axis = table.set_index("axis")
    assert by_axis.loc["loops", "spread"] == pytest.approx(3.0)
    assert by_axis.loc["quant", "spread"] == pytest.approx(3.0)
    assert by_axis.loc["quant", "best_value"] == "int4"
    assert by_axis.loc["loops", "relative_spread"] == pytest.approx(3.0 / 4.0)
    assert sorted(table["rank"]) == [1, 2]


def test_sensitivity_orders_by_relative_spread_and_drops_constant_axes():
    data = pd.DataFrame({"a": [1, 1, 2, 2], "b": ["x", "y", "x", "y"], "c": [0, 0, 0, 0],
                         "status": "ok", "feasible": True, "e": [1.0, 1.5, 9.0, 9.5]})
    table = sensitivity(data, ["a", "b", "c"], {"e": "min"})
    assert table["axis"].tolist() == ["a", "b"]
    assert table["spread"].tolist() == pytest.approx([8.0, 0.5])
    assert table["best_value"].tolist() == ["1", "x"]


@pytest.mark.parametrize("text, totals, holds", [
    ("fits == True", {"fits": True}, True),
    ("fits == True", {"fits": False}, False),
    ("tpot_s <= 0.05", {"tpot_s": 0.05}, True),
    ("0.05 > tpot_s", {"tpot_s": 0.05}, False),
    ("memory_footprint_bytes <= memory_capacity_bytes",
     {"memory_footprint_bytes": 9.0, "memory_capacity_bytes": 8.0}, False),
    ("bound == 'memory'", {"bound": "memory"}, True),
    ("tpot_s < 1", {"tpot_s": float("nan")}, False),
    ("tpot_s < 1", {}, False),
])
def test_constraints_evaluate(text, totals, holds):
    assert parse_constraint(text).holds(totals) is holds


@pytest.mark.parametrize("text, prunable", [
    ("fits == True", True),
    ("memory_footprint_bytes <= memory_capacity_bytes", True),
    ("shortfall_bytes == 0", True),
    ("tpot_s <= 0.05", True),           # the floor is a lower bound on DES times
    ("0.05 > latency_s", True),
    ("ttft_s < 1", True),
    ("tokens_per_s >= 10", True),       # ... so an upper bound on its tokens/s
    ("tpot_s >= 0.05", False),          # a minimum time is not decided by a lower bound
    ("tokens_per_s <= 10", False),
    ("energy_j <= 1", False),           # energy and bytes of the floor are the streamed demand
    ("dram_bytes_per_token <= 1e6", False),
    ("latency_s <= ttft_s", False),
    ("memory_footprint_bytes <= tpot_s", False),
])
def test_capacity_and_bounded_time_constraints_prune(text, prunable):
    assert parse_constraint(text).prunable is prunable
