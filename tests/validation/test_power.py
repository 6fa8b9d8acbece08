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


def test_report_on_two_devices_lists_mape_and_unmapped():
    text = power_report(_rows(), calibration=None)
    assert "board_w" in text and "held_out" in text and "energy_j_per_token" in text
    assert "geerling889-n150-cpu-llama32-3b-energy: no Intel N150 preset" in text
    held_w = [line for line in text.splitlines() if line.strip().startswith("board_w") and "held_out" in line]
    assert held_w and float(held_w[0].split()[2]) < 60  # two very different boards still land within 60%
