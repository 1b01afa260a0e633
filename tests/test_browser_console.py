"""The console in a real browser at phone width: sign in with a password and a TOTP code
computed from the enrolled secret, then reach the audit trail and verify the chain, and work a
request from the queue to its approval."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from browser import chromium_browser, serving
from consent_support import STAFF
from rights_support import take_request
from staff_support import PASSWORD, make_member

from troth.declaration import Policy
from troth.rights import get_request, mark_verified, start_review
from troth.staff import Role, code_at, step_at
from troth.store import make_engine, make_sessionmaker, upgrade
from troth.subjects import Keyring
from troth.web import create_app

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def console_site(
    kestrel_policy: Policy, sqlite_url: str, keyring: Keyring
) -> Iterator[tuple[str, bytes]]:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    member = make_member(engine, keyring, "ada@example.org", Role.privacy_officer)
    engine.dispose()
    app = create_app(kestrel_policy, sqlite_url, keyring=keyring)
    with serving(app) as base_url:
        yield base_url, member.secret


def no_sideways_scroll(page) -> None:  # type: ignore[no-untyped-def]
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than a phone screen"


def test_sign_in_with_password_and_code_reaches_the_audit_trail(
    console_site: tuple[str, bytes], tmp_path: Path
) -> None:
    base_url, secret = console_site
    with chromium_browser() as browser:
        page = browser.new_page(viewport=PHONE)
        page.goto(f"{base_url}/console/audit")
        page.wait_for_url(f"{base_url}/console/sign-in")
        no_sideways_scroll(page)
        # Keyboard only: the fields by their labels, Enter to send.
        page.get_by_label("Email address").fill("ada@example.org")
        page.get_by_label("Password").fill(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(f"{base_url}/console/sign-in/code")
        assert page.get_by_role("heading", level=1).inner_text() == "Set up your authenticator app"
        assert page.locator(".qr svg").count() == 1
        no_sideways_scroll(page)
        page.screenshot(path=str(tmp_path / "console-enrol-phone.png"))
        page.get_by_label("Six-digit code").fill(code_at(secret, step_at(datetime.now(UTC))))
        page.keyboard.press("Enter")
        page.wait_for_url(f"{base_url}/console")
        assert "Signed in as Ada Lovelace, Privacy officer" in page.inner_text("header")

        page.get_by_role("link", name="Audit trail").first.click()
        page.wait_for_url(f"{base_url}/console/audit")
        rows = page.locator("tbody tr")
        assert rows.count() == 5  # the policy version, created, password, enrolled, signed in
        assert "staff.signed_in" in rows.nth(0).inner_text()
        no_sideways_scroll(page)
        page.get_by_label("Action").fill("staff")
        page.get_by_role("button", name="Search").click()
        page.wait_for_url(re.compile(r".*/console/audit\?.*action=staff.*"))
        assert page.locator("tbody tr").count() == 4

        page.get_by_role("button", name="Verify chain").click()
        page.wait_for_url(re.compile(r".*/console/audit/verify\??$"))
        assert "The chain is intact: 5 events verified" in page.inner_text("main")

        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(f"{base_url}/console/sign-in")
        page.goto(f"{base_url}/console/audit")
        page.wait_for_url(f"{base_url}/console/sign-in")


def sign_in(page, base_url: str, secret: bytes) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base_url}/console")
    page.wait_for_url(f"{base_url}/console/sign-in")
    page.get_by_label("Email address").fill("ada@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base_url}/console/sign-in/code")
    page.get_by_label("Six-digit code").fill(code_at(secret, step_at(datetime.now(UTC))))
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base_url}/console")


def test_an_officer_approves_a_request_from_the_queue(
    kestrel_policy: Policy, sqlite_url: str, keyring: Keyring, tmp_path: Path
) -> None:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    member = make_member(engine, keyring, "ada@example.org", Role.privacy_officer)
    received = datetime.now(UTC)
    with make_sessionmaker(engine).begin() as session:
        request_id = take_request(
            session, kestrel_policy, keyring, "access", now=received, jurisdiction="eu-gdpr"
        ).id
        mark_verified(session, request_id, method="email_code", now=received, actor=STAFF)
        start_review(session, request_id, now=received, actor=STAFF)
    app = create_app(kestrel_policy, sqlite_url, keyring=keyring)
    with serving(app) as base_url, chromium_browser() as browser:
        page = browser.new_page(viewport=PHONE)
        sign_in(page, base_url, member.secret)
        page.get_by_role("link", name="Requests").first.click()
        page.wait_for_url(f"{base_url}/console/requests")
        no_sideways_scroll(page)
        row = page.locator("tbody tr").first
        assert "access" in row.inner_text() and "in review" in row.inner_text()
        row.get_by_role("link").click()
        page.wait_for_url(f"{base_url}/console/requests/{request_id}")
        assert "verified by email_code" in page.inner_text("main")
        no_sideways_scroll(page)
        page.screenshot(path=str(tmp_path / "console-request-phone.png"), full_page=True)
        page.get_by_role("button", name="Approve").click()
        page.wait_for_url(re.compile(r".*/console/requests/.*done=approve$"))
        assert "its execution is queued" in page.get_by_role("status").inner_text()
        assert "request_approved" in page.inner_text("main")

        page.get_by_role("link", name="Dashboard").first.click()
        page.wait_for_url(f"{base_url}/console/dashboard")
        # Requests by kind, by state, and on time; no consent recorded, so no opt-in chart.
        assert page.locator('svg[role="img"]').count() == 3
        assert "1 request received in 12 weeks" in page.inner_text("main")
        no_sideways_scroll(page)
        page.screenshot(path=str(tmp_path / "console-dashboard-phone.png"), full_page=True)
    with make_sessionmaker(engine)() as session:
        assert get_request(session, request_id).state in ("approved", "executing", "completed")
    engine.dispose()
