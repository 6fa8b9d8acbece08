"""Flatten a model's schedule into the ordered steps one token (or one forward) executes.

This is the single definition of loop semantics: which physical layer runs when, in which
iteration of the `loop` repeat, and where Huginn's adapter, TRM's state addition, Ouro's exit
gate and per-iteration norm and a schedule-level final norm (Huginn's ln_f before the coda)
sit. The trace builder, the parameter counts and the reference executor all walk these steps,
so they cannot disagree about what a loop means.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from hwsim import cache
from hwsim.spec.model import FINAL_NORM, ModelSpec, RepeatSpec

StepKind = Literal["layer", "inject", "exit_gate", "loop_norm", "final_norm", "hyper_connection"]


class Step(NamedTuple):
    """One step of a pass (a NamedTuple, not a frozen dataclass: every trace build expands the
    schedule, and a tuple is several times cheaper to make)."""

    kind: StepKind
    block: str | None   # block name for layer steps
    layer: int          # global physical layer index (-1 for non-layer steps)
    loop_iter: int      # iteration of the `loop` repeat (0-based); -1 outside it
    inject: str = ""    # "adapter" or "add" for inject steps
    repeat: int = 1     # iterations this step stands for (expand's `runs`); 1 outside the loop


def block_offsets(model: ModelSpec) -> dict[str, int]:
    """Global index of each block's first physical layer (blocks in declaration order)."""
    offsets, start = {}, 0
    for block in model.blocks:
        offsets[block.name] = start
        start += block.num_layers
    return offsets


def num_physical_layers(model: ModelSpec) -> int:
    return sum(b.num_layers for b in model.blocks)


def expand(model: ModelSpec, loop_count: int | None = None,
           runs: list[tuple[int, int]] | None = None) -> list[Step]:
    """Steps of one pass through the model with the `loop` repeat run `loop_count` times
    (default: model.loop.count). `runs` lists (first iteration, length) ranges covering the
    iterations in order: each range's steps appear once, for its first iteration, with
    `repeat` = its length (the caller vouches that the iterations of a range are alike), so the
    list does not grow with the loop count. Default: one range per iteration."""
    count = model.loop.count if loop_count is None else loop_count
    if count < 1:
        raise ValueError(f"loop count must be >= 1, got {count}")
    runs = [(i, 1) for i in range(count)] if runs is None else runs
    offsets = block_offsets(model)
    steps: list[Step] = []

    def walk(items, loop_iter: int, repeat: int) -> None:
        for item in items:
            if item == FINAL_NORM:
                steps.append(Step("final_norm", None, -1, loop_iter, repeat=repeat))
                continue
            if isinstance(item, str):
                block = model.block(item)
                for i in range(block.num_layers):
                    steps.append(Step("layer", item, offsets[item] + i, loop_iter, repeat=repeat))
                continue
            is_loop = item.repeat == "loop"
            for iteration, length in (runs if is_loop else [(loop_iter, repeat)] * item.repeat):
                if item.inject != "none":
                    steps.append(Step("inject", None, -1, iteration, inject=item.inject, repeat=length))
                walk(item.body, iteration, length)
                if item.final_norm:
                    steps.append(Step("loop_norm", None, -1, iteration, repeat=length))
                if item.exit_gate:
                    steps.append(Step("exit_gate", None, -1, iteration, repeat=length))
                if item.streams > 1:   # Hyperloop: one hyper-connection after each iteration
                    steps.append(Step("hyper_connection", None, -1, iteration, repeat=length))

    walk(model.effective_schedule, -1, 1)
    return steps


def one_pass(model: ModelSpec) -> list[Step]:
    """`expand(model, 1)`, memoised per spec object (hwsim.cache): the weight table, the KV
    cache's size and every trace of a model without a loop read it (shared: do not modify it)."""
    return cache.per_spec.get("one_pass", model, lambda: expand(model, 1))


def layer_applications(model: ModelSpec, loop_count: int | None = None) -> int:
    """Layer applications per token (Ouro-1.4B at T=4: 96; Huginn at r=32: 132)."""
    return sum(1 for s in expand(model, loop_count) if s.kind == "layer")


def loop_repeat(model: ModelSpec) -> RepeatSpec | None:
    """The schedule entry that repeats `loop` times, if any."""
    def find(items):
        for item in items:
            if isinstance(item, RepeatSpec):
                if item.repeat == "loop":
                    return item
                found = find(item.body)
                if found:
                    return found
        return None

    return find(model.effective_schedule)
