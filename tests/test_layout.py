"""The layering DESIGN.md asks for: declaration at the bottom, domain packages never reach up."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from support import ROOT

PACKAGE = ROOT / "troth"


def troth_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("troth")}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found |= {node.module} if node.module.startswith("troth") else set()
    return found


def modules(package: str) -> list[Path]:
    return sorted((PACKAGE / package).rglob("*.py"))


def test_declaration_imports_nothing_else_of_troth() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name for name in troth_imports(path) if not name.startswith("troth.declaration")
        )
        for path in modules("declaration")
    }
    assert not {k: v for k, v in offenders.items() if v}


@pytest.mark.parametrize(
    "package",
    [
        "declaration",
        "store",
        "audit",
        "publishing",
        "subjects",
        "apikeys",
        "consent",
        "vault",
        "notify",
        "publications",
        "children",
        "staff",
        "jobs",
        "rights",
        "retention",
    ],
)
def test_domain_packages_never_import_web_or_cli(package: str) -> None:
    for path in modules(package):
        upward = {n for n in troth_imports(path) if n.startswith(("troth.web", "troth.cli"))}
        assert not upward, f"{path.relative_to(ROOT)} imports {sorted(upward)}"
