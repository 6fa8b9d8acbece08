"""Traces captured from real model code: a Hugging Face transformers model built from its
config on PyTorch's meta device (no weights, no network) and run under a function-level
recorder, for one prefill and one cached decode step.

Two uses: an independent check of `build_trace` (`hwsim validate capture`: the model code, not
the project's schedule, decides which weights run how often) and an import path for decoder
architectures without a hwsim schedule (`hwsim trace --from-hf config.json --capture`).
torch and transformers are the optional `capture` extra; `require()` names it when missing.
"""

from __future__ import annotations

from hwsim.errors import ConfigError

EXTRA_HINT = "install the capture extra: pip install torch==2.13.0 -e '.[capture]'"


def require():
    """(torch, transformers), or one clean error naming the extra to install."""
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise ConfigError(f"capture needs PyTorch and Hugging Face transformers ({exc.name} is missing); "
                          f"{EXTRA_HINT}") from None
    return torch, transformers


def available() -> bool:
    try:
        require()
    except ConfigError:
        return False
    return True
