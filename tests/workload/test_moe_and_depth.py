"""Expert routing counts and per-sequence loop depths, against hand-computed cases."""

import numpy as np
import pytest

from hwsim.errors import TraceError
from hwsim.spec.model import ExitPolicySpec, LoopSpec, MoESpec, RoutingSpec
from hwsim.workload.depth import depth_pmf, loop_depths
from hwsim.workload.moe import expert_token_counts, routing_probs, selection_probs


def moe(experts=64, k=8, **routing):
    return MoESpec(num_experts=experts, top_k=k, expert_intermediate_size=16,
                   routing=RoutingSpec(**routing) if routing else RoutingSpec())


def test_one_token_touches_exactly_top_k_experts_once():
    counts = expert_token_counts(moe(), 1)
    assert np.count_nonzero(counts) == 8 and counts.max() == 1


def test_distinct_experts_follow_the_expected_count():
    # uniform, E=64, k=8: q_e = 1/8; 4 tokens touch 64 * (1 - (7/8)^4) = 26.48 -> 26 experts
    counts = expert_token_counts(moe(), 4)
    assert np.count_nonzero(counts) == 26
    assert counts.sum() == 32 and counts.max() <= 4


def test_many_tokens_touch_every_expert_evenly():
    counts = expert_token_counts(moe(), 512)
    assert (counts == 64).all()


def test_skewed_routing_concentrates_on_the_first_experts():
    counts = expert_token_counts(moe(kind="skewed", skew=1.2), 64)
    assert counts.sum() == 64 * 8
    assert counts[0] == 64                     # q capped at 1: every token picks expert 0
    assert counts[0] >= counts[10] >= counts[-1]


def test_given_probs_with_zeros_never_route_there():
    probs = [0.5, 0.5, 0.0, 0.0]
    counts = expert_token_counts(moe(experts=4, k=1, kind="given", probs=probs), 10)
    assert counts.tolist() == [5, 5, 0, 0]


def test_selection_probs_sum_to_k_and_cap_at_one():
    q = selection_probs(routing_probs(moe(experts=8, k=4, kind="skewed", skew=2.0)), 4)
    assert q.sum() == pytest.approx(4.0)
    assert q.max() == pytest.approx(1.0)


def test_uniform_routing_rotates_over_decode_steps():
    spec = moe()
    first = np.flatnonzero(expert_token_counts(spec, 1, offset=0))
    second = np.flatnonzero(expert_token_counts(spec, 1, offset=8))
    assert first.tolist() == list(range(8)) and second.tolist() == list(range(8, 16))


def model_with_loop(**loop):
    from hwsim.spec import loader

    base = loader.load_model("ouro-1.4b")
    return base.model_copy(update={"loop": LoopSpec(**loop)})


def test_fixed_count_gives_that_depth():
    assert loop_depths(model_with_loop(count=4), 3) == [4, 4, 4]


def test_distribution_quantiles():
    # quantiles 0.125, 0.375, 0.625, 0.875 of P(1) = P(2) = 0.5
    assert loop_depths(model_with_loop(count=2, distribution=[0.5, 0.5]), 4) == [1, 1, 2, 2]
    # step s of 4 at batch 1 takes quantile (s + 0.5) / 4
    model = model_with_loop(count=4, distribution=[0.25, 0.25, 0.25, 0.25])
    assert [loop_depths(model, 1, s, 4)[0] for s in range(4)] == [1, 2, 3, 4]


def test_geometric_exit_policy_pmf():
    model = model_with_loop(count=3, exit_policy=ExitPolicySpec(kind="geometric", p=0.5))
    assert depth_pmf(model).tolist() == [0.5, 0.25, 0.25]
    late = model_with_loop(count=3, exit_policy=ExitPolicySpec(kind="geometric", p=0.5, min_count=2))
    assert depth_pmf(late).tolist() == [0.0, 0.5, 0.5]


def test_threshold_exit_policy_is_the_first_step_reaching_it():
    # cumulative exit probability: 0.2, then 0.2 + 0.8 * 0.5 = 0.6 >= 0.6 -> depth 2
    policy = ExitPolicySpec(kind="threshold", threshold=0.6, gate_probs=[0.2, 0.5, 0.5, 0.5])
    assert loop_depths(model_with_loop(count=4, exit_policy=policy), 2) == [2, 2]


def test_bad_step_is_a_trace_error():
    with pytest.raises(TraceError):
        loop_depths(model_with_loop(count=4), 1, token_step=3, num_steps=2)
