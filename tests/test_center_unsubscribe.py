"""P6: one-click unsubscribe (RFC 8058) stops the named marketing purpose, and nothing else."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from center_support import browser
from consent_api_support import (
    ON_EACH_DATABASE,
    UNKNOWN_ID,
    ConsentApi,
    assert_error,
    assert_invalid,
)
from consent_support import NOW
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from support import dump, kestrel_data, messages, read

from troth.consent import SubjectSignal, load_state
from troth.notify.unsubscribe import LIFETIME, unsubscribe, unsubscribe_url
from troth.store import write_scope
from troth.subjects import Keyring

pytestmark = pytest.mark.usefixtures("no_personal_data_in_logs")
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def link_for(api: ConsentApi, subject: str, purpose: str = "newsletter") -> Response:
    return api.get(f"/subjects/{subject}/unsubscribe-link", "consent:write", purpose=purpose)


def path_of(api: ConsentApi, subject: str, purpose: str = "newsletter") -> str:
    response = link_for(api, subject, purpose)
    assert response.status_code == 200, response.text
    return urlsplit(response.json()["url"]).path


@ON_EACH_DATABASE
def test_one_click_post_withdraws_the_newsletter_and_nothing_else(api: ConsentApi) -> None:
    subject = api.subject()
    api.record(subject, "newsletter", "email_engagement")
    answer = link_for(api, subject)
    assert answer.status_code == 200
    body = answer.json()
    assert body["subject_id"] == subject and body["purpose"] == "newsletter"
    assert body["url"].startswith("http://testserver/center/unsubscribe/")
    assert body["headers"] == {
        "List-Unsubscribe": f"<{body['url']}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert body["expires_at"] == (api.clock() + LIFETIME).isoformat()

    # What a mail program does: POST the body RFC 8058 names, no cookie, no page.
    mailer = browser(api)
    path = urlsplit(body["url"]).path
    done = mailer.post(path, data=ONE_CLICK)
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert "set-cookie" not in done.headers
    state = api.consents(subject)
    assert state["consents"]["newsletter"]["state"] == "withdrawn"
    assert state["consents"]["newsletter"]["method"] == "email_link"
    assert state["consents"]["newsletter"]["acted_by"] == "subject"
    assert state["consents"]["email_engagement"]["state"] == "given"
    # Service purposes stay allowed on their own basis.
    assert api.decide(subject, "billing")["allowed"] is True
    assert api.decide(subject, "newsletter")["allowed"] is False

    events = len(api.consents(subject)["history"])
    again = mailer.post(path, data=ONE_CLICK)
    assert again.status_code == 200
    assert len(api.consents(subject)["history"]) == events  # idempotent


def test_the_page_has_one_button_that_does_the_same(api: ConsentApi) -> None:
    subject = api.subject()
    api.record(subject, "newsletter")
    path = path_of(api, subject)
    person = browser(api)
    page = person.get(path)
    assert page.status_code == 200
    assert "Send news about our services, events and offers" in page.text
    assert page.text.count("<button") == 1
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text
    assert (
        api.consents(subject)["consents"]["newsletter"]["state"] == "given"
    )  # GET changes nothing
    # A mail program may send the body as multipart/form-data (RFC 8058 prefers it).
    done = person.post(path, files={"List-Unsubscribe": (None, "One-Click")})
    assert done.status_code == 200
    assert api.consents(subject)["consents"]["newsletter"]["state"] == "withdrawn"


def test_a_post_without_the_one_click_body_changes_nothing(api: ConsentApi) -> None:
    subject = api.subject()
    api.record(subject, "newsletter")
    path = path_of(api, subject)
    assert browser(api).post(path).status_code == 400
    assert browser(api).post(path, data={"List-Unsubscribe": "Later"}).status_code == 400
    assert api.consents(subject)["consents"]["newsletter"]["state"] == "given"


def test_damaged_and_expired_links_are_readable_pages(api: ConsentApi) -> None:
    subject = api.subject()
    api.record(subject, "newsletter")
    path = path_of(api, subject)
    body, _, signature = path.rpartition("/")[2].partition(".")
    tampered = f"/center/unsubscribe/{body[:-2]}AB.{signature}"
    for response in (browser(api).get(tampered), browser(api).post(tampered, data=ONE_CLICK)):
        assert response.status_code == 400 and "does not work" in response.text
    assert browser(api).get("/center/unsubscribe/nonsense").status_code == 400
    api.clock.advance((LIFETIME + timedelta(seconds=1)).total_seconds())
    for response in (browser(api).get(path), browser(api).post(path, data=ONE_CLICK)):
        assert response.status_code == 410 and "has expired" in response.text
        assert 'href="/center/manage"' in response.text
    assert api.consents(subject)["consents"]["newsletter"]["state"] == "given"


def test_only_marketing_purposes_have_unsubscribe_links(api: ConsentApi) -> None:
    subject = api.subject()
    assert assert_invalid(link_for(api, subject, "billing"), "purpose", where="query")
    assert assert_invalid(link_for(api, subject, "no_such_purpose"), "purpose", where="query")
    assert_error(link_for(api, UNKNOWN_ID), 404, "no such subject")
    no_scope = api.get(
        f"/subjects/{subject}/unsubscribe-link", "consent:read", purpose="newsletter"
    )
    assert_error(no_scope, 403, "consent:write")
    site = api.app.state.site
    with pytest.raises(ValueError, match="purpose"):
        unsubscribe_url(site.keyring, site.policy, "https://x", subject, "security", api.clock())


def test_the_in_process_builder_makes_the_same_kind_of_link(api: ConsentApi) -> None:
    subject = api.subject()
    api.record(subject, "email_engagement")
    site = api.app.state.site
    link = unsubscribe_url(
        site.keyring, site.policy, "http://testserver/", subject, "email_engagement", api.clock()
    )
    assert link.url.startswith("http://testserver/center/unsubscribe/")
    done = browser(api).post(urlsplit(link.url).path, data=ONE_CLICK)
    assert done.status_code == 200
    assert "Measure whether our newsletters are opened" in done.text
    assert api.consents(subject)["consents"]["email_engagement"]["state"] == "withdrawn"


def test_an_opt_out_marketing_purpose_records_an_objection(
    sessions: sessionmaker[Session], keyring: Keyring, subject: str
) -> None:
    """A marketing purpose on legitimate interest with ``opt_out: true``: unsubscribing is the
    subject's objection to that purpose, once."""
    data = kestrel_data()
    data["purposes"].append(
        {
            "key": "partner_offers",
            "name": "Tell you about our partners' offers",
            "data_use": "marketing.communications.email",
            "legal_basis": "legitimate_interest",
            "opt_out": True,
            "categories": ["user.contact.email"],
            "subjects": ["customer"],
        }
    )
    policy, problems = read(dump(data))
    assert policy is not None, messages(problems)
    link = unsubscribe_url(keyring, policy, "https://x", subject, "partner_offers", NOW)
    token = link.url.rpartition("/")[2]
    for expected in (True, False):
        with write_scope(sessions) as session:
            done = unsubscribe(session, keyring, policy, token, NOW)
        assert (done.subject_id, done.purpose, done.changed) == (
            subject,
            "partner_offers",
            expected,
        )
    with sessions() as session:
        state = load_state(session, subject, NOW)
        signals = session.scalars(select(SubjectSignal)).all()
    assert state.objects_to("partner_offers") and not state.objects_to("newsletter")
    assert [(s.kind, s.purpose, s.method) for s in signals] == [
        ("objection", "partner_offers", "email_link")
    ]
