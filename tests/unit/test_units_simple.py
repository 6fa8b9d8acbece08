"""The pint-free reading of common quantity strings (units._parse_simple) must give pint's float
exactly, or decline (pint then reads the string)."""

import itertools
from pathlib import Path

import pytest
import yaml

from hwsim import units

ROOT = Path(__file__).resolve().parents[2]


def pint_value(text: str) -> float:
    return float(units._registry().Quantity(text.strip()).to_base_units().magnitude)


def shipped_strings() -> set[str]:
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, str):
            found.add(node)

    for path in [*ROOT.joinpath("configs").rglob("*.yaml"), *ROOT.joinpath("workloads").rglob("*.yaml")]:
        walk(yaml.safe_load(path.read_text()))
    return found


def test_every_shipped_quantity_reads_as_pint_reads_it():
    checked = 0
    for text, dimension in itertools.product(sorted(shipped_strings()), units.DIMENSIONS):
        value = units._parse_simple(text, dimension)
        if value is not None:
            assert value == pint_value(text), (text, dimension)
            checked += 1
    assert checked > 100     # the presets' sizes, rates, clocks and energies take the simple path


@pytest.mark.parametrize("number", ["1", "0.5", "1.2", "3.35", "68", "204.8", "1e3", ".7", "12.5e-1"])
@pytest.mark.parametrize("unit, dimension", [
    ("MiB", "bytes"), ("KB", "bytes"), ("Gb", "bytes"), ("GB/s", "bytes_per_s"), ("TB/s", "bytes_per_s"),
    ("ns", "s"), ("us", "s"), ("min", "s"), ("GHz", "hz"), ("mJ", "j"), ("W", "w"), ("mW", "w"),
    ("pJ/B", "j_per_byte"), ("fJ/bit", "j_per_byte"), ("TFLOP", "flops"), ("TFLOPS", "flops_per_s"),
    ("TFLOP/s", "flops_per_s"), ("POPS", "flops_per_s"), ("pJ/FLOP", "j_per_flop"), ("pJ/MAC", "j_per_flop")])
def test_simple_quantities_equal_pint(number, unit, dimension):
    text = f"{number} {unit}"
    assert units._parse_simple(text, dimension) == pint_value(text)


@pytest.mark.parametrize("text, dimension", [("68 GB", "bytes_per_s"), ("2 W/B", "j_per_byte"), ("4 bytes", "bytes"),
                                             ("-1 MB", "bytes"), ("1 2 GB", "bytes"), ("5", "bytes")])
def test_other_shapes_and_errors_are_left_to_pint(text, dimension):
    assert units._parse_simple(text, dimension) is None
