"""A rights request from the privacy center in a real browser at phone width: sign in with the
emailed code, file an erasure request, and see its status page."""

from __future__ import annotations

from browser import chromium_browser, serving
from test_browser_center import PHONE, no_sideways_scroll
from verification_support import emails

from troth.declaration import Policy
from troth.rights import get_request
from troth.store import make_sessionmaker
from troth.subjects import Keyring, MasterKey
from troth.web import create_app

ADDRESS = "tailor.shop@example.in"


def test_file_an_erasure_request_on_a_phone(kestrel_policy: Policy, sqlite_url: str) -> None:
    keyring = Keyring(MasterKey.generate())
    app = create_app(kestrel_policy, sqlite_url, keyring=keyring)
    with serving(app) as base_url:
        sessions = make_sessionmaker(app.state.site.engine)
        with chromium_browser() as browser:
            page = browser.new_page(viewport=PHONE)
            assert page.goto(f"{base_url}/center/manage").status == 200
            page.get_by_label("Your email address").fill(ADDRESS)
            page.get_by_role("button", name="Email me a code").click()
            page.wait_for_selector("h1:has-text('Enter your code')")
            with sessions() as session:
                to, code, _ = emails(session, keyring)[-1]
            assert to == ADDRESS
            page.get_by_label("Six-digit code").fill(code)
            page.keyboard.press("Enter")
            page.wait_for_url("**/center/choices")

            page.get_by_role("link", name="Make a privacy request").click()
            page.wait_for_url("**/center/requests/new")
            no_sideways_scroll(page)
            page.get_by_label("Erasure of your data").check()
            page.get_by_label("Myself").check()
            page.get_by_role("button", name="Send my request").click()
            page.wait_for_selector("h1:has-text('We received your request')")
            no_sideways_scroll(page)
            reference = page.locator("#reference").inner_text()

            page.get_by_role("link", name="See the status of this request").click()
            page.wait_for_selector("h1:has-text('Your request for erasure of your data')")
            no_sideways_scroll(page)
            assert page.locator("#state").inner_text() == "Verified, waiting for the privacy team"
            assert reference in page.content()

        with sessions() as session:
            filed = get_request(session, reference)
        assert (filed.kind, filed.state, filed.verification_method) == (
            "erasure",
            "verified",
            "email_code",
        )
