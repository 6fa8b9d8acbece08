"""Shared pieces of the frozen specs: the base model and unit-carrying field types.

YAML writes a quantity as a string with a unit under a short key (`bandwidth: "68 GB/s"`);
Python reads it as a float in SI base units under a name that carries the unit
(`bandwidth_bytes_per_s`). The key is the field's alias, so validation errors name the key
the user wrote.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

from hwsim import units


class Spec(BaseModel):
    """Frozen, strict spec: unknown keys are errors, values cannot change after validation."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True,
                              validate_default=True)


def _quantity(dimension: str):
    def parse(value):
        if isinstance(value, bool):
            raise ValueError(f"expected a quantity like '{units.DIMENSIONS[dimension][2]}'")
        if isinstance(value, (int, float)):
            raise ValueError(f"{value!r} has no unit (write it like '{units.DIMENSIONS[dimension][2]}')")
        return units.parse(value, dimension)

    return Annotated[
        float,
        BeforeValidator(parse),
        PlainSerializer(lambda v: units.format_si(v, dimension), return_type=str),
    ]


Bytes = _quantity("bytes")
BytesPerS = _quantity("bytes_per_s")
Seconds = _quantity("s")
Hertz = _quantity("hz")
Watts = _quantity("w")
JoulesPerByte = _quantity("j_per_byte")
FlopsPerS = _quantity("flops_per_s")
JoulesPerFlop = _quantity("j_per_flop")
