"""The privacy center (P5, P15, P31): sign in with an emailed code or link, see and change one's
own consent, and nothing about anyone else."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from center_support import (
    VERIFICATION,
    ask_for_code,
    browser,
    choose,
    csrf_of,
    outbox,
    sign_in,
)
from consent_api_support import EMAIL, ON_EACH_DATABASE, OTHER_EMAIL, ConsentApi
from httpx import Response

from troth.audit import Actor
from troth.consent import link_identity, record_cookie_choice
from troth.store import write_scope
from troth.subjects.verification import LIFETIME, MAX_ATTEMPTS, STARTS_PER_ADDRESS
from troth.web.center.security import FORM_COOKIE, SESSION_COOKIE

pytestmark = pytest.mark.usefixtures("no_personal_data_in_logs")
BROWSER_ID = "bQx2mV9kLp4Rt8Wz3Yn7Hc"


def test_the_home_page_names_the_policy_and_who_to_contact(api: ConsentApi) -> None:
    page = browser(api).get("/center")
    assert page.status_code == 200
    for text in (
        'href="/privacy"',
        'href="/privacy/versions"',
        'href="/center/manage"',
        "version 3.0",
        "Meera Iyer",
        "Data Protection Officer",
        "privacy@kestrel.example",
        "Grievance Officer",
        "Arjun Deshpande",
        "grievance@kestrel.example",
        '<meta name="viewport"',
    ):
        assert text in page.text
    assert 'aria-current="page">Privacy center' in page.text


def comparable(page: Response) -> str:
    """A page without what differs on every visit: the CSRF token and the verification id."""
    text = re.sub(r'name="csrf" value="[^"]+"', "CSRF", page.text)
    return VERIFICATION.sub("VERIFICATION", text)


@ON_EACH_DATABASE
def test_known_and_unknown_addresses_get_the_same_answers(api: ConsentApi) -> None:
    known = api.subject("email", EMAIL)
    api.record(known, "newsletter")
    first, second = browser(api), browser(api)
    for_known = ask_for_code(first, EMAIL)
    for_unknown = ask_for_code(second, OTHER_EMAIL)
    assert for_known.status_code == for_unknown.status_code == 200
    assert comparable(for_known) == comparable(for_unknown)
    assert "We have emailed a six-digit code" in for_known.text
    assert EMAIL not in for_known.text and OTHER_EMAIL not in for_unknown.text
    assert set(for_known.cookies) == set(for_unknown.cookies)
    # The same audit events, in the same order, for both.
    actions = [e["action"] for e in api.audit()]
    assert actions[-4:] == ["mail.queued", "verification.started"] * 2
    assert [to for to, _, _ in outbox(api)] == [EMAIL, OTHER_EMAIL]

    # Both sign in; the unknown address becomes a subject only now, with no consent.
    for client, email in ((first, EMAIL), (second, OTHER_EMAIL)):
        [verification] = VERIFICATION.findall((for_known if email == EMAIL else for_unknown).text)
        code = next(c for to, c, _ in outbox(api) if to == email)
        page = for_known if email == EMAIL else for_unknown
        done = client.post(
            "/center/code",
            data={"verification": verification, "code": code, "csrf": csrf_of(page)},
        )
        assert done.status_code == 303 and done.headers["location"] == "/center/choices"
        cookie = done.headers["set-cookie"]
        assert SESSION_COOKIE in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert "Path=/center" in cookie and "Max-Age=1800" in cookie
    mine = first.get("/center/choices")
    theirs = second.get("/center/choices")
    assert mine.status_code == theirs.status_code == 200
    assert "You gave consent on" in section(mine, "newsletter")
    assert "You have not given consent." in section(theirs, "newsletter")
    assert "Let children use client applications" not in mine.text  # a parent's decision


def section(page: Response, purpose: str) -> str:
    match = re.search(rf'<li class="purpose" id="purpose-{purpose}">(.*?)</li>', page.text, re.S)
    assert match, f"no {purpose} on the page"
    return match.group(1)


@ON_EACH_DATABASE
def test_give_and_withdraw_are_one_click_each_and_recorded(api: ConsentApi) -> None:
    client = browser(api)
    assert sign_in(api, client, EMAIL).status_code == 303
    given = choose(client, "newsletter", "give")
    assert given.status_code == 303
    page = client.get(given.headers["location"])
    assert "Saved. You gave your consent to: Send news about our services" in page.text
    assert "Withdraw consent" in section(page, "newsletter")
    # Sent twice (a double click): recorded once.
    assert choose(client, "newsletter", "give").status_code == 303
    withdrawn = choose(client, "newsletter", "withdraw")
    assert withdrawn.status_code == 303
    page = client.get(withdrawn.headers["location"])
    assert "You withdrew consent on" in section(page, "newsletter")
    assert "Give consent" in section(page, "newsletter")

    subject = api.subject("email", EMAIL)
    history = api.consents(subject)["history"]
    assert [(e["purpose"], e["state"], e["method"], e["acted_by"]) for e in history] == [
        ("newsletter", "given", "web_form", "subject"),
        ("newsletter", "withdrawn", "web_form", "subject"),
    ]
    recorded = [e for e in api.audit() if e["action"] == "consent.recorded"]
    assert {(e["actor_kind"], e["actor_id"]) for e in recorded} == {("subject", subject)}
    assert api.reason(subject, "newsletter") == "consent_withdrawn"
    # Only purposes the center offers can be chosen.
    refused = choose(client, "billing", "withdraw")
    assert refused.status_code == 400


def test_five_wrong_codes_then_the_code_is_dead(api: ConsentApi) -> None:
    client = browser(api)
    page = ask_for_code(client, EMAIL)
    [verification] = VERIFICATION.findall(page.text)
    _, code, _ = outbox(api)[-1]
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    token = csrf_of(page)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        page = client.post(
            "/center/code", data={"verification": verification, "code": wrong, "csrf": token}
        )
        assert page.status_code == 400
        left = MAX_ATTEMPTS - attempt
        if left:
            assert f"You have {left} tr" in page.text and 'aria-invalid="true"' in page.text
        else:
            assert "This code can no longer be used" in page.text
    page = client.post(
        "/center/code", data={"verification": verification, "code": code, "csrf": token}
    )
    assert page.status_code == 400 and "no longer be used" in page.text
    assert SESSION_COOKIE not in client.cookies
    assert client.get("/center/choices").headers["location"] == "/center/manage"


def test_the_rate_limit_stops_new_codes(api: ConsentApi) -> None:
    client = browser(api)
    for _ in range(STARTS_PER_ADDRESS):
        assert ask_for_code(client, EMAIL).status_code == 200
    refused = ask_for_code(client, EMAIL)
    assert refused.status_code == 429
    assert "Too many codes were asked for this address" in refused.text
    assert int(refused.headers["retry-after"]) > 0
    assert len(outbox(api)) == STARTS_PER_ADDRESS
    # The limit is the same for an address troth has never seen.
    api.clock.advance(timedelta(hours=1).total_seconds())
    assert ask_for_code(client, EMAIL).status_code == 200


def test_the_emailed_link_signs_in_once_and_expires(api: ConsentApi) -> None:
    client = browser(api)
    ask_for_code(client, EMAIL)
    _, _, token = outbox(api)[-1]
    page = client.get(f"/center/verify/{token}")  # a mail scanner's visit uses nothing
    assert page.status_code == 200 and "Open your choices" in page.text
    page = client.get(f"/center/verify/{token}")
    signed_in = client.post(f"/center/verify/{token}", data={"csrf": csrf_of(page)})
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/center/choices"
    assert client.get("/center/choices").status_code == 200
    used = client.get(f"/center/verify/{token}")
    assert used.status_code == 410 and "already used" in used.text

    client = browser(api)
    form = ask_for_code(client, EMAIL)
    _, _, late_token = outbox(api)[-1]
    api.clock.advance(LIFETIME.total_seconds())
    expired = client.get(f"/center/verify/{late_token}")
    assert expired.status_code == 410 and "has expired" in expired.text
    posted = client.post(f"/center/verify/{late_token}", data={"csrf": csrf_of(form)})
    assert posted.status_code == 410
    damaged = client.get(f"/center/verify/{late_token[:-3]}abc")
    assert damaged.status_code == 400 and "does not work" in damaged.text


def test_every_form_needs_its_csrf_token(api: ConsentApi) -> None:
    client = browser(api)
    assert sign_in(api, client, EMAIL).status_code == 303
    page = client.get("/center/choices")
    token = csrf_of(page)
    posts = {
        "/center/manage": {"email": EMAIL},
        "/center/code": {"verification": "x", "code": "123456"},
        "/center/verify/abcdefghijklmnopqrstuvwxyz": {},
        "/center/choices": {"purpose": "newsletter", "action": "give"},
        "/center/signout": {},
    }
    stranger = browser(api)
    elsewhere = csrf_of(stranger.get("/center/manage"))  # signed for another browser's nonce
    for path, data in posts.items():
        assert client.post(path, data=data).status_code == 403, path
        assert client.post(path, data=data | {"csrf": token + "x"}).status_code == 403, path
        assert client.post(path, data=data | {"csrf": elsewhere}).status_code == 403, path
    # Without its nonce cookie, even the right token is refused.
    cookieless = browser(api)
    cookieless.cookies.set(SESSION_COOKIE, client.cookies[SESSION_COOKIE], path="/center")
    data = {"purpose": "newsletter", "action": "give", "csrf": token}
    assert cookieless.post("/center/choices", data=data).status_code == 403
    assert "You have not given consent." in section(client.get("/center/choices"), "newsletter")
    assert FORM_COOKIE in client.cookies


@ON_EACH_DATABASE
def test_a_session_sees_and_changes_only_its_own_subject(api: ConsentApi) -> None:
    ada, grace = browser(api), browser(api)
    sign_in(api, ada, EMAIL)
    sign_in(api, grace, OTHER_EMAIL)
    assert choose(ada, "newsletter", "give").status_code == 303
    # Grace's page shows her state, not Ada's, and no form field can name another subject.
    assert "You have not given consent." in section(grace.get("/center/choices"), "newsletter")
    ada_id, grace_id = api.subject("email", EMAIL), api.subject("email", OTHER_EMAIL)
    assert ada_id not in grace.get("/center/choices").text
    posted = choose(grace, "newsletter", "withdraw", subject_id=ada_id, subject=ada_id)
    assert posted.status_code == 303
    assert api.decide(ada_id, "newsletter")["allowed"] is True
    assert api.consents(grace_id)["consents"] == {}
    # A session cookie altered to name Ada is not a session.
    forged = browser(api)
    value = grace.cookies[SESSION_COOKIE]
    body, _, signature = value.partition(".")
    forged.cookies.set(SESSION_COOKIE, f"{body[:-2]}AA.{signature}", path="/center")
    assert forged.get("/center/choices").headers["location"] == "/center/manage"
    # Signing out ends the session.
    page = grace.get("/center/choices")
    out = grace.post("/center/signout", data={"csrf": csrf_of(page)})
    assert out.status_code == 303 and out.headers["location"] == "/center"
    assert grace.get("/center/choices").headers["location"] == "/center/manage"


def test_the_session_lasts_thirty_minutes(api: ConsentApi) -> None:
    client = browser(api)
    sign_in(api, client, EMAIL)
    api.clock.advance(29 * 60)
    assert client.get("/center/choices").status_code == 200
    api.clock.advance(60)
    assert client.get("/center/choices").headers["location"] == "/center/manage"


def test_cookie_choices_of_linked_browsers_are_shown(api: ConsentApi) -> None:
    site = api.app.state.site
    with write_scope(site.sessions) as session:
        choice = record_cookie_choice(
            session,
            policy=site.policy,
            keyring=site.keyring,
            browser_id=BROWSER_ID,
            accepted=["analytics"],
            gpc=False,
            revision=0,
            now=api.clock(),
        )
    subject = api.subject("email", EMAIL)
    client = browser(api)
    sign_in(api, client, EMAIL)
    assert "No browser's cookie choices are linked" in client.get("/center/choices").text
    with write_scope(site.sessions) as session:
        link_identity(
            session,
            site.keyring,
            site.policy,
            subject,
            "browser_id",
            BROWSER_ID,
            actor=Actor.subject(choice.subject_id),
            now=api.clock(),
        )
    page = client.get("/center/choices").text
    assert "on 1 browser linked to you" in page
    assert re.search(r"<td>Understand how our website is used</td>\s*<td>Accepted</td>", page)


def test_a_malformed_address_is_answered_on_the_form(api: ConsentApi) -> None:
    client = browser(api)
    page = ask_for_code(client, "not an address")
    assert page.status_code == 422
    assert "Enter an email address" in page.text and 'aria-invalid="true"' in page.text
    assert outbox(api) == []
