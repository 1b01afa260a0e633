"""docs/api.md documents every scope and every operation of the JSON API, and what it requires."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support import ROOT

from troth.apikeys import SCOPES
from troth.declaration import Policy
from troth.web import create_app

API_DOC = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
PREFIX = "/api/v1"


@pytest.fixture(scope="module")
def openapi(
    kestrel_policy: Policy, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('api-doc') / 'troth.db'}"
    with TestClient(create_app(kestrel_policy, url)) as client:
        yield client.get(f"{PREFIX}/openapi.json").json()


def operations(openapi: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, methods in openapi["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {PREFIX}{path}", operation


def sections() -> dict[str, str]:
    """Each `### METHOD /api/v1/PATH` section's text, by its heading."""
    parts = re.split(r"^### ([A-Z]+ /\S+)\s*$", API_DOC, flags=re.M)
    return {
        heading: re.split(r"^##? ", text, flags=re.M)[0]
        for heading, text in zip(parts[1::2], parts[2::2], strict=True)
    }


def test_every_scope_is_in_the_scope_table_with_its_description() -> None:
    rows = dict(re.findall(r"^\| `([a-z:]+)` \| (.+?) \|$", API_DOC, flags=re.M))
    assert rows == dict(SCOPES), "docs/api.md's scope table differs from troth.apikeys.SCOPES"


def test_every_operation_requires_a_key(openapi: dict[str, Any]) -> None:
    for name, operation in operations(openapi):
        assert "x-troth-scopes" in operation, (
            f"{name} requires no API key; give it Depends(require_scope(...)) or require_key()"
        )


def test_every_operation_has_a_section_saying_what_it_requires(openapi: dict[str, Any]) -> None:
    documented = sections()
    for name, operation in operations(openapi):
        assert name in documented, f"docs/api.md has no '### {name}' section"
        scopes = operation.get("x-troth-scopes", [])
        expected = ", ".join(f"`{s}`" for s in scopes) if scopes else "any valid API key"
        assert f"**Requires:** {expected}." in documented[name], (
            f"docs/api.md's section for {name} does not say '**Requires:** {expected}.'"
        )
    stale = sorted(set(documented) - {name for name, _ in operations(openapi)})
    assert not stale, f"docs/api.md documents operations that do not exist: {', '.join(stale)}"
