"""Reading spec documents: YAML / JSON with duplicate keys refused, and pydantic validation that
reports every bad field in one ConfigError naming the file. Kept apart from the loader so that
modules the loader uses (the calibration) can read and validate files without importing it.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from hwsim import resources
from hwsim.errors import ConfigError

SpecT = TypeVar("SpecT", bound=BaseModel)

# The shipped data tree (configs/, workloads/, validation/ as in the repository), read through
# importlib.resources so a wheel install finds it too; see hwsim.resources.
DATA_ROOT = resources.DATA_ROOT
REPO_ROOT = DATA_ROOT  # the old name: the same layout, also inside an installed package


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """SafeLoader that records duplicate mapping keys instead of silently keeping the last (on
    libyaml's C parser where PyYAML has it: a tenth of the pure-Python parser's time)."""

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
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a UTF-8 text file (byte {exc.object[exc.start]:#04x} at offset "
                          f"{exc.start})") from None
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
    if data is None:
        raise ConfigError(f"{path}: the file is empty; expected a mapping of fields")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def format_validation_error(exc: ValidationError, cls: type[BaseModel] | None = None) -> list[str]:
    """One 'field.path: problem' string per pydantic error; with `cls`, an unknown field
    suggests the close field names."""
    problems = []
    for error in exc.errors(include_url=False):
        location = ".".join(str(part) if str(part).isprintable() else repr(part)  # keeps it one line
                            for part in error["loc"] if not _is_union_tag(part))
        message = error["msg"]
        for prefix in ("Value error, ", "Assertion failed, "):
            message = message.removeprefix(prefix)
        if error["type"] == "extra_forbidden":
            known = _field_names(cls, error["loc"][:-1]) if cls is not None else []
            message = "unknown field" + resources.did_you_mean(str(error["loc"][-1]), known)
        elif error["type"] == "missing":
            message = "required field is missing"
        problems.append(f"{location or '(top level)'}: {message}")
    return list(dict.fromkeys(problems))


def _field_names(cls: type[BaseModel], loc: tuple) -> list[str]:
    """Field names (and aliases) of the spec section at `loc` below `cls`, for suggestions."""
    node: Any = cls
    for part in loc:
        node = _unwrap(node)
        if isinstance(node, type) and issubclass(node, BaseModel):
            field = next((f for name, f in node.model_fields.items() if part in (name, f.alias)), None)
            if field is None:
                return []
            node = field.annotation
        elif get_origin(node) in (dict, list):
            node = get_args(node)[-1]
        else:
            return []
    node = _unwrap(node)
    if not (isinstance(node, type) and issubclass(node, BaseModel)):
        return []
    return [f.alias or name for name, f in node.model_fields.items()]


def _unwrap(node: Any) -> Any:
    """The spec type inside Optional[...], unions and Annotated[...]."""
    while get_origin(node) in (Union, UnionType, Annotated):
        args = [a for a in get_args(node) if a is not type(None)]
        node = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)
                     or get_origin(a) in (dict, list)), args[0])
    return node


def _is_union_tag(part) -> bool:
    # pydantic adds the union member's type name to the location ('int', 'str', 'RepeatSpec').
    return isinstance(part, str) and (part in ("int", "str", "float", "RepeatSpec")
                                      or part.startswith(("literal[", "function-")))


def validate(cls: type[SpecT], data: dict[str, Any], source: str) -> SpecT:
    """Validate `data` as `cls`, raising one ConfigError that lists every problem."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        problems = format_validation_error(exc, cls)
        head = f"{source}: " + (f"{len(problems)} problems: " if len(problems) > 1 else "")
        raise ConfigError(head + "; ".join(problems)) from None


def _display(path: Path) -> str:
    """Shipped files are shown relative to the data tree (`configs/hardware/x.yaml`), so
    messages carry no machine path."""
    resolved = Path(path).resolve()
    for top, target in _DATA_DIRS:
        if resolved.is_relative_to(target):
            return str(Path(top, resolved.relative_to(target)))
    return str(path)


# (name, resolved directory) of each top-level data directory (links in a checkout).
_DATA_DIRS = [(sub.name, sub.resolve()) for sub in sorted(DATA_ROOT.iterdir())] if DATA_ROOT.is_dir() else []
