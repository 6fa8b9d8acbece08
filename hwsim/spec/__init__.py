"""Frozen input specs (model, hardware, quantisation) and their strict loader."""

from hwsim.spec.hardware import HardwareSpec
from hwsim.spec.model import ModelSpec
from hwsim.spec.quant import QuantSpec

__all__ = ["HardwareSpec", "ModelSpec", "QuantSpec"]
