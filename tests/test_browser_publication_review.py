"""The review and withdraw pages in a real browser at phone width, used with the keyboard."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from browser import chromium_browser, serving
from publication_support import TEXT, TITLE

from troth.audit import Actor
from troth.declaration import Policy
from troth.notify import DirectoryTransport, deliver_due
from troth.publications import draft_publication, published
from troth.store import make_sessionmaker, write_scope
from troth.subjects import Keyring, MasterKey
from troth.subjects.registry import resolve_subject
from troth.web import create_app

PHONE = {"width": 390, "height": 844}
ADDRESS = "bakery.owner@example.in"
SENDER = "Kestrel Software <hello@kestrel.example>"


def newest_link(mail: Path, base_url: str) -> str:
    [file] = sorted(mail.iterdir(), key=lambda path: path.stat().st_mtime_ns)[-1:]
    message = message_from_bytes(file.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text: str = body.get_content()
    [url] = set(re.findall(rf"{re.escape(base_url)}/publications/[a-z]+/[A-Za-z0-9_.-]+", text))
    return url


def no_sideways_scroll(page: object) -> None:
    overflow = page.evaluate(  # type: ignore[attr-defined]
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than a phone screen"


def test_review_approve_and_withdraw_on_a_phone(
    kestrel_policy: Policy, sqlite_url: str, tmp_path: Path
) -> None:
    keyring = Keyring(MasterKey.generate())
    app = create_app(kestrel_policy, sqlite_url, keyring=keyring)
    mail = tmp_path / "mail"
    with serving(app) as base_url:
        sessions = make_sessionmaker(app.state.site.engine)
        now = datetime.now(UTC)
        with write_scope(sessions) as session:
            subject, _ = resolve_subject(
                session, keyring, "email", ADDRESS, now=now, actor=Actor.system("test")
            )
            draft_publication(
                session,
                keyring,
                subject_id=subject.id,
                kind="testimonial",
                title=TITLE,
                text=TEXT,
                review_to=ADDRESS,
                base_url=base_url,
                organization=kestrel_policy.organization_name,
                now=now,
                actor=Actor.system("test"),
            )
        transport = DirectoryTransport(mail)
        deliver_due(sessions, transport, datetime.now(UTC), keyring=keyring, sender=SENDER)
        review_url = newest_link(mail, base_url)
        with chromium_browser() as browser:
            page = browser.new_page(viewport=PHONE)
            response = page.goto(review_url)
            assert response is not None and response.status == 200
            assert page.locator("h1").inner_text() == "Review your testimonial"
            assert "Kestrel's team fixed our billing" in page.inner_text("article")
            no_sideways_scroll(page)
            approve = page.get_by_role("button", name="Approve: publish it")
            reject = page.get_by_role("button", name="Reject: do not publish it")
            assert approve.is_visible() and reject.is_visible()
            # Big enough to tap.
            box = approve.bounding_box()
            assert box is not None and box["height"] >= 44
            approve.focus()
            page.keyboard.press("Enter")
            page.wait_for_selector("text=Thank you: approved")
            with sessions() as session:
                assert [item.title for item in published(session, keyring)] == [TITLE]

            deliver_due(sessions, transport, datetime.now(UTC), keyring=keyring, sender=SENDER)
            page.goto(newest_link(mail, base_url))
            assert page.locator("h1").inner_text() == "Withdraw your testimonial"
            no_sideways_scroll(page)
            page.get_by_role("button", name="Withdraw it").click()
            page.wait_for_selector("h1:text('Withdrawn')")
            with sessions() as session:
                assert published(session, keyring) == []
