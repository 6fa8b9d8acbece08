"""Strict parsing of quantity strings, unit constants, and the one bits-to-bytes conversion.

Inside hwsim every quantity is a float in SI base units (bytes, seconds, joules, watts, FLOPs),
with the unit in the variable name. Config files write quantities as strings ("68 GB/s",
"4 MiB", "1.2 pJ/B"); `parse` turns them into base units and checks their dimension, so a size
where a rate belongs is an error, never a silently wrong number.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

from hwsim.errors import ConfigError

if TYPE_CHECKING:
    import pint

KB, MB, GB, TB = 1e3, 1e6, 1e9, 1e12
KiB, MiB, GiB = 2.0**10, 2.0**20, 2.0**30
NS, US, MS = 1e-9, 1e-6, 1e-3
PJ, NJ = 1e-12, 1e-9
GHZ = 1e9
TFLOPS = 1e12

# name -> (pint dimensionality, base unit written back in messages, example)
DIMENSIONS: dict[str, tuple[str, str, str]] = {
    "bytes": ("[information]", "B", "4 MiB"),
    "bytes_per_s": ("[information] / [time]", "B/s", "68 GB/s"),
    "s": ("[time]", "s", "2 us"),
    "hz": ("1 / [time]", "Hz", "1.5 GHz"),
    "j": ("[energy]", "J", "3 mJ"),
    "w": ("[energy] / [time]", "W", "15 W"),
    "j_per_byte": ("[energy] / [information]", "J/B", "1.2 pJ/B"),
    "flops": ("[compute]", "FLOP", "2 GFLOP"),
    "flops_per_s": ("[compute] / [time]", "FLOP/s", "20 TFLOP/s"),
    "j_per_flop": ("[energy] / [compute]", "J/FLOP", "0.5 pJ/FLOP"),
}

# Human names of dimensions, so a message says "a size" rather than "[information]".
_DIMENSION_NAMES = {
    "[information]": "a size",
    "[information] / [time]": "a data rate",
    "[time]": "a time",
    "1 / [time]": "a frequency",
    "[energy]": "an energy",
    "[energy] / [time]": "a power",
    "[energy] / [information]": "an energy per byte",
    "[compute]": "an operation count",
    "[compute] / [time]": "a compute rate",
    "[energy] / [compute]": "an energy per operation",
    "dimensionless": "a bare number",
}


@lru_cache(maxsize=1)
def _registry() -> pint.UnitRegistry:
    import pint

    registry = pint.UnitRegistry(None)
    definitions = resources.files("hwsim").joinpath("unit_definitions.txt")
    with resources.as_file(definitions) as path:
        registry.load_definitions(str(path))
    return registry


def _dimension_name(dimensionality) -> str:
    text = str(dimensionality)
    return _DIMENSION_NAMES.get(text, text)


# One number, then a unit expression without digits. pint alone would also read "1 2 GB/s" as
# 2 GB/s (implicit product), "GB/s" as 1 GB/s, and evaluate expressions such as "9**9 B".
_QUANTITY_SHAPE = re.compile(
    r"\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf)(?:\s*[^\d\s.+-][^\d]*)?", re.IGNORECASE)


def parse(text: str, dimension: str) -> float:
    """Parse `text` (e.g. "68 GB/s") as a quantity of `dimension` (a DIMENSIONS key) in SI base
    units. Raises ValueError with a one-line message on garbage, a missing unit, a wrong
    dimension, or a negative or non-finite value."""
    example = DIMENSIONS[dimension][2]
    if not isinstance(text, str):  # checked before the cache, which cannot hash lists or dicts
        raise ValueError(f"expected a quantity string with a unit like '{example}', got {text!r}")
    return _parse(text, dimension)


# The common shape, a number and a (prefixed) unit, optionally over another ("68 GB/s", "4 MiB",
# "1.2 pJ/B"), is read with the tables below, built from the same definitions as
# unit_definitions.txt; everything else, and every error, goes to pint, whose import is most of a
# short command's time. A test checks the two agree on every quantity the shipped presets write.
_PREFIXES = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "m": 1e-3, "u": 1e-6,
             "µ": 1e-6, "μ": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15, "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30,
             "Ti": 2.0**40}
_UNITS = {"B": (1.0, "[information]"), "byte": (1.0, "[information]"), "b": (0.125, "[information]"),
          "bit": (0.125, "[information]"), "s": (1.0, "[time]"), "sec": (1.0, "[time]"), "second": (1.0, "[time]"),
          "min": (60.0, "[time]"), "h": (3600.0, "[time]"), "hour": (3600.0, "[time]"), "J": (1.0, "[energy]"),
          "joule": (1.0, "[energy]"), "flop": (1.0, "[compute]"), "FLOP": (1.0, "[compute]"),
          "op": (1.0, "[compute]"), "OP": (1.0, "[compute]"), "MAC": (2.0, "[compute]")}
_PER_SECOND = {"Hz": (1.0, "1"), "hertz": (1.0, "1"), "W": (1.0, "[energy]"), "watt": (1.0, "[energy]"),
               "FLOPS": (1.0, "[compute]"), "OPS": (1.0, "[compute]")}
_SIMPLE_QUANTITY = re.compile(r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([^\W\d_]+)(?:\s*/\s*([^\W\d_]+))?\s*")


def _unit(name: str) -> tuple[float, str, str] | None:
    """(factor to base units, numerator, denominator dimension) of a prefixed unit, or None."""
    for cut in (0, 1, 2):
        prefix, unit = name[:cut], name[cut:]
        if prefix in _PREFIXES and unit in _UNITS:
            return _PREFIXES[prefix] * _UNITS[unit][0], _UNITS[unit][1], "1"
        if prefix in _PREFIXES and unit in _PER_SECOND:
            return _PREFIXES[prefix] * _PER_SECOND[unit][0], _PER_SECOND[unit][1], "[time]"
    return None


def _parse_simple(text: str, dimension: str) -> float | None:
    """`text` in base units when it has the common shape and the expected dimension, else None."""
    match = _SIMPLE_QUANTITY.fullmatch(text)
    if match is None:
        return None
    number, top, bottom = match.groups()
    top = _unit(top)
    bottom = _unit(bottom) if bottom else (1.0, "1", "1")
    if top is None or bottom is None or top[2] != "1" and bottom[1] != "1":
        return None
    numerator, denominator = top[1], top[2] if top[2] != "1" else bottom[1]
    if bottom[2] != "1":          # over a per-second unit: seconds move to the top
        return None
    written = numerator if denominator == "1" else f"{numerator} / {denominator}"
    value = float(number) * (top[0] / bottom[0])
    if written != DIMENSIONS[dimension][0] or not math.isfinite(value) or value < 0:
        return None
    return value


@lru_cache(maxsize=4096)
def _parse(text: str, dimension: str) -> float:
    expected, base_unit, example = DIMENSIONS[dimension]
    simple = _parse_simple(text, dimension)
    if simple is not None:
        return simple
    if not _QUANTITY_SHAPE.fullmatch(text):
        raise ValueError(f"cannot parse {text!r} as a number followed by a unit (write it like '{example}')")
    import pint

    registry = _registry()
    try:
        quantity = registry.Quantity(text.strip())
    except Exception:  # pint raises several unrelated types for garbage; all mean "unparsable"
        raise ValueError(f"cannot parse {text!r} as a quantity (write it like '{example}')") from None
    if not isinstance(quantity, pint.Quantity):
        raise ValueError(f"{text!r} has no unit (write it like '{example}')")
    if quantity.dimensionality == registry.Quantity(1, "dimensionless").dimensionality:
        raise ValueError(f"{text!r} has no unit (write it like '{example}')")
    if str(quantity.dimensionality) != expected:
        raise ValueError(
            f"{text!r} is {_dimension_name(quantity.dimensionality)}, expected "
            f"{_dimension_name(expected)} like '{example}'"
        )
    value = float(quantity.to_base_units().magnitude)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{text!r} must be a finite, non-negative quantity")
    return value


def parse_config(text: str, dimension: str, source: str, field: str) -> float:
    """`parse`, re-raised as a ConfigError naming the file and field."""
    try:
        return parse(text, dimension)
    except ValueError as exc:
        raise ConfigError(f"{source}: {field}: {exc}") from None


def format_si(value: float, dimension: str) -> str:
    """Write a base-unit value back as a string that `parse` reads to the same float."""
    return f"{value!r} {DIMENSIONS[dimension][1]}"


def bytes_for(num_elements: float, bits: float) -> float:
    """Bytes taken by `num_elements` values stored at `bits` bits each (effective bits, so
    4-bit packing and group-scale overhead are already in `bits`). The only place bits become
    bytes."""
    return num_elements * bits / 8.0


_DISPLAY_PREFIXES = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""),
                     (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p")]
# Counted things take no prefix below one ("0.99 tok/s", not "987 mtok/s"); a fraction of a byte or
# FLOP is rounding noise of a sum and reads as 0.
_NO_SUBUNIT = ("B", "FLOP", "tok", "B/s", "FLOP/s", "OP/s", "tok/s")
_WHOLE = ("B", "FLOP")
# Times beyond a minute read in the units a person uses for them.
_LONG_TIMES = [(365.25 * 86400, "years"), (86400, "days"), (3600, "h"), (60, "min")]


def human(value: float, unit: str, digits: int = 3) -> str:
    """Display form for CLI tables and reports only: 6.8e10, 'B/s' -> '68 GB/s'; 0.987, 'tok/s'
    -> '0.987 tok/s'; 7.2e6, 's' -> '83.3 days'."""
    if not math.isfinite(value):
        return f"{value:g} {unit}"
    magnitude = abs(value)
    if value == 0 or (unit in _WHOLE and magnitude < 0.5):
        return f"0 {unit}"
    if unit == "s" and magnitude >= 60:
        factor, name = next((f, n) for f, n in _LONG_TIMES if magnitude >= f * 0.9995)
        return f"{value / factor:.{digits}g} {name}"
    for factor, prefix in _DISPLAY_PREFIXES:
        if unit in _NO_SUBUNIT and factor < 1:
            break
        if magnitude >= factor * 0.9995:
            return f"{value / factor:.{digits}g} {prefix}{unit}"
    return f"{value:.{digits}g} {unit}"


def human_rate(rate_per_s: float, dtype: str) -> str:
    """A compute peak for display: integer formats count operations (OP/s, "50 TOP/s"), the
    others floating-point operations (FLOP/s)."""
    return human(rate_per_s, "OP/s" if dtype.startswith("int") else "FLOP/s")
