"""Load YAML configuration into pydantic models, reporting errors by file, line and field.

An installer editing a site file at a gate should read ``sites/x.yaml:14 cameras[0].zones[1].polygon:
needs at least 3 points (got 2)`` rather than a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)
Loc = tuple[str | int, ...]


class ConfigError(Exception):
    """A configuration file that cannot be used; ``problems`` holds one line per fault."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: invalid configuration\n" + "\n".join(f"  {p}" for p in problems))


def _line_index(node: yaml.Node, loc: Loc = (), out: dict[Loc, int] | None = None) -> dict[Loc, int]:
    """Map every key path in a composed YAML tree to its 1-based line."""
    out = {} if out is None else out
    out.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key_loc = loc + (str(key_node.value),)
            out[key_loc] = key_node.start_mark.line + 1
            _line_index(value_node, key_loc, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_index(item, loc + (i,), out)
    return out


def format_loc(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _nearest_line(lines: dict[Loc, int], loc: Loc) -> int | None:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def describe_errors(path: Path, error: ValidationError, lines: dict[Loc, int]) -> list[str]:
    problems = []
    for item in error.errors():
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        line = _nearest_line(lines, loc)
        where = f"{path}:{line}" if line else str(path)
        value = item.get("input")
        shown = "" if isinstance(value, (dict, list)) or item["type"] == "missing" else f" (value: {value!r})"
        problems.append(f"{where}: {format_loc(loc)}: {item['msg']}{shown}")
    return problems


def load_yaml_model(path: Path, model: type[ModelT]) -> ModelT:
    """Parse ``path`` and validate it as ``model``; raise ``ConfigError`` naming line and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [f"cannot read the file: {exc.strerror}"]) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(path, [f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}"]) from exc
    if not isinstance(data, dict):
        raise ConfigError(path, [f"{path}: expected a mapping of settings at the top level"])
    lines = _line_index(node) if node is not None else {}
    try:
        return model.model_validate(data, context={"config_path": path})
    except ValidationError as exc:
        raise ConfigError(path, describe_errors(path, exc, lines)) from exc
