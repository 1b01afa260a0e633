"""The published policy in a real browser, at phone width: readable, navigable, no overflow."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from browser import chromium_browser, serving

from troth.declaration import Policy
from troth.publishing import publish
from troth.store import make_engine
from troth.web import create_app

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def site(kestrel_policy: Policy, kestrel_history: list[Policy], sqlite_url: str):
    engine = make_engine(sqlite_url)
    publish(engine, kestrel_history, datetime(2026, 1, 1, tzinfo=UTC))
    engine.dispose()
    with serving(create_app(kestrel_policy, sqlite_url)) as base_url:
        yield base_url


def test_policy_pages_on_a_phone(site: str, tmp_path: Path) -> None:
    with chromium_browser() as browser:
        page = browser.new_page(viewport=PHONE)
        response = page.goto(f"{site}/privacy")
        assert response is not None and response.status == 200
        assert page.locator("h1").first.inner_text().startswith("Privacy policy of Kestrel")
        assert "Last updated 1 September 2026" in page.inner_text("body")
        # Wide tables scroll inside themselves; the page itself never scrolls sideways.
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the page is {overflow}px wider than a phone screen"
        assert page.locator("table").count() == 6
        page.screenshot(path=str(tmp_path / "privacy-phone.png"), full_page=False)

        # Keyboard only: the version history is reachable by tabbing to its link.
        link = page.get_by_role("link", name="versions", exact=False).first
        link.focus()
        page.keyboard.press("Enter")
        page.wait_for_url(f"{site}/privacy/versions")
        rows = page.locator("tbody tr")
        assert rows.count() == 3
        assert "3.0" in rows.nth(0).inner_text()

        page.get_by_role("link", name="1.0").first.click()
        page.wait_for_url(f"{site}/privacy/versions/1.0")
        body = page.inner_text("body")
        assert "superseded" in body.lower()
        assert "Version 1.0" in body
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
