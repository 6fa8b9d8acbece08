"""The checks of `hwsim validate reference`, for every preset family at the tiny scale, plus
exit behaviour (Ouro gate, UT ACT halting, Huginn convergence) and KV policies."""

import numpy as np
import pytest

from hwsim.errors import ConfigError
from hwsim.reference.checks import (check_exit_distribution, check_kv_cache, check_loop_one, check_quantised,
                                    check_traces, loop_distribution, with_loop_distribution)
from hwsim.reference.compare import capture_trace, compare_traces
from hwsim.reference.executor import ReferenceExecutor
from hwsim.spec.variants import configure_model
from hwsim.workload import trace as T
from hwsim.workload.transformer import build_trace

from .conftest import PRESETS


@pytest.mark.parametrize("name", PRESETS)
def test_captured_trace_equals_built_trace(tiny, name):
    for result in check_traces(tiny(name)):
        assert result.ok, result.detail


@pytest.mark.parametrize("policy", ["per_loop", "shared"])
@pytest.mark.parametrize("name", ["ouro-1.4b", "huginn-0125"])
def test_kv_policies_trace_equal_and_write_policy_bytes(tiny, name, policy):
    model = configure_model(tiny(name), kv_policy=policy)
    captured = capture_trace(model, "decode", batch=2, context_len=5)
    assert compare_traces(captured, build_trace(model, "decode", 2, 5)).ok
    from hwsim.workload.weights import kv_bytes_per_token

    assert captured[T.KV_WRITE_BYTES].sum() == pytest.approx(2 * kv_bytes_per_token(model))


def test_comparison_catches_a_changed_row(tiny):
    model = tiny("llama-3.2-1b")
    built = build_trace(model, "decode", 1, 4)
    captured = capture_trace(model, "decode", 1, 4)
    captured.loc[5, T.FLOPS] += 2
    result = compare_traces(captured, built)
    assert not result.ok and "flops" in result.mismatches[0]


@pytest.mark.parametrize("name", PRESETS)
def test_kv_cached_decode_equals_recomputation(tiny, name):
    result = check_kv_cache(tiny(name))
    assert result.ok is not False, result.detail
    assert (result.ok is None) == (name in ("trm", "hrm", "albert-base"))


def test_looped_at_one_iteration_equals_the_standard_model(tiny):
    result = check_loop_one(tiny("ouro-1.4b"))
    assert result.ok, result.detail


@pytest.mark.parametrize("name", ["llama-3.2-1b", "olmoe-1b-7b", "huginn-0125", "trm"])
def test_quantised_logits_within_predicted_rounding_error(tiny, name):
    results = check_quantised(tiny(name))
    assert all(r.ok for r in results), [r.detail for r in results]


def test_ouro_exit_probabilities_follow_the_gate_rule(tiny):
    model = tiny("ouro-1.4b")
    executor = ReferenceExecutor(model)
    executor.prefill(np.arange(6)[None])
    probs = executor.exit_stats.exit_probs
    assert probs.shape == (1, 6, model.loop.count)
    assert np.allclose(probs.sum(axis=-1), 1.0, atol=1e-6) and (probs >= 0).all()
    result = check_exit_distribution(model)
    assert result.ok, result.detail


def test_exit_statistics_feed_the_trace_builder(tiny):
    model = tiny("ouro-1.4b")
    executor = ReferenceExecutor(model)
    executor.prefill(np.arange(8)[None])
    distribution = loop_distribution(executor.exit_stats)
    variant = with_loop_distribution(model, distribution)
    depths = [int(build_trace(variant, "decode", 1, 4, token_step=s, num_steps=20)[T.LOOP_ITER].max()) + 1
              for s in range(20)]
    expected = np.round(np.cumsum(distribution) * 20)
    assert [sum(d <= t for d in depths) for t in (1, 2, 3)] == pytest.approx(expected, abs=1)


def test_act_halting_weights_sum_to_one_and_stop_at_threshold(tiny):
    model = tiny("ouro-1.4b")          # a Universal Transformer: shared stack + halting unit
    executor = ReferenceExecutor(model, halting="act")
    logits = executor.prefill(np.arange(6)[None])
    stats = executor.exit_stats
    assert np.allclose(stats.exit_probs.sum(axis=-1), 1.0, atol=1e-6)
    for token in range(6):
        halt = stats.exit_iter[0, token]
        assert (stats.exit_probs[0, token, halt:] == 0).all()
    assert not np.allclose(logits, ReferenceExecutor(model).prefill(np.arange(6)[None]))


def test_huginn_convergence_exit_stops_the_loop_and_the_trace_shows_it(tiny):
    model = configure_model(tiny("huginn-0125"), kv_policy="shared", loops=3)
    executor = ReferenceExecutor(model, exit_threshold=10.0)   # any change counts as converged
    captured = capture_trace(model, "decode", 1, 4, executor=executor)
    assert (executor.exit_stats.exit_iter == 2).all()          # iteration 2 is the first with a previous state
    assert captured[T.LOOP_ITER].max() == 1
    assert compare_traces(captured, build_trace(model, "decode", 1, 4, loops=2)).ok
    assert loop_distribution(executor.exit_stats) == [0.0, 1.0, 0.0]


def test_convergence_exit_with_per_loop_kv_is_refused(tiny):
    with pytest.raises(ConfigError, match="convergence exit"):
        ReferenceExecutor(tiny("huginn-0125"), exit_threshold=0.1)


def test_unsupported_kv_policy_is_refused(tiny):
    with pytest.raises(ConfigError, match="kv_policy last_k"):
        ReferenceExecutor(configure_model(tiny("ouro-1.4b"), kv_policy="last_k"))
