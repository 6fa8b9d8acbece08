"""The recurrence law against the numbers its paper publishes (arXiv 2604.21106v3)."""

import pytest

from hwsim.errors import ConfigError
from hwsim.scaling import law

# Project page EMPIRICAL table: parabolic compute-optimal minima per (r, C) cell, nats.
EMPIRICAL = {
    4.64e17: {1: 2.8523, 2: 2.9137, 4: 2.9357, 8: 2.9768},
    1.0e18: {1: 2.7184, 2: 2.7738, 4: 2.7963, 8: 2.8381},
    2.15e18: {1: 2.6048, 2: 2.6452, 4: 2.6706, 8: 2.7089},
    4.64e18: {1: 2.4976, 2: 2.5337, 4: 2.5591, 8: 2.5977},
    1.0e19: {1: 2.4014, 2: 2.4312, 4: 2.4582, 8: 2.4950},
    2.15e19: {1: 2.3088, 2: 2.3389, 4: 2.3599, 8: 2.4021},
}


def test_worked_example_410m_looped_is_worth_580m_dense():
    # Abstract / App F.4: at r = 4, same width as a 1B dense model, 0.41x the unique parameters
    # is worth a 0.59x dense model (410M looped ~ 580M dense).
    d = (1e9 / 240) ** 0.5                       # width of the 1B r = 1 model (240 d^2)
    dense = sum(law.sweep_params(d, 1))
    n_once, n_rec = law.sweep_params(d, 4)
    assert (n_once + n_rec) / dense == pytest.approx(0.41, rel=0.05)
    worth = law.effective_params(n_once, n_rec, 4) / dense
    assert worth == pytest.approx(0.59, rel=0.05)
    assert law.effective_params(n_once, n_rec, 4) == pytest.approx(580e6, rel=0.05)
    # and equal loss at equal tokens: the dense peer of that size has the looped model's loss
    tokens = 20e9
    peer = law.dense_params_for_loss(law.loss_nats(n_once, n_rec, 4, tokens), tokens)
    assert peer == pytest.approx(law.effective_params(n_once, n_rec, 4), rel=1e-9)


@pytest.mark.parametrize("flops", sorted(EMPIRICAL))
@pytest.mark.parametrize("loops", [1, 2, 4, 8])
def test_compute_optimal_losses_within_003_nats(flops, loops):
    predicted, _ = law.compute_optimal_loss(flops, loops)
    assert abs(predicted - EMPIRICAL[flops][loops]) < 0.03


def test_equivalence_factor_by_phi_variant():
    # N_eff / N_unique at r = 4 for the (2, 2) prelude/coda layout, injection ignored:
    # (4 + 4^phi * 4) / 8 -> 1.445 baseline, 1.347 truncated BPTT, 1.724 hyper-connections.
    for name, expected in [("baseline", 1.445), ("truncated_bptt", 1.347), ("hyper_connections", 1.724)]:
        assert law.effective_params(4, 4, 4, name) / 8 == pytest.approx(expected, abs=2e-3)


def test_estimate_is_labelled_and_flags_extrapolation():
    inside = law.estimate(40e6, 50e6, 4, 5e9, "baseline", effective_layers=20)
    assert inside.quality_source == "scaling law (phi=0.459)"
    assert not inside.is_extrapolation
    outside = law.estimate(1e9, 0.5e9, 12, 5e9, "hyper_connections", effective_layers=30)
    assert outside.quality_source == "scaling law (phi=0.646)"
    assert len(outside.extrapolation) == 3


def test_accuracy_mapping_only_inside_its_range():
    assert law.accuracy_pct(2.5, looped=False) == pytest.approx(101.50 - 22.53 * 2.5)
    assert law.accuracy_pct(2.5, looped=True) - law.accuracy_pct(2.5, looped=False) == pytest.approx(1.2)
    assert law.accuracy_pct(3.2, looped=False) is None


def test_unknown_phi_is_a_clean_error():
    with pytest.raises(ConfigError, match="unknown variant 'fast'"):
        law.phi_value("fast")
