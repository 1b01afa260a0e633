"""Helpers for tests that build declarations by editing the Kestrel example."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from troth.declaration import Problem, read_declaration
from troth.declaration.policy import Policy

ROOT = Path(__file__).resolve().parent.parent
KESTREL = ROOT / "examples" / "kestrel" / "privacy.yaml"


def kestrel_data() -> Any:
    """The Kestrel example as round-trip YAML data, ready to edit."""
    return YAML(typ="rt").load(KESTREL.read_text(encoding="utf-8"))


def dump(data: Any) -> str:
    stream = io.StringIO()
    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.dump(data, stream)
    return stream.getvalue()


def read(text: str) -> tuple[Policy | None, list[Problem]]:
    return read_declaration(text, "privacy.yaml")


def messages(problems: list[Problem], severity: str | None = None) -> list[str]:
    return [p.message for p in problems if severity is None or p.severity == severity]


def item(data: Any, section: str, key: str) -> Any:
    return next(entry for entry in data[section] if entry["key"] == key)
