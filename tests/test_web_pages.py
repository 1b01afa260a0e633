"""The published policy pages, the version history and the health check."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from support import dump, kestrel_data

from troth.declaration import Policy, read_declaration
from troth.publishing import VersionConflict, publish
from troth.store import make_engine, make_sessionmaker
from troth.web import create_app
from troth.web.site import get_session

HISTORY_RECORDED = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
SERVED_AT = datetime(2026, 11, 2, 14, 5, tzinfo=UTC)


@pytest.fixture
def app(sqlite_url: str, kestrel_policy: Policy, kestrel_history: list[Policy]) -> FastAPI:
    engine = make_engine(sqlite_url)
    publish(engine, kestrel_history, HISTORY_RECORDED)
    engine.dispose()
    return create_app(kestrel_policy, sqlite_url, clock=lambda: SERVED_AT)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def test_root_redirects_to_the_policy(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/privacy"


def test_policy_page_shows_version_date_and_history_link(client: TestClient) -> None:
    response = client.get("/privacy")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    assert '<html lang="en">' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "<strong>Version 3.0</strong>" in html
    assert '<time datetime="2026-09-01">1 September 2026</time>' in html
    assert 'href="/privacy/versions"' in html
    assert 'href="/privacy.md"' in html
    assert "<script" not in html


def test_policy_page_embeds_the_rendered_policy(client: TestClient) -> None:
    html = client.get("/privacy").text
    assert "Plausible Analytics" in html  # a recipient only version 3.0 and 2.0 declare
    assert "Kestrel Software Europe B.V." in html  # new in 3.0
    assert '<article class="policy">' in html


def test_policy_markdown(client: TestClient, kestrel_policy: Policy) -> None:
    from troth.declaration.render import render_markdown

    response = client.get("/privacy.md")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    assert response.text == render_markdown(kestrel_policy)


def test_versions_page_lists_every_version_newest_first(
    client: TestClient, kestrel_policy: Policy, kestrel_history: list[Policy]
) -> None:
    html = client.get("/privacy/versions").text
    rows = html.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    assert len(rows) == 3
    for row, policy, recorded in zip(
        rows,
        [kestrel_policy, *reversed(kestrel_history)],
        ["2 November 2026, 14:05 UTC", "1 October 2026, 08:00 UTC", "1 October 2026, 08:00 UTC"],
        strict=True,
    ):
        assert f"{policy.version}" in row
        assert f'<time datetime="{policy.effective_date.isoformat()}">' in row
        assert recorded in row
        assert f'<code title="{policy.content_hash}">{policy.content_hash[:12]}</code>' in row
        assert f'href="/privacy/versions/{policy.version}"' in row
    assert "(current)" in rows[0]
    assert "(current)" not in rows[1] + rows[2]


def test_an_old_version_shows_its_stored_text_under_a_banner(client: TestClient) -> None:
    response = client.get("/privacy/versions/1.0")
    assert response.status_code == 200
    html = response.text
    assert "This is version 1.0, superseded by version 2.0" in html
    assert '<time datetime="2025-04-01">1 April 2025</time>' in html
    assert '<a href="/privacy">Read the current policy</a> (version 3.0)' in html
    assert "kestrel_portal" in html  # version 1.0's only cookie
    assert "Plausible Analytics" not in html  # added in 2.0


def test_the_middle_version_is_superseded_by_the_next(client: TestClient) -> None:
    html = client.get("/privacy/versions/2.0").text
    assert "This is version 2.0, superseded by version 3.0" in html
    assert "Plausible Analytics" in html
    assert "Kestrel Software Europe B.V." not in html


def test_the_newest_version_has_no_superseded_banner(client: TestClient) -> None:
    html = client.get("/privacy/versions/3.0").text
    assert "superseded" not in html
    assert "This is version 3.0, the newest published version" in html


def test_an_unknown_version_is_a_404_page(client: TestClient) -> None:
    response = client.get("/privacy/versions/9.9")
    assert response.status_code == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "There is no version 9.9 of this policy" in response.text
    assert 'href="/privacy/versions"' in response.text


def test_an_unknown_page_is_an_html_404(client: TestClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.text


def test_version_strings_are_escaped(client: TestClient) -> None:
    response = client.get("/privacy/versions/<b>x</b>")
    assert response.status_code == 404
    assert "<b>x</b>" not in response.text
    assert "&lt;b&gt;x&lt;/b&gt;" in response.text


def test_pages_carry_security_headers(client: TestClient) -> None:
    headers = client.get("/privacy").headers
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"


def test_healthz_reports_the_served_version(client: TestClient, kestrel_policy: Policy) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "policy_version": "3.0",
        "content_hash": kestrel_policy.content_hash,
        "database": "ok",
    }


def test_healthz_is_503_when_the_database_fails(app: FastAPI, tmp_path: Path) -> None:
    # A directory where the database file should be: every query fails.
    broken = make_engine(f"sqlite:///{tmp_path}")

    def broken_session() -> Iterator[Session]:
        with make_sessionmaker(broken)() as session:
            yield session

    app.dependency_overrides[get_session] = broken_session
    with TestClient(app) as client:
        response = client.get("/healthz")
    broken.dispose()
    assert response.status_code == 503
    assert response.json()["database"] == "error"
    assert response.json()["policy_version"] == "3.0"


def test_startup_records_the_served_version(
    sqlite_url: str, kestrel_policy: Policy, kestrel_history: list[Policy]
) -> None:
    app = create_app(kestrel_policy, sqlite_url, clock=lambda: SERVED_AT)
    with TestClient(app) as client:
        html = client.get("/privacy/versions").text
    assert "1 version, newest first" in html
    assert "2 November 2026, 14:05 UTC" in html


def test_startup_fails_on_a_changed_declaration_under_a_published_version(
    sqlite_url: str, kestrel_policy: Policy
) -> None:
    with TestClient(create_app(kestrel_policy, sqlite_url)):
        pass
    data = kestrel_data()
    data["policy"]["summary"] = "Changed without a new version."
    changed, problems = read_declaration(dump(data), "privacy.yaml")
    assert changed is not None, problems
    with pytest.raises(VersionConflict), TestClient(create_app(changed, sqlite_url)):
        pass
