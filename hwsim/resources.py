"""Where hwsim finds its data: the presets and tables shipped in the package, plus user directories.

The repository's `configs/`, `workloads/` and `validation/` directories are the data. The
package reaches them as `hwsim/_data/<dir>` (symbolic links in a checkout, so an editable
install reads the files being edited; real copies in a wheel, where the build follows the
links), always through `importlib.resources`: one code path for every kind of install.

User presets: every directory in the `HWSIM_PATH` environment variable (separated like PATH)
and every `hwsim --presets DIR` adds presets. Such a directory holds `models/`, `hardware/`,
`sweeps/` and `reports/` subdirectories of YAML files (or the repository layout,
`workloads/models/`, `configs/hardware/`, ...). A user preset of the same name as a shipped one
wins, as an earlier PATH entry does.

Run from a checkout, hwsim also names the commit it runs (`git_sha`), which reports and sweeps
record in their manifests.
"""

from __future__ import annotations

import difflib
import os
import subprocess
from importlib import resources
from pathlib import Path

from hwsim.errors import ConfigError

ENV_VAR = "HWSIM_PATH"

# The shipped data tree: the repository layout (configs/, workloads/, validation/).
DATA_ROOT = Path(str(resources.files("hwsim").joinpath("_data")))

# Preset kind -> (directory under DATA_ROOT, subdirectory names in a user directory).
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "model": ("workloads/models", ("models", "workloads/models")),
    "hardware": ("configs/hardware", ("hardware", "configs/hardware")),
    "sweep": ("workloads/sweeps", ("sweeps", "workloads/sweeps")),
    "report": ("workloads/reports", ("reports", "workloads/reports")),
}
PRESET_SUFFIXES = (".yaml", ".yml")


def data_path(*parts: str) -> Path:
    """A file or directory of the shipped data tree, e.g. data_path("configs", "calibration.yaml")."""
    return DATA_ROOT.joinpath(*parts)


def builtin_dir(kind: str) -> Path:
    return data_path(KINDS[kind][0])


def user_dirs() -> list[Path]:
    """The directories named by HWSIM_PATH, in order; each must exist and hold presets."""
    dirs = []
    for entry in os.environ.get(ENV_VAR, "").split(os.pathsep):
        if not entry.strip():
            continue
        path = Path(entry).expanduser()
        check_user_dir(path, ENV_VAR)
        dirs.append(path)
    return dirs


def check_user_dir(path: Path, origin: str) -> None:
    """Fail loudly on a preset directory that is missing or holds no presets of any kind."""
    if not path.is_dir():
        raise ConfigError(f"{origin}: {path}: no such directory")
    if not any(_yaml_files(path / sub) for _, subs in KINDS.values() for sub in subs):
        layout = ", ".join(f"{subs[0]}/*.yaml" for _, subs in KINDS.values())
        raise ConfigError(f"{origin}: {path}: holds no presets (expected {layout})")


def add_user_dir(path: Path | str) -> None:
    """Put `path` first on HWSIM_PATH (checked now), so this process and its sweep workers see it."""
    path = Path(path).expanduser().resolve()
    check_user_dir(path, "--presets")
    current = os.environ.get(ENV_VAR, "")
    os.environ[ENV_VAR] = os.pathsep.join([str(path), current]) if current else str(path)


def preset_dirs(kind: str) -> list[Path]:
    """Where presets of `kind` are looked up, user directories first."""
    dirs = [user / sub for user in user_dirs() for sub in KINDS[kind][1] if (user / sub).is_dir()]
    return [*dirs, builtin_dir(kind)]


def preset_index(kind: str) -> dict[str, Path]:
    """Preset name (file stem, lower-case) -> file; earlier directories win."""
    index: dict[str, Path] = {}
    for directory in reversed(preset_dirs(kind)):
        index.update({path.stem.lower(): path for path in _yaml_files(directory)})
    return index


def _yaml_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix in PRESET_SUFFIXES and p.is_file())


def did_you_mean(name: str, known: list[str] | tuple[str, ...] | set[str]) -> str:
    """' (did you mean X or Y?)' for the close matches of `name` among `known`, else ''."""
    choices = {str(k).lower(): str(k) for k in known}
    matches = difflib.get_close_matches(str(name).strip().lower(), list(choices), n=3, cutoff=0.6)
    if not matches:
        return ""
    shown = [choices[m] for m in matches]
    return f" (did you mean {' or '.join(shown)}?)"


def unknown_name(what: str, name: str, known: list[str] | tuple[str, ...] | set[str], listing: str = "") -> str:
    """One line for an unknown name: the close matches, else the choices (or a command that lists them)."""
    hint = did_you_mean(name, known)
    if hint:
        return f"unknown {what} {name!r}{hint}"
    if listing:
        return f"unknown {what} {name!r}; list them with `{listing}`"
    return f"unknown {what} {name!r}; known: {', '.join(sorted(map(str, known))) or '(none)'}"


def source_checkout() -> Path | None:
    """The repository root when hwsim runs from a checkout (editable install), else None: an
    installed wheel has no commit to report, even inside someone else's repository."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / ".git").exists() and (root / "pyproject.toml").is_file() else None


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
