"""On-chip SRAM residency: which weight tensors stay on chip between the ops that use them.

One engine, one `policy` argument:
- `stream`: nothing is kept between ops (what roofline tools assume);
- `lru`: least recently used at line granularity. A tensor streams through the SRAM line by line
  in order, so every line of it has the same LRU stack distance: the bytes of the distinct other
  tensors used since its last use plus its own size. A use hits when that fits the weight
  capacity (and misses whole otherwise). LRU is a stack algorithm: what a smaller SRAM holds, a
  larger one holds too, so traffic never rises with capacity (no admission bypass);
- `belady`: evict the resident tensor whose next use is farthest (optimal for equal sizes), and
  bypass the incoming tensor when its own next use is farther than anything it would displace;
  the future is the trace's, repeated for the following tokens;
- `pin`: pin the hottest weights (most uses per step; the LM head and a tied embedding like any
  other) while they fit; stream the rest.
Belady and pin decide per whole tensor: one larger than the weight capacity streams through.

Activations of the running op get up to half of the SRAM (a double-buffered working set); the
weights get the rest: capacity - min(working set, capacity / 2), which grows with the SRAM.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pandas as pd

from hwsim import cache
from hwsim.cost import datapath
from hwsim.vocab import RESIDENCY_POLICIES
from hwsim.workload import trace as T

POLICIES = RESIDENCY_POLICIES


def activation_reserve(working_set_bytes: np.ndarray, sram_bytes: float) -> float:
    """SRAM bytes set aside for the activations of the running op."""
    largest = float(working_set_bytes.max()) if len(working_set_bytes) else 0.0
    return min(largest, datapath.ACTIVATION_SHARE * sram_bytes)


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


class _StackSums:
    """Sizes of tensors at their last-use stamps, with sums over stamps after a given one
    (a Fenwick tree; stamps are re-ranked when the tree is full)."""

    def __init__(self, size: int = 1024):
        self.tree = np.zeros(size + 1)
        self.stamp: dict[str, int] = {}
        self.bytes: dict[str, float] = {}
        self.next = 1

    def _add(self, index: int, value: float) -> None:
        while index < len(self.tree):
            self.tree[index] += value
            index += index & -index

    def _prefix(self, index: int) -> float:
        total = 0.0
        while index > 0:
            total += self.tree[index]
            index -= index & -index
        return total

    def more_recent_bytes(self, wid: str) -> float:
        """Bytes of the distinct tensors used since `wid`'s last use."""
        return self._prefix(self.next - 1) - self._prefix(self.stamp[wid])

    def remove(self, wid: str) -> None:
        self._add(self.stamp.pop(wid), -self.bytes.pop(wid))

    def touch(self, wid: str, size_bytes: float) -> None:
        """Move `wid` to the top of the stack."""
        if wid in self.stamp:
            self.remove(wid)
        if self.next >= len(self.tree):
            self._rerank()
        self.stamp[wid], self.bytes[wid] = self.next, size_bytes
        self._add(self.next, size_bytes)
        self.next += 1

    def _rerank(self) -> None:
        order = sorted(self.stamp, key=self.stamp.__getitem__)
        sizes = [self.bytes[w] for w in order]
        self.tree = np.zeros(max(1024, 2 * len(order) + 2))
        self.stamp, self.bytes, self.next = {}, {}, 1
        for wid, size in zip(order, sizes):
            self.touch(wid, size)

    def top_bytes(self, capacity_bytes: float) -> tuple[list[str], float]:
        """(tensors within `capacity_bytes` of the top of the stack, their bytes)."""
        kept, used = [], 0.0
        for wid in sorted(self.stamp, key=self.stamp.__getitem__, reverse=True):
            if used + self.bytes[wid] > capacity_bytes + 1e-9:
                break
            kept.append(wid)
            used += self.bytes[wid]
        return kept, used


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
        self.stack = _StackSums()                                  # lru: the LRU stack

    def resize(self, capacity_bytes: float, pinned: frozenset[str] = frozenset()) -> None:
        """Change the weight capacity (a phase with larger activations leaves less room):
        evict in residency order until the contents fit; `pin` drops what is no longer pinned."""
        self.capacity_bytes = max(float(capacity_bytes), 0.0)
        self.pinned = pinned
        if self.policy == "lru":   # what no longer fits is evicted: it misses at any later capacity
            kept, self.resident_bytes = self.stack.top_bytes(self.capacity_bytes)
            for wid in set(self.stack.stamp) - set(kept):
                self.stack.remove(wid)
            return
        for wid in list(self.resident):
            if self.resident_bytes <= self.capacity_bytes + 1e-9 and (self.policy != "pin" or wid in pinned):
                continue
            self.resident_bytes -= self.resident.pop(wid)
            self.next_use.pop(wid, None)

    def access(self, weight_id: str, size_bytes: float, next_use: int = 0) -> tuple[bool, bool]:
        """Serve one use of a weight: (hit, first_fetch). A miss loads it from DRAM; whether it
        then stays on chip is the policy's decision."""
        if self.policy == "lru":
            return self._access_lru(weight_id, size_bytes)
        if weight_id in self.resident:
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

    def _access_lru(self, weight_id: str, size_bytes: float) -> tuple[bool, bool]:
        """A hit when the tensor's LRU stack distance (bytes used since, plus its own) fits."""
        stack = self.stack
        hit = weight_id in stack.stamp and stack.more_recent_bytes(weight_id) + size_bytes <= self.capacity_bytes + 1e-9
        first = weight_id not in self.fetched
        self.fetched.add(weight_id)
        stack.touch(weight_id, size_bytes)
        if size_bytes <= self.capacity_bytes:
            self.resident_bytes = min(self.capacity_bytes, self.resident_bytes + (0.0 if hit else size_bytes))
            self.peak_bytes = max(self.peak_bytes, self.resident_bytes)
        return hit, first

    def _make_room(self, size_bytes: float, next_use: int, weight_id: str) -> bool:
        """Evict per policy until `size_bytes` fit; False means the tensor streams instead."""
        need = self.resident_bytes + size_bytes - self.capacity_bytes
        if self.policy == "pin":
            return weight_id in self.pinned and need <= 1e-9
        if need <= 1e-9:
            return True
        # belady: only tensors needed later than the incoming one are worth displacing
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


def pinned_weights(weight_ids: list[str], sizes: list[float], capacity_bytes: float) -> frozenset[str]:
    """Tensors (weights and KV caches, see `access_sequence`) the `pin` policy keeps: the hottest
    first (most uses in the trace, so the bytes a pinned byte saves; ties in order of first use),
    each one that still fits. The LM head and a tied embedding compete like any other tensor."""
    uses: dict[str, int] = {}
    size_of: dict[str, float] = {}
    for wid, size in zip(weight_ids, sizes):
        if wid:
            uses[wid] = uses.get(wid, 0) + 1
            size_of.setdefault(wid, size)
    chosen, used = [], 0.0
    for wid in sorted(uses, key=lambda w: -uses[w]):   # stable: first use breaks ties
        if used + size_of[wid] <= capacity_bytes:
            chosen.append(wid)
            used += size_of[wid]
    return frozenset(chosen)


# -- fused attention: the score matrix stays in on-chip tiles ----------------------------------

def fused_attention_fits(trace, hardware, sram_bytes: float) -> bool:
    """Whether the trace's attention runs as one tiled kernel whose block fits the activation
    share of the SRAM (hwsim.cost.datapath.fused_attention_fits)."""
    return datapath.fused_attention_fits(*datapath.attention_shape(trace), hardware, sram_bytes)


def onchip_activations(trace, demand, hardware, sram_bytes: float) -> tuple[np.ndarray, np.ndarray]:
    """(in, out) activation bytes of each op's working set. With fused attention whose tile
    fits, the score matrix never leaves the tiles, so it is neither a working set nor a spill;
    otherwise every op's activations as the trace gives them. `demand` (op_cost.trace_demand of
    the trace) carries the score bytes and the attention's shape."""
    act_in, act_out = np.asarray(trace[T.ACT_IN_BYTES], dtype=float), np.asarray(trace[T.ACT_OUT_BYTES], dtype=float)
    if not demand.fused_attention(hardware, sram_bytes):
        return act_in, act_out
    return act_in - demand.score_read_bytes, act_out - demand.score_write_bytes


# -- KV placement: a cache read is an access like a weight's -----------------------------------

# Loop KV policies under which every iteration of a looped layer reads one cache.
ONE_CACHE_PER_LAYER = ("shared", "exit_only")


def kv_ids(trace: pd.DataFrame, kv_policy: str = "per_loop") -> list[str]:
    """Per op, the KV cache it reads that the residency policy may keep on chip ("" for none):
    a looped layer's one cache when the loop shares it (every iteration of the step reads it
    again). A cache read once per step (outside the loop, or one per iteration) streams from
    DRAM, where it lives, as before."""
    if kv_policy not in ONE_CACHE_PER_LAYER:
        return [""] * len(trace[T.WEIGHT_ID])
    reads = (np.asarray(trace[T.KV_READ_BYTES], dtype=float) > 0) & (np.asarray(trace[T.LOOP_ITER]) >= 0)
    return [f"kv.L{layer}" if read else "" for read, layer in zip(reads, np.asarray(trace[T.LAYER]))]


def access_sequence(trace: pd.DataFrame, kv_policy: str = "per_loop") -> tuple[list[str], list[float]]:
    """What each op asks of the SRAM, in order: its weight, then the KV cache it reads (ids
    interleaved, length 2 x ops; "" where an op has none), with their sizes."""
    return access_plan(trace, kv_policy)[:2]


_plans = cache.register(cache.SpecMemo(256))


def access_plan(trace, kv_policy: str = "per_loop") -> tuple[list[str], list[float], np.ndarray]:
    """`access_sequence` and each access's next-use position (belady's future), kept per trace
    object and KV policy (hwsim.cache): a decode simulation serves the same cached trace at every
    sampled step and policy run."""
    def make() -> tuple[list[str], list[float], np.ndarray]:
        weight_ids, caches = list(trace[T.WEIGHT_ID]), kv_ids(trace, kv_policy)
        ids = [x for pair in zip(weight_ids, caches) for x in pair]
        sizes = np.column_stack([np.asarray(trace[T.WEIGHT_BYTES], dtype=float),
                                 np.asarray(trace[T.KV_READ_BYTES], dtype=float)]).ravel()
        return ids, sizes.tolist(), next_use_positions(ids)
    return _plans.get(f"access:{kv_policy}", trace, make)


def serve_accesses(residency: Residency, ids: list[str], sizes: list[float], next_use: np.ndarray,
                   position: int) -> tuple[np.ndarray, np.ndarray]:
    """Run an access sequence through `residency`: (hit, first fetch) per access; `next_use`
    (next_use_positions) is counted from the sequence's start, `position` on belady's clock."""
    upcoming = next_use + position
    hit, first = np.zeros(len(ids), dtype=bool), np.zeros(len(ids), dtype=bool)
    for i, key in enumerate(ids):
        if key:
            hit[i], first[i] = residency.access(key, sizes[i], int(upcoming[i]))
    return hit, first
