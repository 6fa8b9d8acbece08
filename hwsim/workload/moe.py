"""How many tokens each MoE expert receives in one layer application, without sampling.

Routing is a distribution p_e over experts (uniform, Zipf-skewed with exponent `skew`, or given).
A token picks `top_k` distinct experts, so the chance that it picks expert e is taken as
q_e = min(1, k * p_e) with the capped mass spread over the other experts (sum q_e = k). Over
`tokens` tokens the expected number of distinct experts touched is sum_e 1 - (1 - q_e)^tokens;
that many of the most likely experts are touched, and the tokens x top_k assignments are split
among them in proportion to q_e (integers, each between 1 and `tokens`). One token therefore
touches exactly top_k experts, and expert FLOPs scale with top_k, not with the expert count.
Equally likely experts are taken in a rotating order starting at `offset` (the trace builder
advances it by the assignments of each decode step), so uniform routing spreads successive decode
steps over all experts instead of hitting the same few every step.
"""

from __future__ import annotations

import numpy as np

from hwsim.spec.model import MoESpec


def routing_probs(moe: MoESpec) -> np.ndarray:
    """p_e: the share of routing assignments each expert receives."""
    routing, count = moe.routing, moe.num_experts
    if routing.kind == "given":
        probs = np.asarray(routing.probs, dtype=float)
    elif routing.kind == "skewed":
        probs = 1.0 / np.arange(1, count + 1, dtype=float) ** routing.skew
    else:
        probs = np.ones(count)
    return probs / probs.sum()


def selection_probs(probs: np.ndarray, top_k: int) -> np.ndarray:
    """q_e = P(expert e is among one token's top_k): k * p_e capped at 1, the excess
    redistributed in proportion over the uncapped experts (water-filling), so sum q_e = k."""
    q = np.zeros_like(probs)
    capped = np.zeros(len(probs), dtype=bool)
    while True:
        free = ~capped & (probs > 0)
        budget = top_k - capped.sum()
        q[free] = budget * probs[free] / probs[free].sum() if free.any() else 0.0
        q[capped] = 1.0
        over = free & (q > 1.0)
        if not over.any():
            return q
        capped |= over


def expert_token_counts(moe: MoESpec, tokens: int, offset: int = 0) -> np.ndarray:
    """Tokens routed to each expert (length num_experts; zeros for untouched experts); the
    counts sum to tokens x top_k. Ties in q_e go to experts offset, offset+1, ... (mod E)."""
    counts = np.zeros(moe.num_experts, dtype=np.int64)
    if tokens <= 0:
        return counts
    k = moe.top_k
    q = selection_probs(routing_probs(moe), k)
    expected = float(np.sum(1.0 - (1.0 - q) ** tokens))
    reachable = int(np.count_nonzero(q))
    distinct = int(min(max(round(expected), k), reachable, tokens * k))
    rotation = (np.arange(moe.num_experts) - offset) % moe.num_experts
    touched = np.lexsort((rotation, -np.round(q, 12)))[:distinct]
    assignments = tokens * k
    share = q[touched] / q[touched].sum() * assignments
    chosen = np.clip(np.floor(share).astype(np.int64), 1, tokens)
    # Largest remainder, respecting 1 <= count <= tokens (one token picks an expert at most once).
    remainder = share - np.floor(share)
    order = np.argsort(-remainder, kind="stable")
    while chosen.sum() < assignments:
        for i in order:
            if chosen.sum() == assignments:
                break
            if chosen[i] < tokens:
                chosen[i] += 1
    while chosen.sum() > assignments:
        chosen[int(np.argmax(chosen))] -= 1
    counts[touched] = chosen
    return counts
