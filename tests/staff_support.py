"""What the staff and console tests share: accounts made in one call, a console on a clock the
test moves, and the sign-in steps as a browser takes them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from apikey_support import MovingClock
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, select

from troth.audit import Actor, AuditEvent
from troth.declaration import Policy
from troth.staff import Role, code_at, create_account, step_at, totp_secret_of
from troth.store import make_sessionmaker, write_scope
from troth.subjects import Keyring
from troth.web import create_app

# A moment in the middle of a 30-second TOTP step, so that moving the clock by whole steps
# never lands on a step's edge.
STARTED = datetime(2026, 11, 26, 9, 0, 15, tzinfo=UTC)
OPERATOR = Actor.system("troth.cli")
PASSWORD = "correct horse staple battery"
ADMIN_EMAIL = "ada.admin@example.org"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass(frozen=True)
class Member:
    """A staff account as a test knows it: the address, the id and the TOTP secret."""

    email: str
    id: str
    secret: bytes
    role: Role


def make_member(
    engine: Engine,
    keyring: Keyring,
    email: str,
    role: Role,
    *,
    now: datetime = STARTED,
    name: str = "Ada Lovelace",
) -> Member:
    with write_scope(make_sessionmaker(engine)) as session:
        account = create_account(
            session,
            keyring,
            email=email,
            role=role,
            password=PASSWORD,
            display_name=name,
            now=now,
            actor=OPERATOR,
        )
        return Member(email, account.id, totp_secret_of(keyring, account), role)


def code_now(member: Member, clock: MovingClock, offset_steps: int = 0) -> str:
    return code_at(member.secret, step_at(clock()) + offset_steps)


def actions(engine: Engine) -> list[tuple[str, str, dict[str, object]]]:
    with make_sessionmaker(engine)() as session:
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.seq))
        return [(event.action, event.actor_id, event.details) for event in rows]


def staff_actions(engine: Engine) -> list[tuple[str, str, dict[str, object]]]:
    """The staff events only (the app records the policy version it serves on startup)."""
    return [found for found in actions(engine) if found[0].startswith("staff.")]


def csrf_of(response: Response) -> str:
    found = CSRF_FIELD.search(response.text)
    assert found, f"no CSRF field in the page answering {response.request.url}"
    return found.group(1)


class Console:
    """A test client on the console, on https so that its Secure cookies are sent."""

    def __init__(self, client: TestClient, clock: MovingClock, engine: Engine) -> None:
        self.client = client
        self.clock = clock
        self.engine = engine

    def password_step(self, email: str, password: str = PASSWORD) -> Response:
        form = self.client.get("/console/sign-in")
        assert form.status_code == 200, form.text
        return self.client.post(
            "/console/sign-in",
            data={"csrf": csrf_of(form), "email": email, "password": password},
            follow_redirects=False,
        )

    def code_step(self, code: str) -> Response:
        page = self.client.get("/console/sign-in/code")
        assert page.status_code == 200, page.text
        return self.client.post(
            "/console/sign-in/code",
            data={"csrf": csrf_of(page), "code": code},
            follow_redirects=False,
        )

    def sign_in(self, member: Member) -> Response:
        """Both steps; the answer to the second (303 to /console when it worked)."""
        first = self.password_step(member.email)
        assert first.status_code == 303, first.text
        return self.code_step(code_now(member, self.clock))


@contextmanager
def console(policy: Policy, url: str, keyring: Keyring, clock: MovingClock) -> Iterator[Console]:
    app = create_app(policy, url, keyring=keyring, clock=clock)
    with TestClient(app, base_url="https://testserver") as client:
        yield Console(client, clock, app.state.site.engine)
