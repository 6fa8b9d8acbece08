"""Recursive-reasoning task configurations as data (workloads/tasks/<model>.yaml): the recursion
(T outer cycles, n inner updates, Nsup supervision steps) and grid size of each task, with the
source of each setting, and a model variant built from them.

The TRM preset's schedule is `{repeat: loop (Nsup), body: [{repeat: T, body: [{repeat: n,
inject: add, body: [net]}, {repeat: 1, inject: add, body: [net]}]}]}`; `task_model` rewrites T,
n, Nsup and the task's sequence length on a copy of it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hwsim.errors import ConfigError
from hwsim.spec import loader
from hwsim.spec._base import Spec
from hwsim.spec.model import ModelSpec

TASKS_DIR = loader.REPO_ROOT / "workloads" / "tasks"
Source = Literal["paper", "readme"]


class InnerCycles(Spec):
    paper: int = Field(ge=1)
    readme: int = Field(ge=1)


class TaskConfig(Spec):
    seq_len: int = Field(gt=0)
    prefix_tokens: int = Field(0, ge=0)
    T: int = Field(ge=1)
    Nsup: int = Field(ge=1)
    n: InnerCycles
    augmentation_votes: int = Field(1, ge=1, description="forwards per evaluated task (test-time voting)")


class TaskFile(Spec):
    model: str
    default_source: Source = "paper"
    tasks: dict[str, TaskConfig] = Field(min_length=1)


def load_tasks(model: str) -> TaskFile:
    path = TASKS_DIR / f"{model}.yaml"
    if not path.is_file():
        raise ConfigError(f"no task configuration for {model!r} (expected workloads/tasks/{model}.yaml)")
    return loader.validate(TaskFile, loader.read_document(path), loader._display(path))


def configuration(task: TaskConfig, source: Source) -> str:
    """The recursion as the quality rows write it: `T=3;n=6;Nsup=16`."""
    return f"T={task.T};n={getattr(task.n, source)};Nsup={task.Nsup}"


def recursion(model: ModelSpec) -> str | None:
    """`T=..;n=..;Nsup=..` of a TRM/HRM-shaped schedule (loop > T cycles > n inner repeats of the
    first step), None for any other model."""
    from hwsim.spec.model import RepeatSpec

    first = model.schedule[0] if model.schedule else None
    if not (isinstance(first, RepeatSpec) and first.repeat == "loop" and first.body):
        return None
    cycle = first.body[0]
    if not (isinstance(cycle, RepeatSpec) and cycle.body and isinstance(cycle.body[0], RepeatSpec)):
        return None
    return f"T={cycle.repeat};n={cycle.body[0].repeat};Nsup={model.loop.count}"


def task_model(model: ModelSpec, tasks: TaskFile, task: str, source: Source | None = None) -> ModelSpec:
    """`model` (the TRM preset) configured for `task` with n from `source` (default: the file's)."""
    if task not in tasks.tasks:
        raise ConfigError(f"task {task!r}: unknown; known: {', '.join(tasks.tasks)}")
    config, source = tasks.tasks[task], source or tasks.default_source
    data = model.model_dump(mode="python", by_alias=True)
    try:
        cycle = data["schedule"][0]["body"][0]
        inner = cycle["body"][0]
        cycle["repeat"], inner["repeat"] = config.T, getattr(config.n, source)
    except (KeyError, IndexError, TypeError):
        raise ConfigError(f"{model.name}: schedule is not TRM's nested cycle (loop > T > n)") from None
    data["loop"]["count"] = config.Nsup
    data["task"] = {**(data.get("task") or {}), "name": task, "seq_len": config.seq_len,
                    "prefix_tokens": config.prefix_tokens}
    return loader.validate(ModelSpec, data, f"{model.name} task {task} ({source})")
