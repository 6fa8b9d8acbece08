"""Validity constraints of a sweep: one comparison each, over SimResult totals and literals.

A constraint is text like `fits == True` or `tpot_s <= 0.05`, parsed once (no eval) so a typo
fails before any work. Constraints over capacity totals only (`fits`, `memory_footprint_bytes`,
...) come out the same from the roofline engine as from the event simulation, so a point whose
roofline result breaks one is skipped (pruned) without running the DES.

Time constraints are not used for pruning: the roofline engine charges each op
max(compute, memory) + launch in sequence, while the DES overlaps one op's DRAM transfer with
the previous op's compute, so on overhead-dominated points the roofline figure exceeds the DES
one (e.g. a 2-layer looped model on edge-npu with 256 KiB SRAM: roofline tpot 131 us, DES
103 us) and is not a lower bound to prune with.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from typing import Any

from hwsim.result import TOTAL_KEYS

ENGINE_INDEPENDENT = frozenset({"fits", "memory_footprint_bytes", "memory_capacity_bytes",
                                "shortfall_bytes"})

_OPERATORS = {"<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
              "<": operator.lt, ">": operator.gt}
_PATTERN = re.compile(r"^\s*(?P<lhs>.+?)\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<rhs>.+?)\s*$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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
        """Whether the roofline engine's result decides this constraint exactly as the DES would."""
        return all(o.name in ENGINE_INDEPENDENT for o in (self.lhs, self.rhs) if o.name is not None)


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
        if token not in TOTAL_KEYS:
            raise ValueError(f"{text!r}: unknown total {token!r}; known: {', '.join(TOTAL_KEYS)}")
        return Operand(name=token)
    raise ValueError(f"{text!r}: cannot read {token!r} (a result total, number, True/False or 'text')")
