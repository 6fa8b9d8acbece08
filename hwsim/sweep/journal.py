"""Append-only, fsync'd record of finished sweep points: what makes a sweep resumable.

`points.jsonl` starts with a header naming the sweep's fingerprint; every later line is one
finished point. A run killed mid-write leaves at most one partial last line, which a resume
cuts off before appending. The final tables are always rebuilt from this file, so a resumed
sweep and an uninterrupted one produce the same rows and values.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from hwsim.errors import ConfigError

JOURNAL_NAME = "points.jsonl"


class Journal:
    def __init__(self, out_dir: Path, fingerprint: str, engine: str):
        self.path = Path(out_dir) / JOURNAL_NAME
        self.header = {"journal": "hwsim-sweep", "fingerprint": fingerprint, "engine": engine}

    def open(self, resume: bool) -> dict[int, dict[str, Any]]:
        """Start a new journal, or (resume) read the finished points of an existing one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists() or self.path.stat().st_size == 0:
            self._append([self.header])
            return {}
        if not resume:
            raise ConfigError(f"{self.path.parent}: already holds sweep results; pass --resume to "
                              "continue that sweep or choose another --out directory")
        return self._read_existing()

    def append(self, records: list[dict[str, Any]]) -> None:
        self._append(records)

    def records(self) -> dict[int, dict[str, Any]]:
        return self._read_lines()[0]

    def _read_existing(self) -> dict[int, dict[str, Any]]:
        records, good_bytes = self._read_lines()
        if good_bytes < self.path.stat().st_size:
            with self.path.open("r+b") as handle:  # drop a line cut short by a kill
                handle.truncate(good_bytes)
                os.fsync(handle.fileno())
        return records

    def _read_lines(self) -> tuple[dict[int, dict[str, Any]], int]:
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        complete, good_bytes = lines[:-1], 0  # the piece after the last newline is incomplete
        records: dict[int, dict[str, Any]] = {}
        for number, line in enumerate(complete):
            try:
                item = json.loads(line)
            except ValueError:
                raise ConfigError(f"{self.path}: line {number + 1} is corrupt; remove the directory "
                                  "to start the sweep again") from None
            if number == 0:
                self._check_header(item)
            else:
                records[item["index"]] = item
            good_bytes += len(line) + 1
        if not complete:
            raise ConfigError(f"{self.path}: no header line; not a sweep journal")
        return records, good_bytes

    def _check_header(self, header: dict[str, Any]) -> None:
        if header.get("journal") != "hwsim-sweep":
            raise ConfigError(f"{self.path}: not a sweep journal")
        if header.get("engine") != self.header["engine"]:
            raise ConfigError(f"{self.path}: was run with engine {header.get('engine')!r}, not "
                              f"{self.header['engine']!r}; resume with the same engine or use another --out")
        if header.get("fingerprint") != self.header["fingerprint"]:
            raise ConfigError(f"{self.path}: holds a different sweep (its spec or presets changed); "
                              "use another --out directory")

    def _append(self, records: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(record, default=_plain, allow_nan=True) + "\n" for record in records)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars for JSON."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a sweep journal")


LOCK_NAME = ".hwsim-sweep.lock"


class DirectoryLock:
    """An exclusive lock on a sweep's output directory, so two sweeps never write one journal.

    An advisory `flock` on `.hwsim-sweep.lock`, which holds the owner's PID for the refusal
    message. The kernel drops the lock when its owner dies (even by SIGKILL), so the stale file of
    a dead sweep is simply taken over. Linux and macOS (fcntl); elsewhere the lock is a no-op.
    """

    def __init__(self, out_dir: Path):
        self.path = Path(out_dir) / LOCK_NAME
        self.fd: int | None = None
        self.created_dir = False

    def acquire(self) -> DirectoryLock:
        try:
            import fcntl
        except ImportError:  # no flock on this platform: run unlocked
            return self
        self.created_dir = not self.path.parent.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ConfigError(f"{self.path.parent}: another sweep (PID {owner}) is running in this directory; "
                              "wait for it to finish or choose another --out") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the flock; the file stays for the next owner
            self.fd = None

    def __enter__(self) -> DirectoryLock:
        return self.acquire()

    def __exit__(self, exc_type, *exc_info) -> None:
        self.release()
        if exc_type is not None and self.created_dir:  # a sweep that failed before any result leaves nothing
            self.path.unlink(missing_ok=True)
            try:
                self.path.parent.rmdir()
            except OSError:  # not empty: it holds a journal
                pass
