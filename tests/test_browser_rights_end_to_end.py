"""A rights request from end to end in a real browser, against one served app whose mail goes
over SMTP to a server on loopback: the subject proves their address with the emailed code and
files a request, an officer signs in with a password and TOTP and approves it, the worker carries
it out, and the subject sees the result: for an erasure what was kept and why, for an access
request the export, whose data.json holds what was collected."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from browser import chromium_browser, serving
from consent_support import Clock
from notify_support import Inbox, Received, smtp_server
from staff_support import PASSWORD, make_member
from vault_support import CONTACT_FORM, PERSONAL
from verification_support import CODE

from troth.audit import Actor
from troth.declaration import Policy
from troth.notify import SMTPTransport
from troth.rights import get_request, worker_pass
from troth.rights.bundle import item_json
from troth.staff import Role, code_at, step_at
from troth.store import make_engine, upgrade, write_scope
from troth.subjects import Keyring
from troth.vault import collect, items_of
from troth.web import create_app
from troth.web.center.requests import REVERIFY_WITHIN

pytestmark = pytest.mark.usefixtures("no_personal_data_in_logs")

OFFICER = "ada@example.org"
ERASED = "priya.natarajan@example.in"  # CONTACT_FORM's address
ACCESSOR = "rohan.mehta@example.in"
INVOICE = [{"category": "user.financial", "value": "Invoice KS-2026-011, INR 2,40,000"}]
WAIT = 15.0  # seconds any one thing may take before the test gives up


def wait_for(what: str, found: Any) -> Any:
    """Poll ``found`` until it returns something truthy, for at most ``WAIT`` seconds."""
    deadline = time.monotonic() + WAIT
    while True:
        value = found()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def code_for(inbox: Inbox, address: str, seen: int) -> str:
    """The code in the first verification email to ``address`` after the ``seen`` first ones."""

    def newest() -> str | None:
        to_them = [m for m in received(inbox) if address in m.recipients]
        if len(to_them) <= seen:
            return None
        codes: list[str] = CODE.findall(to_them[seen].text.replace("\r\n", "\n"))
        return codes[0] if codes else None

    code: str = wait_for(f"a code emailed to the subject (after {seen})", newest)
    return code


def received(inbox: Inbox) -> list[Received]:
    with inbox.lock:
        return list(inbox.received)


def mails_to(inbox: Inbox, address: str) -> int:
    return sum(address in m.recipients for m in received(inbox))


@contextmanager
def served(
    policy: Policy, sqlite_url: str, keyring: Keyring, clock: Clock
) -> Iterator[tuple[Any, str, bytes, Inbox]]:
    """One app (migrated, with an officer enrolled), its mail delivered to a loopback SMTP server
    every tenth of a second; the test runs the job worker itself."""
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    member = make_member(engine, keyring, OFFICER, Role.privacy_officer)
    engine.dispose()
    with smtp_server() as (inbox, url):
        app = create_app(
            policy,
            sqlite_url,
            clock=clock,
            keyring=keyring,
            transport=SMTPTransport.from_url(url),
            mail_from="privacy@kestrel.example",
            delivery_interval=0.1,
            secure_cookies=False,
        )
        with serving(app) as base_url:
            yield app, base_url, member.secret, inbox


def collected(
    app: Any, clock: Clock, email: str, fields: list[dict[str, str]], source: str, purpose: str
) -> str:
    s = app.state.site
    with write_scope(s.sessions) as session:
        return collect(
            session,
            s.policy,
            s.keyring,
            identity=("email", email),
            fields=fields,
            source=source,
            purpose=purpose,
            collection_point="contact form, https://kestrel.example/contact",
            now=clock(),
            actor=Actor.system("test"),
        ).subject_id


def subject_signs_in(page: Any, base_url: str, inbox: Inbox, email: str) -> None:
    page.goto(f"{base_url}/center")
    page.get_by_role("link", name="Manage my choices").click()
    page.wait_for_url("**/center/manage")
    seen = mails_to(inbox, email)
    page.get_by_label("Your email address").fill(email)
    page.get_by_role("button", name="Email me a code").click()
    page.wait_for_selector("h1:has-text('Enter your code')")
    page.get_by_label("Six-digit code").fill(code_for(inbox, email, seen))
    page.keyboard.press("Enter")
    page.wait_for_url("**/center/choices")


def subject_files(page: Any, kind_label: str) -> str:
    page.get_by_role("link", name="Make a privacy request").click()
    page.wait_for_url("**/center/requests/new")
    page.get_by_label(kind_label).check()
    page.get_by_label("Myself").check()
    page.get_by_role("button", name="Send my request").click()
    page.wait_for_selector("h1:has-text('We received your request')")
    reference: str = page.locator("#reference").inner_text()
    page.get_by_role("link", name="See the status of this request").click()
    page.wait_for_selector(f"h1:has-text('Your request for {kind_label.lower()}')")
    assert page.locator("#state").inner_text() == "Verified, waiting for the privacy team"
    return reference


def officer_signs_in(page: Any, base_url: str, secret: bytes, clock: Clock) -> None:
    page.goto(f"{base_url}/console")
    page.wait_for_url(f"{base_url}/console/sign-in")
    page.get_by_label("Email address").fill(OFFICER)
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base_url}/console/sign-in/code")
    page.get_by_label("Six-digit code").fill(code_at(secret, step_at(clock())))
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base_url}/console")


def officer_approves(page: Any, base_url: str, reference: str) -> None:
    page.goto(f"{base_url}/console")
    page.get_by_role("link", name="Requests").first.click()
    page.wait_for_url(f"{base_url}/console/requests")
    page.locator(f"tbody tr a[href$='/console/requests/{reference}']").click()
    page.wait_for_url(f"{base_url}/console/requests/{reference}")
    assert "verified by email_code" in page.inner_text("main")
    # Filed from the center, it waits in `verified`: review starts before approval.
    page.get_by_role("button", name="Start review").click()
    page.wait_for_selector("button:has-text('Approve')")
    assert page.get_by_role("button", name="Start review").count() == 0
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url("**/console/requests/*done=approve")
    assert "its execution is queued" in page.get_by_role("status").inner_text()


def work_until_completed(app: Any, base_url: str, clock: Clock, reference: str) -> None:
    """Worker passes, as `troth worker` runs them, until the request is completed."""
    s = app.state.site

    def completed() -> bool:
        report = worker_pass(s.sessions, s.policy, s.keyring, clock(), base_url=base_url)
        assert report.jobs_failed == 0
        with s.sessions() as session:
            return get_request(session, reference).state == "completed"

    wait_for("the request to be completed", completed)


def test_an_erasure_then_an_access_request_from_the_center_to_the_result(
    kestrel_policy: Policy, sqlite_url: str, keyring: Keyring
) -> None:
    clock = Clock(datetime.now(UTC))
    with (
        served(kestrel_policy, sqlite_url, keyring, clock) as (app, base_url, secret, inbox),
        chromium_browser() as browser,
    ):
        subject = browser.new_context().new_page()
        officer = browser.new_context().new_page()

        # Erasure: the contact form goes, the invoice is held by tax law.
        collected(
            app, clock, ERASED, CONTACT_FORM, source="contact_form", purpose="answer_inquiries"
        )
        collected(app, clock, ERASED, INVOICE, source="client_signup", purpose="billing")
        subject_signs_in(subject, base_url, inbox, ERASED)
        erasure = subject_files(subject, "Erasure of your data")
        officer_signs_in(officer, base_url, secret, clock)
        officer_approves(officer, base_url, erasure)
        work_until_completed(app, base_url, clock, erasure)
        subject.reload()
        assert subject.locator("#state").inner_text().startswith("Completed")
        kept = subject.locator("#kept").inner_text()
        assert "user.financial" in kept
        assert "Income-tax and GST law require invoices to be kept" in kept
        assert "user.name" not in kept
        assert not any(value in subject.content() for value in PERSONAL)
        completion = wait_for(
            "the completion email",
            lambda: [m for m in received(inbox) if "user.financial" in m.text],
        )
        assert completion[0].recipients == [ERASED]

        # Access, for another subject, through the same path.
        fields = [
            {"category": "user.name", "value": "Rohan Mehta"},
            {"category": "user.contact.email", "value": ACCESSOR},
            {"category": "user.contact.phone_number", "value": "+91 98500 42424"},
            {"category": "user.contact.organization", "value": "Deccan Freight"},
            {"category": "user.content.private", "value": "A quote for a driver app, please."},
        ]
        subject_id = collected(
            app, clock, ACCESSOR, fields, source="contact_form", purpose="answer_inquiries"
        )
        s = app.state.site
        with s.sessions() as session:
            expected = [item_json(item) for item in items_of(session, keyring, subject_id)]
        assert sorted(item["value"] for item in expected) == sorted(f["value"] for f in fields)
        accessor = browser.new_context(accept_downloads=True).new_page()
        subject_signs_in(accessor, base_url, inbox, ACCESSOR)
        access = subject_files(accessor, "Access to your data")
        officer_approves(officer, base_url, access)
        work_until_completed(app, base_url, clock, access)
        accessor.reload()
        assert accessor.locator("#state").inner_text().startswith("Completed")

        # The address was proved too long ago: a fresh code first, then the link again.
        clock.advance(REVERIFY_WITHIN * 1.1)
        download = accessor.get_by_role("link", name="Download my data")
        href = download.get_attribute("href")
        assert href
        accessor.goto(f"{base_url}{href}")
        accessor.wait_for_selector("text=Prove your email address again")
        accessor.locator("a[href='/center/manage?again=1']").first.click()
        seen = mails_to(inbox, ACCESSOR)
        accessor.get_by_label("Your email address").fill(ACCESSOR)
        accessor.get_by_role("button", name="Email me a code").click()
        accessor.wait_for_selector("h1:has-text('Enter your code')")
        accessor.get_by_label("Six-digit code").fill(code_for(inbox, ACCESSOR, seen))
        accessor.keyboard.press("Enter")
        accessor.wait_for_url("**/center/choices")
        accessor.goto(f"{base_url}/center/requests/{access}")
        with accessor.expect_download() as downloading:
            accessor.get_by_role("link", name="Download my data").click()
        got = downloading.value
        assert got.suggested_filename == f"access-{access}.zip"
        path = got.path()
        assert path is not None
        with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as bundle:
            data = json.loads(bundle.read("data.json"))
        assert data["subject_id"] == subject_id
        assert data["items"] == expected
