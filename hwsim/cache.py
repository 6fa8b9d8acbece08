"""The process-wide memo tables, in one place, each bounded and least-recently-used first out.

Specs are frozen pydantic models that hold lists and dicts, so they are not hashable. Work
derived from a spec (its JSON, its weight table) is remembered per spec *object*, keyed by its
id: the table holds the object itself next to the value, so the object cannot die and hand its
id to another spec while the entry exists. Work that must be shared between equal specs built separately
(a trace, keyed by the spec's JSON) is keyed by that text.

Tables (entries at most):
- `spec_text`: a spec's canonical JSON, per spec object (512);
- `per_spec`: any value derived from one spec object under a named kind (weight tables and
  sizes, layer shapes, the steps of one pass, a device's resolved datapath, compute-engine keys)
  (512);
- `traces` (hwsim.workload.trace_cache): built traces by model JSON and build arguments (256),
  kept as numpy columns, as DataFrames once asked for, and merged for the closed form (256 each);
- the engines' own (hwsim.cost.op_cost, hwsim.cost.closed_form, hwsim.sim.memory): a trace's
  columns, demands and residency plans (256 each), device-independent run sums (256, 512), and
  per kept device its op seconds and priced prefill and decode runs (512 each).
`clear()` empties every table (tests that count builds).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Hashable


class Memo:
    """A bounded LRU mapping from a hashable key to a value built on first use."""

    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        entries = self._entries
        try:
            value = entries[key]
        except KeyError:
            value = entries[key] = make()
            if len(entries) > self.max_entries:
                entries.popitem(last=False)
            return value
        entries.move_to_end(key)
        return value

    def clear(self) -> None:
        self._entries.clear()


class SpecMemo:
    """A bounded LRU memo keyed by (kind, spec object): holds the spec so its id stays its own."""

    def __init__(self, max_entries: int):
        self._memo = Memo(max_entries)

    def get(self, kind: str, spec: Any, make: Callable[[], Any]) -> Any:
        return self._memo.get((kind, id(spec)), lambda: (spec, make()))[1]

    def clear(self) -> None:
        self._memo.clear()


per_spec = SpecMemo(512)


def spec_text(spec: Any) -> str:
    """The spec's canonical JSON: equal for equal specs, whichever object holds them."""
    return per_spec.get("json", spec, spec.model_dump_json)


_all: list = [per_spec]


def register(memo) -> Any:
    """Add a table to those `clear()` empties; returns it."""
    _all.append(memo)
    return memo


def clear() -> None:
    for memo in _all:
        memo.clear()
