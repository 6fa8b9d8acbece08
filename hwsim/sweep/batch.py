"""Closed-form points of a sweep chunk priced together (hwsim.cost.closed_form.closed_form_batch).

Points that share a model and run settings read the same traces; their devices are priced in
one pass of array arithmetic, so a chunk costs a few array operations per trace plus the totals
of each point, instead of the whole closed form per point. Results are what `roofline_totals`
gives point by point (a test pins it). Engines other than the closed forms go to the per-point
evaluation unchanged.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable

from hwsim.cache import spec_text
from hwsim.sim.run import roofline_totals_batch

BOUND_OF = {"roofline": "op", "floor": "floor"}   # sweep engine name -> closed-form bound


class BatchEvaluator:
    """An `Evaluate` for one chunk: the first request of a closed-form engine prices every point
    of the chunk with it (grouped by model and run settings); later requests are lookups. A group
    that fails falls back to point by point, so only the failing points record the error."""

    def __init__(self, points: list, fallback: Callable[[Any, str], dict[str, Any]]):
        self.points, self.fallback = points, fallback
        self.done: dict[str, dict[int, dict[str, Any]]] = {}

    def __call__(self, point, engine: str) -> dict[str, Any]:
        if engine not in BOUND_OF:
            return self.fallback(point, engine)
        if engine not in self.done:
            self.done[engine] = self._price(engine)
        found = self.done[engine].get(point.index)
        return dict(found) if found is not None else self.fallback(point, engine)

    def _price(self, engine: str) -> dict[int, dict[str, Any]]:
        groups: dict[tuple, list] = defaultdict(list)
        for point in self.points:
            groups[(spec_text(point.model), point.run.phase, point.run.batch, point.run.prompt_len,
                    point.run.gen_len)].append(point)
        priced: dict[int, dict[str, Any]] = {}
        for members in groups.values():
            run = members[0].run
            try:
                totals = roofline_totals_batch(members[0].model, [p.hardware for p in members], phase=run.phase,
                                               prompt_len=run.prompt_len, gen_len=run.gen_len, batch=run.batch,
                                               bound=BOUND_OF[engine])
            except Exception:  # noqa: BLE001 - the per-point path records each point's own error
                continue
            priced.update((p.index, t) for p, t in zip(members, totals))
        return priced
