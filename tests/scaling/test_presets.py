"""Published looped configurations reproduce their papers' parameter counts."""

import pytest

from hwsim.scaling import parametric
from hwsim.scaling.presets import PRESETS, preset_model

COUNTED = [name for name, p in PRESETS.items() if p.reported_params is not None]


@pytest.mark.parametrize("name", COUNTED)
def test_reported_parameter_count(name):
    preset = PRESETS[name]
    count = parametric.param_count(preset_model(name), preset.convention)
    assert abs(count - preset.reported_params) <= preset.reported_digits, f"{name}: {count:,}"


def test_hyperloop_and_mor_presets_cover_the_papers():
    assert sum(n.startswith("hyperloop") for n in COUNTED) == 9 + 8      # Table 1: 3 x 3; Table 3: 4 x 2
    assert {f"mor-360m-nr{r}" for r in (2, 3, 4)} <= set(COUNTED)


def test_hyperloop_hyper_connections_cost_150k_parameters_at_small_scale():
    # 3 loops x (3 n^2 C + C + 3n + 3) = 3 x 50,191 at C = 1024, n = 4 (2604.21254 section 3)
    hyper = parametric.param_count(preset_model("hyperloop-small"), "hyperloop")
    plain = parametric.param_count(preset_model("hyperloop-small-looped"), "hyperloop")
    assert hyper - plain == 3 * 50191


def test_mor_recursion_wise_cache_keeps_the_paper_share():
    # Recursion-wise caching keeps (N_r + 1) / (2 N_r) of the looped layers' KV (2507.10524 2.2.2);
    # with the linear capacity schedule the expected writes per looped layer match it.
    model = preset_model("mor-360m-nr3")
    shares = [sum(model.loop.distribution[t:]) for t in range(3)]
    assert sum(shares) / 3 == pytest.approx((3 + 1) / (2 * 3))
