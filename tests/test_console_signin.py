"""Signing in to the console: cookies, enrolment, replay, CSRF, lockout and the IP limit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from apikey_support import MovingClock
from staff_support import (
    ADMIN_EMAIL,
    PASSWORD,
    STARTED,
    Console,
    Member,
    code_now,
    console,
    csrf_of,
    make_member,
    staff_actions,
)

from troth.declaration import Policy
from troth.staff import LOCKOUT_DURATION, Role
from troth.subjects import Keyring, MasterKey
from troth.web.console.auth import SESSION_COOKIE, SIGN_IN_LIMIT

REFUSED = "Wrong email, password or code."


@pytest.fixture
def clock() -> MovingClock:
    return MovingClock(STARTED)


@pytest.fixture
def desk(
    kestrel_policy: Policy, database: str, keyring: Keyring, clock: MovingClock
) -> Iterator[Console]:
    with console(kestrel_policy, database, keyring, clock) as c:
        yield c


@pytest.fixture
def admin(desk: Console, keyring: Keyring) -> Member:
    return make_member(desk.engine, keyring, ADMIN_EMAIL, Role.admin)


def test_sign_in_enrols_then_reaches_the_console(desk: Console, admin: Member) -> None:
    first = desk.password_step(ADMIN_EMAIL)
    assert first.status_code == 303 and first.headers["location"] == "/console/sign-in/code"
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    for attribute in ("HttpOnly", "Secure", "SameSite=lax", "Path=/console"):
        assert attribute.lower() in cookie.lower()
    # The half session reaches the code step only, which enrols the authenticator first.
    assert desk.client.get("/console", follow_redirects=False).headers["location"] == (
        "/console/sign-in/code"
    )
    enrol = desk.client.get("/console/sign-in/code")
    assert "Set up your authenticator app" in enrol.text
    assert "<svg" in enrol.text and "<title>QR code to scan</title>" in enrol.text
    second = desk.code_step(code_now(admin, desk.clock))
    assert second.status_code == 303 and second.headers["location"] == "/console"
    home = desk.client.get("/console")
    assert home.status_code == 200
    assert "Signed in as <strong>Ada Lovelace</strong>, Administrator" in home.text
    assert ADMIN_EMAIL not in home.text
    # Enrolled: the next sign-in asks for the code without showing the secret again.
    desk.client.cookies.clear()
    assert desk.password_step(ADMIN_EMAIL).status_code == 303
    desk.clock.advance(30)
    page = desk.client.get("/console/sign-in/code")
    assert "Your code" in page.text and "<svg" not in page.text
    assert [a for a, *_ in staff_actions(desk.engine)] == [
        "staff.account_created",
        "staff.password_accepted",
        "staff.totp_enrolled",
        "staff.signed_in",
        "staff.password_accepted",
    ]


def test_refusals_never_say_whether_the_address_has_an_account(
    desk: Console, admin: Member
) -> None:
    answers = [
        desk.password_step("nobody@example.org"),
        desk.password_step(ADMIN_EMAIL, "not the password at all"),
        desk.password_step("not an address"),
    ]
    for answer in answers:
        assert answer.status_code == 400
        assert REFUSED in answer.text
        assert SESSION_COOKIE + "=" not in answer.headers.get("set-cookie", "")
    assert answers[0].text.replace(csrf_of(answers[0]), "") == answers[1].text.replace(
        csrf_of(answers[1]), ""
    )
    assert desk.password_step(ADMIN_EMAIL).status_code == 303
    wrong_code = desk.code_step("000000" if code_now(admin, desk.clock) != "000000" else "111111")
    assert wrong_code.status_code == 400 and REFUSED in wrong_code.text


def test_a_used_code_is_refused_within_its_window(desk: Console, admin: Member) -> None:
    code = code_now(admin, desk.clock)
    assert desk.sign_in(admin).headers["location"] == "/console"
    desk.client.cookies.clear()
    desk.clock.advance(10)
    assert desk.password_step(ADMIN_EMAIL).status_code == 303
    again = desk.code_step(code)
    assert again.status_code == 400 and REFUSED in again.text
    desk.clock.advance(30)
    assert desk.code_step(code_now(admin, desk.clock)).headers["location"] == "/console"


def test_five_failures_lock_the_account_and_the_answer_stays_the_same(
    desk: Console, admin: Member
) -> None:
    for _ in range(5):
        answer = desk.password_step(ADMIN_EMAIL, "not the password at all")
        assert answer.status_code == 400
    locked = desk.password_step(ADMIN_EMAIL)
    assert locked.status_code == 400 and REFUSED in locked.text
    desk.clock.advance(LOCKOUT_DURATION.total_seconds())
    assert desk.sign_in(admin).headers["location"] == "/console"
    assert ("staff.locked", admin.id, {"staff_id": admin.id, "minutes": 15}) in staff_actions(
        desk.engine
    )


def test_the_fifth_wrong_code_ends_the_half_session(desk: Console, admin: Member) -> None:
    assert desk.password_step(ADMIN_EMAIL).status_code == 303
    wrong = "000000" if code_now(admin, desk.clock) != "000000" else "111111"
    for _ in range(4):
        assert desk.code_step(wrong).status_code == 400
    page = desk.client.get("/console/sign-in/code")
    fifth = desk.client.post("/console/sign-in/code", data={"csrf": csrf_of(page), "code": wrong})
    assert fifth.status_code == 400
    assert "Sign in to the privacy console" in fifth.text  # back to the start
    assert desk.client.get("/console/sign-in/code", follow_redirects=False).headers["location"] == (
        "/console/sign-in"
    )


def test_sign_in_attempts_are_limited_per_client_address(
    desk: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The buckets' clock stands still, so slow password hashing cannot refill them meanwhile.
    monkeypatch.setattr(SIGN_IN_LIMIT, "_clock", lambda: 1000.0)
    statuses = [desk.password_step(f"nobody{n}@example.org").status_code for n in range(12)]
    assert statuses[:10] == [400] * 10
    assert statuses[10:] == [429, 429]
    refused = desk.password_step("nobody@example.org")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1


def test_the_sign_in_form_needs_its_csrf_value(desk: Console, admin: Member) -> None:
    form = desk.client.get("/console/sign-in")
    fields = {"email": ADMIN_EMAIL, "password": PASSWORD}
    missing = desk.client.post("/console/sign-in", data=fields)
    wrong = desk.client.post("/console/sign-in", data=fields | {"csrf": "forged"})
    foreign = desk.client.post("/console/sign-in", data=fields | {"csrf": "fälscht"})
    for answer in (missing, wrong, foreign):
        assert answer.status_code == 403
        assert "security token" in answer.text
    # The right value without its cookie (a form posted from another site) is refused too.
    nonce = csrf_of(form)
    desk.client.cookies.clear()
    assert desk.client.post("/console/sign-in", data=fields | {"csrf": nonce}).status_code == 403
    assert [a for a, *_ in staff_actions(desk.engine)] == ["staff.account_created"]


def test_state_changing_forms_need_the_sessions_csrf_token(desk: Console, admin: Member) -> None:
    assert desk.password_step(ADMIN_EMAIL).status_code == 303
    code = code_now(admin, desk.clock)
    for csrf in (None, "forged"):
        data = {"code": code} | ({"csrf": csrf} if csrf else {})
        answer = desk.client.post("/console/sign-in/code", data=data)
        assert answer.status_code == 403 and "security token" in answer.text
    assert desk.code_step(code).headers["location"] == "/console"
    for csrf in (None, "forged"):
        data = {"csrf": csrf} if csrf else {"other": "field"}
        answer = desk.client.post("/console/sign-out", data=data, follow_redirects=False)
        assert answer.status_code == 403
    assert desk.client.get("/console").status_code == 200  # still signed in
    home = desk.client.get("/console")
    out = desk.client.post(
        "/console/sign-out", data={"csrf": csrf_of(home)}, follow_redirects=False
    )
    assert out.status_code == 303 and out.headers["location"] == "/console/sign-in"
    assert desk.client.get("/console", follow_redirects=False).status_code == 303
    assert staff_actions(desk.engine)[-1] == ("staff.signed_out", admin.id, {"staff_id": admin.id})


def test_a_forged_or_foreign_cookie_is_no_session(
    desk: Console, admin: Member, kestrel_policy: Policy, database: str
) -> None:
    assert desk.sign_in(admin).headers["location"] == "/console"
    real = desk.client.cookies[SESSION_COOKIE]
    token, _, signature = real.rpartition(".")
    forged_signature = ("1" if signature[0] == "0" else "0") + signature[1:]
    for forged in (f"{token}.{forged_signature}", "x" + real[1:], token, f"{token}.zz", real):
        desk.client.cookies.clear()
        desk.client.cookies.set(SESSION_COOKIE, forged, domain="testserver.local", path="/")
        answer = desk.client.get("/console", follow_redirects=False)
        assert answer.status_code == (200 if forged == real else 303)
    # Signed under another master key: refused too.
    with console(kestrel_policy, database, Keyring(MasterKey.generate()), desk.clock) as other:
        other.client.cookies.set(SESSION_COOKIE, real, domain="testserver.local", path="/")
        assert other.client.get("/console", follow_redirects=False).status_code == 303


def test_the_session_ends_after_thirty_idle_minutes(desk: Console, admin: Member) -> None:
    assert desk.sign_in(admin).headers["location"] == "/console"
    desk.clock.advance(29 * 60)
    assert desk.client.get("/console").status_code == 200
    desk.clock.advance(30 * 60)
    assert desk.client.get("/console", follow_redirects=False).headers["location"] == (
        "/console/sign-in"
    )


def test_without_a_master_key_the_console_is_unavailable(
    kestrel_policy: Policy, database: str, clock: MovingClock
) -> None:
    from fastapi.testclient import TestClient

    from troth.web import create_app

    with TestClient(create_app(kestrel_policy, database, clock=clock)) as client:
        answer = client.get("/console/sign-in")
        assert answer.status_code == 503 and "master key" in answer.text


def test_insecure_cookies_drop_only_the_secure_flag(
    kestrel_policy: Policy, database: str, keyring: Keyring, clock: MovingClock
) -> None:
    from fastapi.testclient import TestClient

    from troth.web import create_app

    app = create_app(kestrel_policy, database, keyring=keyring, clock=clock, secure_cookies=False)
    with TestClient(app) as client:
        form = client.get("/console/sign-in")
        attributes = [part.strip().lower() for part in form.headers["set-cookie"].split(";")[1:]]
        assert "httponly" in attributes and "samesite=lax" in attributes
        assert "secure" not in attributes


def test_serve_refuses_insecure_cookies_off_loopback() -> None:
    from typer.testing import CliRunner

    from troth.cli import app

    result = CliRunner().invoke(app, ["serve", "--insecure-cookies", "--host", "0.0.0.0"])
    assert result.exit_code == 1
    assert "only for a server on a loopback address" in result.stderr
