"""Derive a model variant (loop count, quantisation, KV policy) from a preset.

The CLI flags (`--loops`, `--quant`, `--kv-policy`) and sweep axes all go through here, so a
variant is always a validated ModelSpec.
"""

from __future__ import annotations

from hwsim.errors import ConfigError
from hwsim.spec.model import ModelSpec
from hwsim.spec.quant import QuantSpec, head_overrides, quant_preset

from hwsim.vocab import KV_POLICIES


def configure_model(model: ModelSpec, *, loops: int | None = None, quant: str | QuantSpec | None = None,
                    kv_policy: str | None = None, kv_last_k: int | None = None,
                    head_format: str | None = None) -> ModelSpec:
    """Return `model` with the given overrides applied and re-validated. `head_format` stores
    the LM head and embeddings in that format (after `quant`)."""
    data = model.model_dump(mode="python", by_alias=True)
    if loops is not None:
        if loops < 1:
            raise ConfigError(f"loops: must be >= 1, got {loops}")
        if not model.is_looped and loops != 1:
            raise ConfigError(f"loops: {model.name} has no loop to repeat (a standard model runs once)")
        data["loop"].update(count=loops, distribution=None, exit_policy=None)
    if quant is not None:
        if isinstance(quant, str):
            try:
                quant = quant_preset(quant)
            except ValueError as exc:
                raise ConfigError(f"quant: {exc}") from None
        data["quant"] = quant.model_dump(mode="python")
    if head_format is not None:
        try:
            data["quant"] = head_overrides(QuantSpec.model_validate(data["quant"]), head_format).model_dump(mode="python")
        except ValueError as exc:
            raise ConfigError(f"head_format: {exc}") from None
    if kv_policy is not None:
        if kv_policy.replace("-", "_") not in KV_POLICIES:
            raise ConfigError(f"kv_policy: unknown {kv_policy!r}; known: {', '.join(KV_POLICIES)}")
        data["loop"]["kv_policy"] = kv_policy.replace("-", "_")
    if kv_last_k is not None:
        data["loop"]["kv_last_k"] = kv_last_k
    from hwsim.spec.loader import validate

    return validate(ModelSpec, data, f"model {model.name}")
