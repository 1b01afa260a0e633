"""Read ``privacy.yaml`` into a validated :class:`Policy`, keeping YAML positions for errors.

Every problem found (YAML syntax, wrong types, unknown keys, taxonomy, references, broken
promises) is reported at once as ``FILE:LINE:COL: error|warning: message``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path as FsPath
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from .checks import check_declaration
from .model import Declaration
from .policy import Policy
from .problems import DeclarationError, Finding, Path, Problem, dotted
from .salvage import salvage_findings


class Positions:
    """1-based line and column of every key and value in a YAML document, by path."""

    def __init__(self) -> None:
        self.values: dict[Path, tuple[int, int]] = {}
        self.keys: dict[Path, tuple[int, int]] = {}

    def record(self, node: Any, path: Path) -> Any:
        """Turn ruamel's round-trip nodes into plain data, noting where each part sits."""
        if isinstance(node, CommentedMap):
            if path not in self.values:
                self.values[path] = (node.lc.line + 1, node.lc.col + 1)
            plain = {}
            for key, value in node.items():
                child = (*path, str(key))
                key_line, key_col = node.lc.key(key)
                self.keys[child] = (key_line + 1, key_col + 1)
                value_pos = node.lc.value(key)
                if value_pos is not None and value_pos[0] is not None:
                    self.values[child] = (value_pos[0] + 1, value_pos[1] + 1)
                plain[str(key)] = self.record(value, child)
            return plain
        if isinstance(node, CommentedSeq):
            if path not in self.values:
                self.values[path] = (node.lc.line + 1, node.lc.col + 1)
            items = []
            for index, value in enumerate(node):
                child = (*path, index)
                line, col = node.lc.item(index)
                self.values[child] = (line + 1, col + 1)
                items.append(self.record(value, child))
            return items
        return node

    def locate(self, path: Path, at_key: bool = False) -> tuple[int, int]:
        """Position of ``path``, or of its nearest ancestor present in the file."""
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            if at_key and end == len(path) and prefix in self.keys:
                return self.keys[prefix]
            if prefix in self.values:
                # A missing field is reported at the key of the mapping that lacks it.
                if end < len(path) and prefix in self.keys:
                    return self.keys[prefix]
                return self.values[prefix]
        return (1, 1)


def yaml_problem(filename: str, exc: YAMLError) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    if isinstance(exc, DuplicateKeyError):
        text = "duplicate key: " + (exc.problem or "a key appears twice in one mapping")
    elif isinstance(exc, MarkedYAMLError):
        text = (
            "malformed YAML: "
            + " ".join(part for part in (exc.context, exc.problem) if part).strip()
        )
    else:
        text = f"malformed YAML: {exc}"
    return Problem(filename, line, col, "error", text)


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[Path, tuple[Any, ...]]:
    """Split a pydantic error location into the part that exists in the data and the rest."""
    path: list[str | int] = []
    node = data
    rest = list(loc)
    while rest:
        step = rest[0]
        in_map = isinstance(node, dict) and isinstance(step, str) and step in node
        in_list = isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)
        if not (in_map or in_list):
            break
        node = node[step]
        path.append(step)
        rest.pop(0)
    return tuple(path), tuple(rest)


def validation_findings(exc: ValidationError, data: Any) -> list[tuple[Finding, bool]]:
    findings: list[tuple[Finding, bool]] = []
    seen: set[tuple[Path, str]] = set()
    for error in exc.errors(include_url=False):
        path, rest = _data_path(tuple(error["loc"]), data)
        kind = error["type"]
        message = error["msg"].removeprefix("Value error, ")
        at_key = False
        if kind == "missing" and rest:
            message = f"missing required field '{rest[0]}'"
            where = dotted(path)
            at_key = True
        elif kind == "extra_forbidden":
            at_key = True
            where = dotted(path[:-1])
            message = f"unknown key '{path[-1]}' (check the spelling; see docs/declaration.md)"
        else:
            where = dotted(path)
            if kind == "literal_error":
                message = message.replace("Input should be", "expected")
        if (path, message) in seen:
            continue
        seen.add((path, message))
        findings.append((Finding(path, "error", f"{where}: {message}"), at_key))
    return findings


def read_declaration(
    text: str, filename: str = "privacy.yaml", today: date | None = None
) -> tuple[Policy | None, list[Problem]]:
    """Parse and check a declaration; the policy is None when any error was found."""
    yaml = YAML(typ="rt")
    try:
        document = yaml.load(text)
    except YAMLError as exc:
        return None, [yaml_problem(filename, exc)]
    positions = Positions()
    data = positions.record(document, ())
    if not isinstance(data, dict):
        return None, [
            Problem(filename, 1, 1, "error", "a declaration is a YAML mapping (key: value)")
        ]

    def place(finding: Finding, at_key: bool = False) -> Problem:
        line, col = positions.locate(finding.path, at_key)
        return Problem(filename, line, col, finding.severity, finding.message)

    try:
        declaration = Declaration.model_validate(data)
    except ValidationError as exc:
        problems = [place(f, at_key) for f, at_key in validation_findings(exc, data)]
        semantic = salvage_findings(data, exc, _data_path, check_declaration, today or date.today())
        problems += [place(f) for f in semantic]
        return None, sorted(problems, key=lambda p: (p.line, p.column))

    problems = sorted(
        (place(f) for f in check_declaration(declaration, today or date.today())),
        key=lambda p: (p.line, p.column),
    )
    if any(p.severity == "error" for p in problems):
        return None, problems
    return Policy.build(declaration, text), problems


def load_policy(path: str | FsPath, today: date | None = None) -> Policy:
    """Load a declaration file; raises :class:`DeclarationError` listing every problem."""
    file = FsPath(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise DeclarationError(
            [Problem(str(file), 1, 1, "error", f"cannot read file: {exc.strerror}")]
        ) from None
    except UnicodeDecodeError:
        raise DeclarationError(
            [Problem(str(file), 1, 1, "error", "the file is not UTF-8 text")]
        ) from None
    policy, problems = read_declaration(text, str(file), today)
    if policy is None:
        raise DeclarationError(problems)
    return policy
