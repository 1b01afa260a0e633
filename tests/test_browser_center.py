"""The privacy center in a real browser at phone width, used with the keyboard alone: sign in
with the emailed code, withdraw newsletter consent, and see it withdrawn."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from browser import chromium_browser, serving
from verification_support import emails

from troth.audit import Actor
from troth.consent import ConsentInput, load_state, record_consents
from troth.declaration import Policy
from troth.store import make_sessionmaker, write_scope
from troth.subjects import Keyring, MasterKey
from troth.subjects.registry import resolve_subject
from troth.web import create_app

PHONE = {"width": 390, "height": 844}
ADDRESS = "bakery.owner@example.in"


def no_sideways_scroll(page: Any) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than a phone screen"


def tab_to(page: Any, text: str, limit: int = 60) -> None:
    """Press Tab until the focused element's text contains ``text``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if text in page.evaluate("document.activeElement.textContent || ''"):
            outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none", f"focus on {text!r} is not visible"
            return
    raise AssertionError(f"no focusable element with {text!r} within {limit} tabs")


def test_sign_in_and_withdraw_by_keyboard_on_a_phone(
    kestrel_policy: Policy, sqlite_url: str
) -> None:
    keyring = Keyring(MasterKey.generate())
    app = create_app(kestrel_policy, sqlite_url, keyring=keyring)
    with serving(app) as base_url:
        sessions = make_sessionmaker(app.state.site.engine)
        with write_scope(sessions) as session:
            subject, _ = resolve_subject(
                session, keyring, "email", ADDRESS, now=datetime.now(UTC), actor=Actor.system("t")
            )
            record_consents(
                session,
                kestrel_policy,
                [(subject.id, ConsentInput("newsletter", "given"))],
                actor=Actor.system("t"),
                now=datetime.now(UTC),
            )
        with chromium_browser() as browser:
            page = browser.new_page(viewport=PHONE)
            assert page.goto(f"{base_url}/center").status == 200
            no_sideways_scroll(page)
            tab_to(page, "Manage my choices")
            page.keyboard.press("Enter")
            page.wait_for_url("**/center/manage")
            tab_to(page, "Email me a code")
            page.keyboard.press("Shift+Tab")  # back to the address field, by its label
            assert page.evaluate("document.activeElement.id") == "email"
            assert page.get_by_label("Your email address").evaluate(
                "e => e === document.activeElement"
            )
            page.keyboard.type(ADDRESS)
            page.keyboard.press("Enter")
            page.wait_for_selector("h1:has-text('Enter your code')")
            no_sideways_scroll(page)

            with sessions() as session:
                to, code, _ = emails(session, keyring)[-1]
            assert to == ADDRESS
            page.get_by_label("Six-digit code").focus()
            page.keyboard.type(code)
            page.keyboard.press("Enter")
            page.wait_for_url("**/center/choices")
            assert page.locator("h1").inner_text() == "Your privacy choices"
            newsletter = page.locator("#purpose-newsletter")
            assert "You gave consent on" in newsletter.inner_text()
            no_sideways_scroll(page)

            tab_to(page, "Withdraw consent: Send news about our services")
            page.keyboard.press("Enter")
            page.wait_for_selector("[role=status]:has-text('You withdrew your consent')")
            newsletter = page.locator("#purpose-newsletter")
            assert "You withdrew consent on" in newsletter.inner_text()
            assert newsletter.get_by_role("button").inner_text().startswith("Give consent")
            no_sideways_scroll(page)

        with sessions() as session:
            state = load_state(session, subject.id, datetime.now(UTC))
        withdrawn = state.consents["newsletter"]
        assert (withdrawn.state.value, withdrawn.method) == ("withdrawn", "web_form")
