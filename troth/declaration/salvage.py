"""Run the semantic checks on a declaration whose shape is wrong, so that one `troth check`
reports every problem at once.

The parts that failed validation are set aside (an invalid item of a list section is dropped,
an unknown or invalid optional field is removed) and the rest is checked. Findings that could
be caused by what was set aside (a reference to a dropped item, a retention gap after a rule
was dropped) are left out rather than risk a false report.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date
from typing import Any

from pydantic import ValidationError

from .model import Declaration
from .problems import Finding, Path

Locate = Callable[[tuple[Any, ...], Any], tuple[Path, tuple[Any, ...]]]


def salvage_findings(
    data: dict[str, Any],
    error: ValidationError,
    data_path: Locate,
    check: Callable[[Declaration, date], list[Finding]],
    today: date,
) -> list[Finding]:
    """Semantic findings on what validated, located in the original document."""
    trimmed = copy.deepcopy(data)
    dropped: dict[str, set[int]] = {}
    for problem in error.errors(include_url=False):
        path, rest = data_path(tuple(problem["loc"]), data)
        if len(path) >= 2 and isinstance(path[1], int) and isinstance(data.get(str(path[0])), list):
            dropped.setdefault(str(path[0]), set()).add(path[1])
        elif path and not rest and isinstance(path[-1], str):
            parent: Any = trimmed
            for step in path[:-1]:
                parent = parent[step]
            parent.pop(path[-1], None)
        else:
            return []  # a required part is missing or wrong: nothing sound to check
    dropped_keys: set[str] = set()
    index_maps: dict[str, list[int]] = {}
    for section, indices in dropped.items():
        items = trimmed[section]
        dropped_keys |= {str(items[i].get("key")) for i in indices if isinstance(items[i], dict)}
        index_maps[section] = [i for i in range(len(items)) if i not in indices]
        trimmed[section] = [item for i, item in enumerate(items) if i not in indices]
    try:
        declaration = Declaration.model_validate(trimmed)
    except ValidationError:
        return []
    findings = []
    for finding in check(declaration, today):
        if any(f"'{key}'" in finding.message for key in dropped_keys):
            continue
        if "retention" in dropped and "no retention rule covers it" in finding.message:
            continue
        path = finding.path
        if len(path) >= 2 and str(path[0]) in index_maps and isinstance(path[1], int):
            path = (path[0], index_maps[str(path[0])][path[1]], *path[2:])
        findings.append(Finding(path, finding.severity, finding.message))
    return findings
