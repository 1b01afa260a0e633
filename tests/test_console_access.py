"""No console page without a full session, and each page only for the roles it admits.

The routes are read from the app itself, so a page added later is covered without a change here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from apikey_support import MovingClock
from fastapi.routing import APIRoute
from staff_support import STARTED, Console, console, csrf_of, make_member

from troth.declaration import Policy
from troth.staff import Role
from troth.subjects import Keyring
from troth.web import create_app
from troth.web.console import PREFIX

# The one page that answers without a session: the sign-in form itself.
OPEN = {("GET", "/console/sign-in")}
AUDIT_READERS = {Role.admin, Role.privacy_officer, Role.auditor}
REQUEST_READERS = {Role.admin, Role.privacy_officer, Role.agent, Role.auditor}
DASHBOARD_READERS = {Role.admin, Role.privacy_officer, Role.auditor}
RETENTION_READERS = {Role.admin, Role.privacy_officer, Role.auditor}


def served(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """Every (method, path) the routes answer, into included routers however deep.

    FastAPI keeps an included router whole (``original_router``) and applies its prefix when
    matching; older versions copied its routes into the app with the prefix applied.
    """
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from served(inner.routes, prefix + route.include_context.prefix)
        elif isinstance(route, APIRoute):
            yield from ((method, prefix + route.path) for method in route.methods)


def console_routes(policy: Policy) -> list[tuple[str, str]]:
    app = create_app(policy, "sqlite://")
    found = sorted({found for found in served(app.routes) if found[1].startswith(PREFIX)})
    assert ("GET", "/console/audit") in found and ("POST", "/console/sign-out") in found
    assert ("GET", "/console/requests/{request_id}") in found and (
        "GET",
        "/console/dashboard",
    ) in found
    assert ("POST", "/console/requests/{request_id}/approve") in found
    return found


def concrete(path: str) -> str:
    """A path with every {parameter} filled in."""
    return re.sub(r"\{[^}]+\}", "1", path)


@pytest.fixture
def desk(kestrel_policy: Policy, sqlite_url: str, keyring: Keyring) -> Iterator[Console]:
    with console(kestrel_policy, sqlite_url, keyring, MovingClock(STARTED)) as c:
        yield c


def call(desk: Console, method: str, path: str, form: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    data = form if method == "POST" else None
    return desk.client.request(method, concrete(path), data=data, follow_redirects=False)


def refused(answer) -> bool:  # type: ignore[no-untyped-def]
    if answer.status_code == 403:
        return True
    return answer.status_code == 303 and answer.headers["location"].startswith("/console/sign-in")


def test_no_console_route_answers_without_a_session(kestrel_policy: Policy, desk: Console) -> None:
    for method, path in console_routes(kestrel_policy):
        if (method, path) in OPEN:
            continue
        answer = call(desk, method, path, {"csrf": "x"})
        assert refused(answer), f"{method} {path} answered {answer.status_code} without a session"


def test_no_console_route_answers_a_half_session(
    kestrel_policy: Policy, desk: Console, keyring: Keyring
) -> None:
    member = make_member(desk.engine, keyring, "ada@example.org", Role.admin)
    assert desk.password_step(member.email).status_code == 303
    csrf = csrf_of(desk.client.get("/console/sign-in/code"))
    # The code step, and sign-out (to cancel and start again), are what a half session reaches.
    half_only = {
        ("GET", "/console/sign-in/code"),
        ("POST", "/console/sign-in/code"),
        ("POST", "/console/sign-out"),
    }
    for method, path in console_routes(kestrel_policy):
        if (method, path) in OPEN | half_only:
            continue
        answer = call(desk, method, path, {"csrf": csrf})
        assert refused(answer), f"{method} {path} answered {answer.status_code} to a half session"
        # Still half: nothing above completed or ended it.
        assert desk.client.get("/console/sign-in/code").status_code == 200


@pytest.mark.parametrize("role", list(Role))
def test_pages_admit_only_their_roles(desk: Console, keyring: Keyring, role: Role) -> None:
    member = make_member(desk.engine, keyring, f"{role.value}@example.org", role)
    assert desk.sign_in(member).headers["location"] == "/console"
    home = desk.client.get("/console")
    assert home.status_code == 200
    for path, readers in (
        ("/console/audit", AUDIT_READERS),
        ("/console/audit/verify", AUDIT_READERS),
        ("/console/requests", REQUEST_READERS),
        ("/console/dashboard", DASHBOARD_READERS),
        ("/console/retention", RETENTION_READERS),
    ):
        answer = desk.client.get(path, follow_redirects=False)
        if role in readers:
            assert answer.status_code == 200, path
        else:
            assert answer.status_code == 403, path
            assert "Your role does not open this page" in answer.text
    # The navigation shows only what opens.
    assert ('href="/console/audit"' in home.text) == (role in AUDIT_READERS)
    assert ('href="/console/requests"' in home.text) == (role in REQUEST_READERS)
    assert ('href="/console/dashboard"' in home.text) == (role in DASHBOARD_READERS)
    assert ('href="/console/retention"' in home.text) == (role in RETENTION_READERS)


def test_a_half_session_can_be_cancelled(desk: Console, keyring: Keyring) -> None:
    member = make_member(desk.engine, keyring, "ada@example.org", Role.admin)
    assert desk.password_step(member.email).status_code == 303
    page = desk.client.get("/console/sign-in/code")
    assert "Cancel and start again" in page.text
    ended = desk.client.post(
        "/console/sign-out", data={"csrf": csrf_of(page)}, follow_redirects=False
    )
    assert ended.status_code == 303 and ended.headers["location"] == "/console/sign-in"
    assert desk.client.get("/console/sign-in").status_code == 200  # the form, not the code step
    gone = desk.client.get("/console/sign-in/code", follow_redirects=False)
    assert gone.headers["location"] == "/console/sign-in"


def test_the_access_log_names_console_routes_by_their_whole_path(
    desk: Console, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="troth.web.access"):
        desk.client.get("/console/audit?subject=someone", follow_redirects=False)
    lines = [record.getMessage() for record in caplog.records if record.name == "troth.web.access"]
    assert lines and lines[-1].startswith("GET /console/audit 303 ")
    assert "someone" not in "\n".join(lines)
