"""The project's vocabularies, defined once: spec fields type them, the CLI offers them as choices
and the engines check against them. No imports beyond typing, so every command can read them at
start-up."""

from __future__ import annotations

from typing import Literal, get_args

Engine = Literal["des", "roofline"]                       # event simulation, closed form
ResidencyPolicy = Literal["lru", "stream", "belady", "pin"]
KVPolicy = Literal["per_loop", "shared", "last_k", "exit_only", "first"]

ENGINES: tuple[str, ...] = get_args(Engine)
RESIDENCY_POLICIES: tuple[str, ...] = get_args(ResidencyPolicy)
KV_POLICIES: tuple[str, ...] = get_args(KVPolicy)
