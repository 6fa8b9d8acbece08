"""The manifest of a report: what it was made from, so a reader can reproduce it."""

from __future__ import annotations

import platform
import subprocess
import sys
from datetime import datetime, timezone
from typing import Any

from hwsim import __version__
from hwsim.resources import source_checkout


def git_sha() -> str | None:
    """The repository's HEAD commit (with `+dirty` when files differ), or None outside a checkout."""
    checkout = source_checkout()
    if checkout is None:
        return None

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=checkout, capture_output=True, text=True, timeout=5)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    sha = git("rev-parse", "HEAD")
    if not sha:
        return None
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return sha + ("+dirty" if dirty else "")


def build_manifest(sources: dict[str, Any], command: list[str] | None = None) -> dict[str, Any]:
    """Inputs (the specs the report ran or read), hwsim version, git SHA, command line, time."""
    return {
        "hwsim_version": __version__,
        "git_sha": git_sha(),
        "command": " ".join(command if command is not None else ["hwsim", *sys.argv[1:]]),
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "python": platform.python_version(),
        "inputs": sources,
    }
