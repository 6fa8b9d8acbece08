"""Run a sweep: evaluate every point (local processes or Dask), persist each result as it
arrives, and write tidy tables.

Points go to workers in small chunks; the parent appends each finished chunk to the journal
(fsync'd) before anything else, so a killed sweep resumes with exactly the missing points.
A point that raises is recorded with its error and the sweep goes on. With the DES engine and
constraints the roofline floor decides (capacity totals, time ceilings, a tokens/s minimum; see
constraints.py), a point whose floor result breaks one is recorded as `pruned` (engine `floor`)
without running the DES.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from hwsim import __version__
from hwsim.errors import ConfigError
from hwsim.result import TOTAL_KEYS
from hwsim.sweep.analysis import pareto_front, pareto_mask, sensitivity
from hwsim.sweep.constraints import Constraint
from hwsim.sweep.journal import DirectoryLock, Journal
from hwsim.sweep.spec import Point, SweepPlan, SweepSpec, resolve_points
from hwsim.vocab import ENGINES

Evaluate = Callable[[Point, str], dict[str, Any]]
RESULT_FILES = ("results.parquet", "results.csv", "pareto.csv", "sensitivity.csv", "manifest.json")


PRUNE_ENGINE = "floor"   # what pruning evaluates: the roofline floor, a lower bound on DES times


def simulate_totals(point: Point, engine: str) -> dict[str, Any]:
    """The point's simulation totals plus its hardware budget figures (area_mm2, tdp_w, idle_w)."""
    from hwsim.chip.budget import hardware_totals

    return {**_simulation_totals(point, engine), **hardware_totals(point.hardware)}


def _simulation_totals(point: Point, engine: str) -> dict[str, Any]:
    """The shipped evaluation: `hwsim.sim.simulate` on the point's specs and run settings. The
    closed forms ("roofline": the per-op estimate; "floor": the lower bound pruning uses) go
    straight to `roofline_totals`, the path simulate(engine="roofline") takes, without
    building a SimResult."""
    run = point.run
    if engine in ("roofline", PRUNE_ENGINE):
        from hwsim.sim import roofline_totals

        return roofline_totals(point.model, point.hardware, phase=run.phase, prompt_len=run.prompt_len,
                               gen_len=run.gen_len, batch=run.batch, bound="op" if engine == "roofline" else "floor")
    from hwsim.sim import simulate

    result = simulate(point.model, point.hardware, phase=run.phase, prompt_len=run.prompt_len,
                      gen_len=run.gen_len, batch=run.batch, policy=run.policy, engine=engine)
    return dict(result.totals)


def evaluate_chunk(points: list[Point], engine: str, prune_by: list[Constraint],
                   evaluate: Evaluate | None = None) -> list[dict[str, Any]]:
    """Evaluate `points` in one worker; never raises for a point's own failure."""
    if evaluate is None:   # closed forms priced for the whole chunk at once (sweep/batch.py)
        from hwsim.sweep.batch import BatchEvaluator

        evaluate = _with_budget(BatchEvaluator(points, _simulation_totals))
    return [_evaluate_point(point, engine, prune_by, evaluate) for point in points]


def _with_budget(evaluate: Evaluate) -> Evaluate:
    """`evaluate` plus the hardware budget figures (area_mm2, tdp_w, idle_w), as simulate_totals
    gives them, computed once per device of the chunk."""
    from hwsim.chip.budget import hardware_totals

    budget: dict[int, dict[str, float]] = {}

    def evaluate_with_budget(point: Point, engine: str) -> dict[str, Any]:
        if id(point.hardware) not in budget:
            budget[id(point.hardware)] = hardware_totals(point.hardware)
        return {**evaluate(point, engine), **budget[id(point.hardware)]}

    return evaluate_with_budget


def _evaluate_point(point: Point, engine: str, prune_by: list[Constraint], evaluate: Evaluate) -> dict[str, Any]:
    record: dict[str, Any] = {"index": point.index, "key": point.key, "status": "ok", "engine": engine,
                              "pruned_by": None, "error": None, "totals": {}}
    try:
        if engine == "des" and prune_by:
            bound = {**evaluate(point, PRUNE_ENGINE), **point.quality}
            broken = [c.text for c in prune_by if not c.holds(bound)]
            if broken:
                return {**record, "status": "pruned", "engine": PRUNE_ENGINE, "pruned_by": "; ".join(broken),
                        "totals": bound}
        record["totals"] = {**evaluate(point, engine), **point.quality}
    except Exception as exc:  # the point fails, the sweep goes on
        record.update(status="error", error=f"{type(exc).__name__}: {' '.join(str(exc).split())}", totals={})
    return record


# ----------------------------------------------------------------------------- executors


def _chunks(points: list[Point], workers: int, engine: str) -> list[list[Point]]:
    """Small chunks: large enough to amortise dispatch, small enough to persist often. Points
    that run the same traces (same model and run settings, any hardware) go to the same chunk
    where possible, so each worker's trace cache builds a trace once."""
    from hwsim.cache import spec_text as model_key

    cap = 256 if engine == "roofline" else 4
    size = max(1, min(cap, math.ceil(len(points) / (4 * workers))))
    keys = {id(p.model): model_key(p.model) for p in points}
    ordered = sorted(points, key=lambda p: (keys[id(p.model)], p.run.phase, p.run.batch, p.run.prompt_len,
                                            p.run.gen_len, p.index))
    return [ordered[i:i + size] for i in range(0, len(ordered), size)]


def _run_inline(chunks, *args) -> Iterator[list[dict[str, Any]]]:
    for chunk in chunks:
        yield evaluate_chunk(chunk, *args)


PARENT_CHECK_S = 0.5  # how often a worker looks whether its parent still lives


def _worker_init(parent_pid: int, lock_fd: int | None) -> None:
    """Runs first in each pool worker: drop the inherited directory lock, and exit as soon as the
    parent is gone. A killed parent (SIGKILL included) cannot shut its pool down, and orphaned
    workers would compute for minutes; a daemon thread sees the re-parenting within
    PARENT_CHECK_S and ends the process."""
    import threading
    import time

    if lock_fd is not None:
        try:
            os.close(lock_fd)  # the flock stays with the parent's descriptor
        except OSError:
            pass

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_S)
        os._exit(1)

    threading.Thread(target=watch, name="hwsim-parent-watch", daemon=True).start()


def _run_processes(chunks, jobs: int, lock_fd: int | None, *args) -> Iterator[list[dict[str, Any]]]:
    from concurrent.futures import ProcessPoolExecutor, as_completed

    executor = ProcessPoolExecutor(max_workers=jobs, initializer=_worker_init, initargs=(os.getpid(), lock_fd))
    try:
        futures = [executor.submit(evaluate_chunk, chunk, *args) for chunk in chunks]
        for future in as_completed(futures):
            yield future.result()
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _run_dask(chunks, address: str, jobs: int, *args) -> Iterator[list[dict[str, Any]]]:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ConfigError("--dask needs the optional extra: pip install 'hwsim[dist]'") from None
    cluster = None
    if address == "local":
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, dashboard_address=None)
        address = cluster.scheduler_address
    try:
        client = Client(address, timeout="30s")
    except OSError as exc:
        if cluster is not None:
            cluster.close()
        raise ConfigError(f"--dask {address}: cannot reach the scheduler: {exc}") from None
    try:
        futures = [client.submit(evaluate_chunk, chunk, *args, pure=False) for chunk in chunks]
        for future in as_completed(futures):
            yield future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# ----------------------------------------------------------------------------- run_sweep


def run_sweep(spec: SweepSpec | str, out_dir: Path | str, jobs: int | None = None, engine: str = "des",
              dask: str | None = None, resume: bool = False, progress: bool = True,
              evaluate: Evaluate | None = None) -> pd.DataFrame:
    """Run every point of `spec` and return one tidy row per point (same frame whatever the
    executor). Writes to `out_dir`: points.jsonl (the journal), results.parquet/.csv,
    pareto.csv, sensitivity.csv, manifest.json. `evaluate` replaces the simulator (tests)."""
    from tqdm import tqdm

    from hwsim.sweep.spec import load_sweep

    if isinstance(spec, str):
        spec = load_sweep(spec)
    if engine not in ENGINES:
        raise ConfigError(f"engine: unknown {engine!r}; known: {', '.join(ENGINES)}")
    if jobs is not None and jobs < 1:
        raise ConfigError(f"jobs: must be >= 1, got {jobs}")
    jobs = jobs or os.cpu_count() or 1
    out_dir = Path(out_dir)
    bar_options = {"disable": not progress, "file": sys.stderr, "dynamic_ncols": True}
    with DirectoryLock(out_dir) as lock:
        with tqdm(unit="pt", desc=f"{spec.name}: checking points", **bar_options) as bar:
            plan = resolve_points(spec, on_point=_progress_callback(bar))  # every point validated before any work
        journal = Journal(out_dir, plan.fingerprint, engine)
        done = journal.open(resume)
        pending = [point for point in plan.points if point.index not in done]
        reused = len(plan.points) - len(pending)
        if resume and progress:
            print(f"{spec.name}: {reused} of {len(plan.points)} points reused from {journal.path}", file=sys.stderr)
        prune_by = [c for c in spec.parsed_constraints if c.prunable]
        args = (engine, prune_by, evaluate)
        chunks = _chunks(pending, jobs, engine)
        if dask:
            batches = _run_dask(chunks, dask, jobs, *args)
        elif jobs == 1 or len(chunks) <= 1:
            batches = _run_inline(chunks, *args)
        else:
            batches = _run_processes(chunks, jobs, lock.fd, *args)
        with tqdm(total=len(plan.points), initial=reused, unit="pt", desc=spec.name, **bar_options) as bar:
            for records in batches:
                journal.append(records)
                bar.update(len(records))
        frame = results_frame(plan, journal.records())
        _write_outputs(plan, frame, out_dir, engine)
    frame.attrs["points_reused"] = reused
    return frame


def _progress_callback(bar) -> Callable[[int, int], None]:
    """`resolve_points` reports (points checked, total); the bar learns the total on the first call."""
    def update(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
        bar.update(done - bar.n)
    return update


def results_frame(plan: SweepPlan, records: dict[int, dict[str, Any]]) -> pd.DataFrame:
    """One row per point in product order: key, axis values, status, constraint verdict,
    Pareto membership, and every SimResult total."""
    missing = [p.key for p in plan.points if p.index not in records]
    if missing:
        raise ConfigError(f"sweep {plan.spec.name}: {len(missing)} points have no result (first: {missing[0]})")
    constraints = plan.spec.parsed_constraints
    rows = []
    extra_totals: dict[str, None] = {}
    for point in plan.points:
        record = records[point.index]
        if record["key"] != point.key:
            raise ConfigError(f"journal point {point.index} is {record['key']!r}, expected {point.key!r}")
        totals = record["totals"]
        extra_totals.update(dict.fromkeys(k for k in totals if k not in TOTAL_KEYS))
        feasible = record["status"] == "ok" and all(c.holds(totals) for c in constraints)
        rows.append({"point": point.key, **point.labels, **point.si, "status": record["status"],
                     "engine": record["engine"], "feasible": feasible, "pruned_by": record["pruned_by"],
                     "error": record["error"], **totals})
    columns = (["point", *plan.axes, *plan.si_columns.values(), "status", "engine", "feasible", "pareto",
                "pruned_by", "error", *TOTAL_KEYS,
                *dict.fromkeys([*extra_totals, *(k for k in plan.spec.objectives if k not in TOTAL_KEYS)])])
    frame = pd.DataFrame(rows).reindex(columns=columns)
    frame["pareto"] = pareto_mask(frame, plan.spec.objectives)
    return frame


def _write_outputs(plan: SweepPlan, frame: pd.DataFrame, out_dir: Path, engine: str) -> None:
    objectives = plan.spec.objectives
    tables = {
        "results": frame,
        "pareto": pareto_front(frame, objectives),
        "sensitivity": sensitivity(frame, plan.axes, objectives),
    }
    _atomic(out_dir / "results.parquet", lambda path: _parquet_safe(frame).to_parquet(path, index=False))
    for name, table in tables.items():
        _atomic(out_dir / f"{name}.csv", lambda path, table=table: table.to_csv(path, index=False))
    from hwsim.resources import git_sha

    manifest = {
        "sweep": plan.spec.name, "origin": plan.spec.origin, "engine": engine,
        "spec": plan.spec.model_dump(mode="json", by_alias=True), "points": len(plan.points),
        "status": frame["status"].value_counts().to_dict(), "fingerprint": plan.fingerprint,
        "hwsim_version": __version__, "git_sha": git_sha(), "files": list(RESULT_FILES),
    }
    _atomic(out_dir / "manifest.json", lambda path: Path(path).write_text(json.dumps(manifest, indent=2) + "\n"))


def _parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Axis columns may mix numbers and names (a list of presets next to a file path); Parquet
    wants one type per column, so mixed object columns are written as text."""
    result = frame.copy()
    for column in result.columns:
        if result[column].dtype == object:
            kinds = {type(v) for v in result[column] if v is not None and not (isinstance(v, float) and math.isnan(v))}
            if len(kinds) > 1:
                result[column] = result[column].map(lambda v: None if v is None else str(v))
    return result


def _atomic(path: Path, write) -> None:
    """Write through a temporary name so a killed run never leaves half a table."""
    temporary = path.with_name(path.name + ".tmp")
    write(temporary)
    os.replace(temporary, path)
