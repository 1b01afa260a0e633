"""The consent routes of /api/v1: subjects, identities, consents, withdrawal, signals, the batch
and receipts, over HTTP, with every status they answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apikey_support import MovingClock
from consent_api_support import (
    API,
    EMAIL,
    ConsentApi,
    assert_error,
    assert_invalid,
    assert_logs_hold_no_personal_data,
    capture_logs,
    database_url,
    serve,
)
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session
from starlette.types import Message, Receive, Scope, Send

from troth.consent.models import ConsentEvent
from troth.declaration import Policy


@pytest.fixture
def clock() -> MovingClock:
    return MovingClock()


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request, tmp_path) as url:
        yield url


@pytest.fixture
def api(kestrel_policy: Policy, database: str, clock: MovingClock) -> Iterator[ConsentApi]:
    with serve(kestrel_policy, database, clock) as api:
        yield api


@pytest.fixture(autouse=True)
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    capture_logs(caplog)
    yield
    assert_logs_hold_no_personal_data(caplog)


# -- a write is answered once it is committed --------------------------------------------------


class WatchResponses:
    """ASGI middleware calling ``on_start(path)`` just before a response starts to be sent."""

    def __init__(self, app: Any, on_start: Any) -> None:
        self.app = app
        self.on_start = on_start

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.on_start(scope["path"])
            await send(message)

        await self.app(scope, receive, watch if scope["type"] == "http" else send)


def test_a_write_is_committed_and_its_decision_current_before_the_answer_is_sent(
    api: ConsentApi,
) -> None:
    subject = api.subject()
    assert api.reason(subject, "newsletter") == "no_consent"  # now in the decision cache
    seen: dict[str, Any] = {}

    def on_start(path: str) -> None:
        if path.endswith("/consents"):
            with api.engine.connect() as connection:
                seen["stored"] = connection.scalar(select(func.count()).select_from(ConsentEvent))
            seen["decision"] = api.app.state.site.decisions.allows(subject, "newsletter").reason

    # A second client on the running app (outside `with`, so it does not start it again).
    watched = TestClient(WatchResponses(api.app, on_start))
    response = watched.post(
        f"{API}/subjects/{subject}/consents",
        json={"events": [{"purpose": "newsletter", "state": "given"}]},
        headers=api.headers("consent:write"),
    )
    assert response.status_code == 201, response.text
    # A caller that asks the moment it has its 201 is told what it just recorded.
    assert seen == {"stored": 1, "decision": "consent"}


def test_a_write_whose_commit_fails_is_not_answered_as_done(api: ConsentApi) -> None:
    subject = api.subject()
    sessions = api.app.state.site.sessions

    def fail(session: Session) -> None:
        raise RuntimeError("the database went away")

    event.listen(sessions, "before_commit", fail)
    try:
        response = api.post(
            f"/subjects/{subject}/consents",
            "consent:write",
            {"events": [{"purpose": "newsletter", "state": "given"}]},
        )
    finally:
        event.remove(sessions, "before_commit", fail)
    assert_error(response, 500, "Something went wrong on our side")
    assert api.consents(subject)["history"] == []
    assert api.reason(subject, "newsletter") == "no_consent"


# -- POST /subjects/{subject_id}/consents: refused input -----------------------------------------

GIVEN = {"purpose": "newsletter", "state": "given"}


@pytest.mark.parametrize(
    ("events", "fields"),
    [
        # An email address sent where a purpose belongs: named, not repeated.
        ([GIVEN, {"purpose": EMAIL, "state": "given"}], ["events[1].purpose"]),
        ([GIVEN, GIVEN | {"categories": ["user.name", EMAIL]}], ["events[1].categories[1]"]),
        ([GIVEN | {"categories": ["user.financial"]}], ["events[0].categories[0]"]),
        ([GIVEN | {"state": 3}], ["events[0].state"]),
        ([GIVEN | {"state": "expired"}], ["events[0].state"]),
        ([GIVEN | {"categories": "user.name"}], ["events[0].categories"]),
        ([GIVEN | {"acted_by": ["parent"]}], ["events[0].acted_by"]),
        ([{"purpose": "newsletter"}], ["events[0].state"]),
        ([{"state": "given"}, {}], ["events[0].purpose", "events[1].purpose", "events[1].state"]),
        ([GIVEN | {"email": EMAIL}], ["events[0].email"]),
        ([GIVEN | {"jurisdiction": "us-tx-tdpsa"}], ["events[0].jurisdiction"]),
        ([GIVEN | {"language": "not a language"}], ["events[0].language"]),
        ([GIVEN | {"method": "carrier_pigeon"}], ["events[0].method"]),
        ([], ["events"]),
        ([GIVEN] * 1001, ["events"]),
    ],
)
def test_recording_refuses_bad_events_naming_the_field_and_writes_nothing(
    api: ConsentApi, events: list[dict[str, Any]], fields: list[str]
) -> None:
    subject = api.subject()
    with api.nothing_written():
        response = api.post(f"/subjects/{subject}/consents", "consent:write", {"events": events})
        assert_invalid(response, *fields)
    assert api.consents(subject)["history"] == []


def test_an_undeclared_purpose_or_category_is_explained_without_repeating_it(
    api: ConsentApi,
) -> None:
    subject = api.subject()
    body = {"events": [GIVEN, {"purpose": EMAIL, "state": "given"}]}
    response = api.post(f"/subjects/{subject}/consents", "consent:write", body)
    message = assert_invalid(response, "events[1].purpose")["events[1].purpose"]
    assert message.startswith("is not a declared purpose; declared: answer_inquiries, ")
    body = {"events": [GIVEN | {"categories": [EMAIL]}]}
    response = api.post(f"/subjects/{subject}/consents", "consent:write", body)
    message = assert_invalid(response, "events[0].categories[0]")["events[0].categories[0]"]
    assert message == (
        "is not a data category of purpose 'newsletter'; its categories: "
        "user.name, user.contact.email"
    )
    response = api.post(
        f"/subjects/{subject}/signals", "consent:write", {"kind": "objection", "purpose": EMAIL}
    )
    assert assert_invalid(response, "purpose") == {"purpose": "is not a declared purpose"}
    response = api.post(
        f"/subjects/{subject}/consents/withdraw",
        "consent:write",
        {"purposes": ["newsletter", EMAIL]},
    )
    assert assert_invalid(response, "purposes[1]") == {
        "purposes[1]": "is not a declared purpose; declared: "
        + ", ".join(api.app.state.site.policy.purposes)
    }
