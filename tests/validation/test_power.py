"""Energy/power validation: the closed-form share fit, held-out predictions, and the report."""

import pandas as pd
import pytest

from hwsim.validation.power import PowerCase, fit_share, power_frame, power_report

COLUMNS = ["id", "source", "hardware", "model", "quant", "batch", "prompt_tokens", "gen_tokens", "metric", "value", "unit"]


def case(preset, base_w, headroom_w, measured_w, tokens_per_s=10.0):
    return PowerCase(id=f"{preset}-{measured_w}", preset=preset, model="m", measured_j_per_token=measured_w / tokens_per_s,
                     measured_tokens_per_s=tokens_per_s, predicted_tokens_per_s=tokens_per_s,
                     base_w=base_w, headroom_w=headroom_w)


def test_share_fit_recovers_an_exact_share():
    cases = [case("a", 2.0, 10.0, 2.0 + 0.6 * 10.0), case("b", 20.0, 100.0, 20.0 + 0.6 * 100.0)]
    assert fit_share(cases) == pytest.approx(0.6)


def test_share_fit_by_hand_and_clamped():
    # one row: base 1, headroom 4, measured 4: (4/4)(1 - 1/4) / (4/4)^2 = 0.75
    assert fit_share([case("a", 1.0, 4.0, 4.0)]) == pytest.approx(0.75)
    assert fit_share([case("a", 5.0, 4.0, 4.0)]) == 0.0   # base alone over the measurement
    assert fit_share([case("a", 0.0, 1.0, 4.0)]) == 1.0


def test_held_out_uses_the_other_devices_only():
    cases = [case("a", 2.0, 10.0, 7.0), case("b", 2.0, 10.0, 5.0)]  # shares 0.5 and 0.3
    frame = power_frame(cases)
    held = frame[(frame["mode"] == "held_out") & (frame["metric"] == "board_w")].set_index("preset")
    assert held.loc["a", "share"] == pytest.approx(0.3)
    assert held.loc["a", "predicted"] == pytest.approx(5.0)
    assert held.loc["b", "predicted"] == pytest.approx(7.0)
    joules = frame[(frame["mode"] == "held_out") & (frame["metric"] == "energy_j_per_token")].set_index("preset")
    assert joules.loc["a", "predicted"] == pytest.approx(0.5)  # 5 W at 10 tok/s


def _rows():
    base = {"source": "s", "batch": "1", "prompt_tokens": "", "gen_tokens": "", "unit": "u"}
    return pd.DataFrame([
        {**base, "id": "geerling-pi5-16g-llama32-3b-tg", "hardware": "Pi", "model": "L", "quant": "Q", "metric": "tg_tokens_per_s", "value": "4.88"},
        {**base, "id": "geerling-pi5-16g-llama32-3b-energy", "hardware": "Pi", "model": "L", "quant": "Q", "metric": "energy_j_per_token", "value": "2.439"},
        {**base, "id": "geerling-m4mini-llama32-3b-tg", "hardware": "M4", "model": "L", "quant": "Q", "metric": "tg_tokens_per_s", "value": "41.31"},
        {**base, "id": "geerling-m4mini-llama32-3b-energy", "hardware": "M4", "model": "L", "quant": "Q", "metric": "energy_j_per_token", "value": "0.729"},
        {**base, "id": "geerling889-n150-cpu-llama32-3b-energy", "hardware": "N150", "model": "L", "quant": "Q", "metric": "energy_j_per_token", "value": "2.9"},
    ], columns=COLUMNS)


def _mapping_without_circular(tmp_path):
    from hwsim.validation.power import POWER_MAPPING_PATH, load_power_mapping
    import yaml

    path = tmp_path / "power_mapping.yaml"
    path.write_text(yaml.safe_dump({"rows": load_power_mapping(POWER_MAPPING_PATH)}))
    return path


def test_report_on_two_devices_lists_mape_and_unmapped(tmp_path):
    text = power_report(_rows(), calibration=None, mapping_path=_mapping_without_circular(tmp_path))
    assert "board_w" in text and "held_out" in text and "energy_j_per_token" in text
    assert "geerling889-n150-cpu-llama32-3b-energy: no Intel N150 preset" in text
    held_w = [line for line in text.splitlines() if line.strip().startswith("board_w") and "held_out" in line]
    assert held_w and float(held_w[0].split()[2]) < 80  # two very different boards, one share


def test_circular_tdp_rows_are_printed_but_left_out_of_fit_and_mape(tmp_path):
    """A preset marked circular (its TDP read off these rows): with only the M4 left, no
    held-out figure is claimed, and the reason is printed."""
    import yaml
    from hwsim.validation.power import POWER_MAPPING_PATH, load_power_mapping

    path = tmp_path / "power_mapping.yaml"
    path.write_text(yaml.safe_dump({"circular_tdp": {"raspberry-pi-5": "TDP read off these rows"},
                                    "rows": load_power_mapping(POWER_MAPPING_PATH)}))
    text = power_report(_rows(), calibration=None, mapping_path=path)
    assert "raspberry-pi-5 (1 rows): TDP read off these rows" in text
    assert "too few devices for a held-out fit" in text and "held_out" not in text


def test_every_shipped_power_preset_has_an_independent_rating():
    """No shipped preset's TDP is read off the measured power rows: each is a published rating."""
    from hwsim.validation.power import circular_presets

    assert circular_presets() == {}


def test_circular_case_is_flagged_and_does_not_move_the_share():
    honest = [case("a", 2.0, 10.0, 7.0), case("b", 2.0, 10.0, 5.0)]
    circular = PowerCase(**{**case("c", 2.0, 10.0, 11.0).__dict__, "circular": "TDP from these rows"})
    frame = power_frame(honest + [circular])
    # (10/7 (1 - 2/7) + 2 (1 - 2/5)) / ((10/7)^2 + 2^2) = (50/49 + 1.2) / (100/49 + 4)
    share = (50 / 49 + 1.2) / (100 / 49 + 4)
    assert fit_share(honest) == pytest.approx(share)
    assert list(frame[frame["mode"] == "fitted"]["share"]) == pytest.approx([share] * 6)
    held = frame[(frame["mode"] == "held_out") & (frame["metric"] == "board_w")].set_index("preset")
    assert held.loc["a", "share"] == pytest.approx(0.3)      # b only, c never enters a fit
    assert held.loc["c", "share"] == pytest.approx(share)    # c predicted from a and b
    assert held.loc["c", "circular"] == "TDP from these rows" and held["circular"].isna().sum() == 2


def test_held_out_power_against_measured_watts_meets_the_target():
    """Issue acceptance against the outside reference: on the measured board-power rows of the
    devices (each TDP the published rating of the unit the meter measured), the held-out error
    of board watts and J/token is <= 25%."""
    from hwsim.calibration import load_calibration
    from hwsim.spec.loader import REPO_ROOT
    from hwsim.validation.measured import load_measured
    from hwsim.validation.power import circular_presets, load_power_mapping, power_cases

    frame = load_measured(REPO_ROOT / "validation" / "measured.csv")
    cases, _ = power_cases(frame, load_power_mapping(), load_calibration(), "roofline", circular_presets())
    scored = power_frame(cases)
    scored = scored[scored["circular"].isna() & (scored["mode"] == "held_out")]
    assert scored["preset"].nunique() >= 4 and len(scored) >= 2 * 8     # 8 rows, 2 metrics
    mape = scored.assign(ape=scored["error_pct"].abs()).groupby("metric")["ape"].mean()
    assert mape["board_w"] <= 25 and mape["energy_j_per_token"] <= 25
