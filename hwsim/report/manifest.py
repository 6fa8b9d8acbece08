"""The manifest of a report: what it was made from, so a reader can reproduce it."""

from __future__ import annotations

import platform
import sys
from datetime import datetime, timezone
from typing import Any

from hwsim import __version__
from hwsim.resources import git_sha


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
