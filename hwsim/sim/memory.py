"""On-chip SRAM residency: which weight tensors stay on chip between the ops that use them.

One engine, one `policy` argument:
- `stream`: nothing is kept between ops (what roofline tools assume);
- `lru`: evict the least recently used tensor;
- `belady`: evict the resident tensor whose next use is farthest (optimal for equal sizes), and
  bypass the incoming tensor when its own next use is farther than anything it would displace;
  the future is the trace's, repeated for the following tokens;
- `pin`: pin the loop block's weights (all weights of a model without a loop) in order of first
  use while they fit; stream the rest.
Granularity is a whole weight tensor: a tensor larger than the weight capacity streams through.

Activations of the running op get up to half of the SRAM (a double-buffered working set); the
weights get the rest. Both shares grow with the SRAM, but LRU's traffic can still rise with
capacity: a tensor larger than the weight share streams through without evicting anything, so
a cyclic working set can stay resident next to it; once the SRAM admits that tensor, it evicts
the cycle and LRU misses every weight (tests/sim/test_residency.py pins such a case, where
`belady` stays non-increasing).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

POLICIES = ("stream", "lru", "belady", "pin")
ACTIVATION_SHARE = 0.5   # most of the SRAM activations may take from weights


def activation_reserve(working_set_bytes: np.ndarray, sram_bytes: float) -> float:
    """SRAM bytes set aside for the activations of the running op."""
    largest = float(working_set_bytes.max()) if len(working_set_bytes) else 0.0
    return min(largest, ACTIVATION_SHARE * sram_bytes)


def activation_spill(act_in_bytes: np.ndarray, act_out_bytes: np.ndarray,
                     reserve_bytes: float) -> tuple[np.ndarray, np.ndarray]:
    """(read, write) DRAM bytes of activations that do not fit the reserve: the overflow of an
    op's working set round-trips through DRAM, split between its inputs and outputs."""
    working = act_in_bytes + act_out_bytes
    overflow = np.maximum(working - reserve_bytes, 0.0)
    share_in = np.divide(act_in_bytes, working, out=np.zeros_like(working), where=working > 0)
    return overflow * share_in, overflow * (1.0 - share_in)


def next_use_positions(weight_ids: list[str]) -> np.ndarray:
    """For each position, where the same weight is next used, treating the sequence as one
    period of a repeating pattern (the next token runs the same weights): a weight used once
    per period is next used one period later."""
    period = len(weight_ids)
    result = np.zeros(period, dtype=np.int64)
    upcoming: dict[str, int] = {}
    for i in range(2 * period - 1, -1, -1):
        wid = weight_ids[i % period]
        if i < period:
            result[i] = upcoming[wid] if wid else 0
        if wid:
            upcoming[wid] = i
    return result


class Residency:
    """The weight contents of the SRAM under one policy; remembers what was ever fetched so a
    DRAM load is classed as a first fetch or a re-fetch after eviction."""

    def __init__(self, capacity_bytes: float, policy: str, pinned: frozenset[str] = frozenset()):
        if policy not in POLICIES:
            raise ValueError(f"unknown residency policy {policy!r}; known: {', '.join(POLICIES)}")
        self.capacity_bytes = max(float(capacity_bytes), 0.0)
        self.policy = policy
        self.pinned = pinned
        self.resident: OrderedDict[str, float] = OrderedDict()   # id -> bytes (LRU order)
        self.next_use: dict[str, int] = {}                         # belady: id -> next position
        self.resident_bytes = 0.0
        self.peak_bytes = 0.0
        self.fetched: set[str] = set()

    def copy(self) -> "Residency":
        other = Residency(self.capacity_bytes, self.policy, self.pinned)
        other.resident = OrderedDict(self.resident)
        other.next_use = dict(self.next_use)
        other.resident_bytes, other.peak_bytes = self.resident_bytes, self.peak_bytes
        other.fetched = set(self.fetched)
        return other

    def resize(self, capacity_bytes: float, pinned: frozenset[str] = frozenset()) -> None:
        """Change the weight capacity (a phase with larger activations leaves less room):
        evict in residency order until the contents fit; `pin` drops what is no longer pinned."""
        self.capacity_bytes = max(float(capacity_bytes), 0.0)
        self.pinned = pinned
        for wid in list(self.resident):
            if self.resident_bytes <= self.capacity_bytes + 1e-9 and (self.policy != "pin" or wid in pinned):
                continue
            self.resident_bytes -= self.resident.pop(wid)
            self.next_use.pop(wid, None)

    def access(self, weight_id: str, size_bytes: float, next_use: int = 0) -> tuple[bool, bool]:
        """Serve one use of a weight: (hit, first_fetch). A miss loads it from DRAM; whether it
        then stays on chip is the policy's decision."""
        if weight_id in self.resident:
            if self.policy == "lru":
                self.resident.move_to_end(weight_id)
            self.next_use[weight_id] = next_use
            return True, False
        first = weight_id not in self.fetched
        self.fetched.add(weight_id)
        if self.policy != "stream" and size_bytes <= self.capacity_bytes and self._make_room(size_bytes, next_use, weight_id):
            self.resident[weight_id] = size_bytes
            self.next_use[weight_id] = next_use
            self.resident_bytes += size_bytes
            self.peak_bytes = max(self.peak_bytes, self.resident_bytes)
        return False, first

    def _make_room(self, size_bytes: float, next_use: int, weight_id: str) -> bool:
        """Evict per policy until `size_bytes` fit; False means the tensor streams instead."""
        need = self.resident_bytes + size_bytes - self.capacity_bytes
        if self.policy == "pin":
            return weight_id in self.pinned and need <= 1e-9
        if need <= 1e-9:
            return True
        if self.policy == "lru":
            victims = list(self.resident)
        else:  # belady: only tensors needed later than the incoming one are worth displacing
            victims = sorted((w for w in self.resident if self.next_use[w] > next_use),
                             key=self.next_use.__getitem__, reverse=True)
        chosen, freed = [], 0.0
        for victim in victims:
            if freed >= need - 1e-9:
                break
            chosen.append(victim)
            freed += self.resident[victim]
        if freed < need - 1e-9:
            return False
        for victim in chosen:
            self.resident_bytes -= self.resident.pop(victim)
            self.next_use.pop(victim, None)
        return True


def pinned_weights(weight_ids: list[str], sizes: list[float], in_loop: list[bool],
                   capacity_bytes: float) -> frozenset[str]:
    """Weights the `pin` policy keeps: the loop block's (every weight when nothing loops) in
    order of first use, while they fit."""
    loop_only = any(in_loop)
    chosen, used = [], 0.0
    seen: set[str] = set()
    for wid, size, looped in zip(weight_ids, sizes, in_loop):
        if not wid or wid in seen or (loop_only and not looped):
            continue
        seen.add(wid)
        if used + size <= capacity_bytes:
            chosen.append(wid)
            used += size
    return frozenset(chosen)
