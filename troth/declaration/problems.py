"""Problems found in a declaration, each tied to a place in the YAML file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]
Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Finding:
    """A problem found in the model, located by its path in the document."""

    path: Path
    severity: Severity
    message: str


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    column: int
    severity: Severity
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}"


class DeclarationError(Exception):
    """The declaration has at least one error; ``problems`` holds all of them (and warnings)."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__("\n".join(str(p) for p in errors) or "invalid declaration")


def dotted(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def error(path: Path, message: str) -> Finding:
    return Finding(path, "error", message)


def warning(path: Path, message: str) -> Finding:
    return Finding(path, "warning", message)
