"""Validity constraints of a sweep: one comparison each, over SimResult totals and literals.

A constraint is text like `fits == True`, `tpot_s <= 0.05` or `quality.gsm8k >= 72.86` (a
quality column of hwsim.quality: NaN when unmeasured or unknown, which never passes), parsed once (no eval) so a typo
fails before any work. Some constraints can be decided without the event simulation, from the
roofline floor (`roofline_totals(..., bound="floor")`), so a point that breaks one is skipped
(pruned) without running the DES:
- constraints over capacity totals only (`fits`, `memory_footprint_bytes`, ...), which the
  floor computes exactly as the DES does;
- a ceiling on a time (`latency_s`, `ttft_s`, `tpot_s` `<=`/`<` a number) or a minimum
  throughput (`tokens_per_s` `>=`/`>` a number): the floor is a true lower bound on the DES
  times under every residency policy (tests/sim/test_floor.py), so a floor that misses the
  limit proves the DES misses it too.
The per-op roofline estimate (engine "roofline") is no bound: the DES overlaps ops and reuses
on-chip data, so it can run below it.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from typing import Any

from hwsim.chip.budget import HARDWARE_TOTALS
from hwsim.quality import is_quality_key
from hwsim.result import TOTAL_KEYS

ENGINE_INDEPENDENT = frozenset({"fits", "memory_footprint_bytes", "memory_capacity_bytes",
                                "shortfall_bytes"})
# Totals the floor bounds: the DES takes at least the floor's time, so at most its tokens/s.
FLOOR_BELOW = frozenset({"latency_s", "ttft_s", "tpot_s"})
FLOOR_ABOVE = frozenset({"tokens_per_s"})
_MIRROR = {"<=": ">=", ">=": "<=", "<": ">", ">": "<", "==": "==", "!=": "!="}

_OPERATORS = {"<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
              "<": operator.lt, ">": operator.gt}
_PATTERN = re.compile(r"^\s*(?P<lhs>.+?)\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<rhs>.+?)\s*$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)?$")


@dataclass(frozen=True)
class Operand:
    """A totals key (`name`) or a literal value."""

    name: str | None = None
    value: Any = None

    def get(self, totals: dict[str, Any]) -> Any:
        return totals.get(self.name) if self.name is not None else self.value


@dataclass(frozen=True)
class Constraint:
    text: str
    lhs: Operand
    op: str
    rhs: Operand

    def holds(self, totals: dict[str, Any]) -> bool:
        """True when the comparison holds; a missing or NaN operand never satisfies it."""
        left, right = self.lhs.get(totals), self.rhs.get(totals)
        if _missing(left) or _missing(right):
            return False
        try:
            return bool(_OPERATORS[self.op](left, right))
        except TypeError:
            return False

    @property
    def prunable(self) -> bool:
        """Whether a roofline-floor result that breaks this constraint proves the DES breaks it
        (quality columns come from published scores and hardware budgets from the chip, not from
        the engine)."""
        names = [o.name for o in (self.lhs, self.rhs) if o.name is not None]
        if all(name in ENGINE_INDEPENDENT or name in HARDWARE_TOTALS or is_quality_key(name) for name in names):
            return True
        return floor_decides(*self.metric_first())

    def metric_first(self) -> tuple[str | None, str]:
        """(total, operator) with the total on the left (`0.05 >= tpot_s` is `tpot_s <= 0.05`);
        (None, op) unless exactly one side is a total and the other a number."""
        if self.lhs.name is not None and _is_number(self.rhs):
            return self.lhs.name, self.op
        if self.rhs.name is not None and _is_number(self.lhs):
            return self.rhs.name, _MIRROR[self.op]
        return None, self.op


def floor_decides(metric: str | None, op: str) -> bool:
    """Whether a floor figure of `metric` breaking `metric op limit` proves the DES breaks it:
    a ceiling on a time, or a minimum on tokens_per_s."""
    return (metric in FLOOR_BELOW and op in ("<", "<=")) or (metric in FLOOR_ABOVE and op in (">", ">="))


def _is_number(operand: Operand) -> bool:
    return operand.name is None and isinstance(operand.value, (int, float)) and not isinstance(operand.value, bool)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def parse_constraint(text: str) -> Constraint:
    """Parse `NAME OP VALUE` (either side may be a totals key); raise ValueError naming the problem."""
    match = _PATTERN.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"{text!r}: expected a comparison like 'tpot_s <= 0.05' or 'fits == True'")
    lhs, rhs = _operand(match["lhs"], text), _operand(match["rhs"], text)
    if lhs.name is None and rhs.name is None:
        raise ValueError(f"{text!r}: compares two literals; name a result total such as latency_s")
    return Constraint(text=text.strip(), lhs=lhs, op=match["op"], rhs=rhs)


def _operand(token: str, text: str) -> Operand:
    if token in ("True", "true"):
        return Operand(value=True)
    if token in ("False", "false"):
        return Operand(value=False)
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "'\"":
        return Operand(value=token[1:-1])
    for cast in (int, float):
        try:
            return Operand(value=cast(token))
        except ValueError:
            pass
    if _NAME.match(token):
        if token not in TOTAL_KEYS and token not in HARDWARE_TOTALS and not is_quality_key(token):
            from hwsim.resources import unknown_name

            raise ValueError(f"{text!r}: {unknown_name('total', token, TOTAL_KEYS + HARDWARE_TOTALS)} "
                             "(or quality.<benchmark>, e.g. quality.gsm8k, quality.avg)")
        return Operand(name=token)
    raise ValueError(f"{text!r}: cannot read {token!r} (a result total, number, True/False or 'text')")
