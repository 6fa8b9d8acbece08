"""Reading spec documents: YAML / JSON with duplicate keys refused, and pydantic validation that
reports every bad field in one ConfigError naming the file. Kept apart from the loader so that
modules the loader uses (the calibration) can read and validate files without importing it.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from hwsim.errors import ConfigError

SpecT = TypeVar("SpecT", bound=BaseModel)

REPO_ROOT = Path(__file__).resolve().parents[2]


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that records duplicate mapping keys instead of silently keeping the last."""

    def __init__(self, stream):
        super().__init__(stream)
        self.duplicates: list[str] = []


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, Hashable):  # `? [a, b]` keys: rejected, as SafeLoader does
            raise yaml.constructor.ConstructorError(
                None, None, f"a {type(key).__name__} cannot be a mapping key", key_node.start_mark)
        if key in mapping:
            loader.duplicates.append(f"duplicate key {key!r} (line {key_node.start_mark.line + 1})")
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_document(path: Path | str) -> dict[str, Any]:
    """Parse a YAML or JSON file into a dict; raise ConfigError on syntax or duplicate keys."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if path.suffix == ".json":
        duplicates: list[str] = []

        def pairs_hook(pairs):
            seen: dict[str, Any] = {}
            for key, value in pairs:
                if key in seen:
                    duplicates.append(f"duplicate key {key!r}")
                seen[key] = value
            return seen

        try:
            data = json.loads(text, object_pairs_hook=pairs_hook)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    else:
        loader = _StrictLoader(text)
        try:
            data = loader.get_single_data()
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
        finally:
            loader.dispose()
        duplicates = loader.duplicates
    if duplicates:
        raise ConfigError(f"{path}: {'; '.join(duplicates)}")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def format_validation_error(exc: ValidationError) -> list[str]:
    """One 'field.path: problem' string per pydantic error."""
    problems = []
    for error in exc.errors(include_url=False):
        location = ".".join(str(part) if str(part).isprintable() else repr(part)  # keeps it one line
                            for part in error["loc"] if not _is_union_tag(part))
        message = error["msg"]
        for prefix in ("Value error, ", "Assertion failed, "):
            message = message.removeprefix(prefix)
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "missing":
            message = "required field is missing"
        problems.append(f"{location or '(top level)'}: {message}")
    return list(dict.fromkeys(problems))


def _is_union_tag(part) -> bool:
    # pydantic adds the union member's type name to the location ('int', 'str', 'RepeatSpec').
    return isinstance(part, str) and (part in ("int", "str", "float", "RepeatSpec")
                                      or part.startswith(("literal[", "function-")))


def validate(cls: type[SpecT], data: dict[str, Any], source: str) -> SpecT:
    """Validate `data` as `cls`, raising one ConfigError that lists every problem."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        problems = format_validation_error(exc)
        head = f"{source}: " + (f"{len(problems)} problems: " if len(problems) > 1 else "")
        raise ConfigError(head + "; ".join(problems)) from None


def _display(path: Path) -> str:
    """Paths inside the repository are shown relative to it, so messages carry no machine path."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
