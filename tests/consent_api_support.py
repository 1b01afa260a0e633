"""What the consent and decision API tests share: an app on a clock the test moves, keys by
scope, the routes called by name, and the personal data that must never come back out."""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from apikey_support import CREATED, MovingClock, database_text, make_key
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from pg_support import postgres_schema
from sqlalchemy import Engine

from troth.audit import export_events, verify_chain
from troth.declaration import Policy
from troth.subjects import Keyring, MasterKey
from troth.web import create_app
from troth.web.api import DEFAULT_MAX_BODY_BYTES

API = "/api/v1"
SCOPES = ("consent:read", "consent:write", "decide", "subjects:read")

EMAIL = "ada.lovelace@example.com"
OTHER_EMAIL = "grace.hopper@example.org"
PHONE = "+919876543210"
BROWSER_ID = "bQx2mV9kLp4Rt8Wz3Yn7Hc"
EXTERNAL_ID = "kestrel-user-5521"
# Every identity value the tests send. None may come back in an answer or an error, or reach a
# log line, the audit trail or the database in plain text.
PERSONAL = (EMAIL, OTHER_EMAIL, PHONE, BROWSER_ID, EXTERNAL_ID)
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"

GIVEN = {"purpose": "newsletter", "state": "given"}
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
NEWSLETTER_EXPIRES = CREATED.replace(year=CREATED.year + 2)  # consent_expires_after: P2Y

# For tests that run on SQLite and on PostgreSQL: @ON_EACH_DATABASE on the test, which then
# takes the `api` fixture (conftest.py) as usual.
ON_EACH_DATABASE = pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@contextmanager
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLite in ``tmp_path``, unless the test asked for PostgreSQL (a throwaway schema)."""
    kind = getattr(request, "param", "sqlite")
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'troth.db'}"
    else:
        with postgres_schema(request.getfixturevalue("postgres_url"), "troth_api") as url:
            yield url


class ConsentApi:
    """A running app and its test client, with one key per set of scopes."""

    def __init__(self, app: FastAPI, client: TestClient, clock: MovingClock) -> None:
        self.app = app
        self.client = client
        self.clock = clock
        self._keys: dict[frozenset[str], tuple[str, str]] = {}

    @property
    def engine(self) -> Engine:
        engine: Engine = self.app.state.site.engine
        return engine

    def key(self, *scopes: str) -> tuple[str, str]:
        """The id and text of a key holding exactly ``scopes`` (made once per set)."""
        wanted = frozenset(scopes)
        if wanted not in self._keys:
            row, text = make_key(self.engine, sorted(wanted), name=" ".join(sorted(wanted)))
            self._keys[wanted] = (row.id, text)
        return self._keys[wanted]

    def headers(self, *scopes: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key(*scopes)[1]}"}

    def call(
        self,
        method: str,
        path: str,
        scopes: tuple[str, ...],
        body: Any = None,
        params: dict[str, str] | None = None,
    ) -> Response:
        return self.client.request(
            method, API + path, json=body, params=params, headers=self.headers(*scopes)
        )

    def get(self, path: str, scope: str, **params: str) -> Response:
        return self.call("GET", path, (scope,), params=params or None)

    def post(self, path: str, scope: str, body: Any) -> Response:
        return self.call("POST", path, (scope,), body)

    # The routes, answered as they should be ---------------------------------------------------

    def subject(self, kind: str = "email", value: str = EMAIL) -> str:
        """The subject of an identity, found or created by ``POST /subjects``."""
        response = self.post(
            "/subjects", "consent:write", {"identity": {"kind": kind, "value": value}}
        )
        assert response.status_code == 200, response.text
        subject_id: str = response.json()["subject_id"]
        return subject_id

    def record(self, subject_id: str, *events: str | dict[str, Any]) -> list[str]:
        """Record events (a purpose alone means given); their record ids."""
        body = {
            "events": [
                {"purpose": e, "state": "given"} if isinstance(e, str) else e for e in events
            ]
        }
        response = self.post(f"/subjects/{subject_id}/consents", "consent:write", body)
        assert response.status_code == 201, response.text
        return [item["record_id"] for item in response.json()["recorded"]]

    def withdraw(self, subject_id: str, *purposes: str) -> dict[str, str]:
        """Withdraw (every consent, when no purpose is named); purpose to record id."""
        body = {"purposes": list(purposes)} if purposes else {}
        response = self.post(f"/subjects/{subject_id}/consents/withdraw", "consent:write", body)
        assert response.status_code == 200, response.text
        return {item["purpose"]: item["record_id"] for item in response.json()["withdrawn"]}

    def signal(self, subject_id: str, kind: str, **fields: Any) -> dict[str, Any]:
        response = self.post(
            f"/subjects/{subject_id}/signals", "consent:write", {"kind": kind, **fields}
        )
        assert response.status_code == 201, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def consents(self, subject_id: str, **params: str) -> dict[str, Any]:
        response = self.get(f"/subjects/{subject_id}/consents", "consent:read", **params)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def decide(self, subject_id: str, purpose: str) -> dict[str, Any]:
        response = self.get("/decisions", "decide", subject=subject_id, purpose=purpose)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        assert answer["subject"] == subject_id and answer["purpose"] == purpose
        return answer

    def reason(self, subject_id: str, purpose: str) -> str:
        reason: str = self.decide(subject_id, purpose)["reason"]
        return reason

    # What is stored ----------------------------------------------------------------------------

    def audit(self) -> list[dict[str, Any]]:
        """The audit trail as exported, one dict per event."""
        return [json.loads(line) for line in self.audit_export().splitlines()]

    def audit_export(self) -> str:
        stream = io.StringIO()
        with self.app.state.site.sessions() as session:
            export_events(session, stream)
        return stream.getvalue()

    def check_audit_trail(self) -> None:
        """The chain verifies, and no identity value is in it."""
        with self.app.state.site.sessions() as session:
            result = verify_chain(session)
        assert result.ok, result.message
        assert_no_personal_data(self.audit_export())

    def snapshot(self) -> str:
        """Every value in every table."""
        return database_text(self.engine)

    @contextmanager
    def nothing_written(self) -> Iterator[None]:
        """Assert that the block leaves the audit trail and every table as they were."""
        audit, tables = self.audit_export(), self.snapshot()
        yield
        assert self.audit_export() == audit, "the audit trail changed"
        assert self.snapshot() == tables, "a table changed"


@contextmanager
def serve(policy: Policy, db_url: str, clock: MovingClock, **options: Any) -> Iterator[ConsentApi]:
    """The app for ``policy`` on ``db_url`` with a master key, started; its audit trail is
    checked when the test is done. ``options`` go to ``create_app``."""
    app = create_app(policy, db_url, clock=clock, keyring=Keyring(MasterKey.generate()), **options)
    with TestClient(app) as client:
        api = ConsentApi(app, client, clock)
        yield api
        api.check_audit_trail()
        assert_no_personal_data(api.snapshot())


def assert_no_personal_data(text: str) -> None:
    for value in PERSONAL:
        assert value not in text, "an identity value came out"
        assert value.lower() not in text.lower(), "an identity value came out"


def assert_logs_hold_no_personal_data(caplog: pytest.LogCaptureFixture) -> None:
    """Call from a fixture's teardown: checks what setup, the test and teardown logged."""
    records = [*caplog.get_records("setup"), *caplog.get_records("call"), *caplog.records]
    for record in records:
        assert_no_personal_data(record.getMessage())
        if record.exc_text:
            assert_no_personal_data(record.exc_text)


def capture_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Keep everything troth logs, down to DEBUG (SQLAlchemy's statement log stays off)."""
    caplog.set_level(logging.DEBUG, logger="troth")


def assert_error(response: Response, status: int, message: str = "") -> dict[str, Any]:
    """The error body of ``response``, checked: its status and part of its message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error: dict[str, Any] = response.json()["error"]
    assert error["status"] == status
    assert message in error["message"], error["message"]
    return error


def assert_invalid(response: Response, *fields: str, where: str = "body") -> dict[str, str]:
    """A 422 naming exactly ``fields`` (in ``where``), echoing no identity value; field to its
    message."""
    error = assert_error(response, 422, "The request is not valid")
    named = {item["field"]: item for item in error["fields"]}
    assert sorted(named) == sorted(fields), error["fields"]
    assert {item["in"] for item in named.values()} == {where}
    assert '"input"' not in response.text  # pydantic's echo of the value
    assert_no_personal_data(response.text)
    return {field: item["message"] for field, item in named.items()}


def oversized_body() -> bytes:
    """A JSON body one byte over the API's limit."""
    start, end = b'{"padding": "', b'"}'
    return start + b"x" * (DEFAULT_MAX_BODY_BYTES + 1 - len(start) - len(end)) + end


def with_ids(body: Any, subject: str = UNKNOWN_ID, record: str = UNKNOWN_ID) -> Any:
    """``body`` with SUBJECT and RECORD replaced by these ids."""
    text = json.dumps(body).replace("SUBJECT", subject).replace("RECORD", record)
    return json.loads(text)


def audit_actions(api: ConsentApi) -> list[str]:
    return [event["action"] for event in api.audit()]


def given_subject(api: ConsentApi) -> tuple[str, str]:
    """A subject with consent to the newsletter, and that consent's record id."""
    subject = api.subject()
    [record] = api.record(subject, "newsletter")
    return subject, record


def at_once(api: ConsentApi, calls: list[tuple[str, Any]]) -> list[Response]:
    """POST each (path, body) from its own thread, all released together."""
    headers = api.headers("consent:write")
    start = threading.Barrier(len(calls))

    def post(call: tuple[str, Any]) -> Response:
        client = TestClient(api.app)  # on the running app, not started again
        start.wait()
        return client.post(API + call[0], json=call[1], headers=headers)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(post, calls))


def ask_many(api: ConsentApi, pairs: list[tuple[str, str]]) -> Response:
    queries = [{"subject": subject, "purpose": purpose} for subject, purpose in pairs]
    return api.post("/decisions", "decide", {"queries": queries})


def reasons(api: ConsentApi, subject: str, *purposes: str) -> dict[str, str]:
    return {purpose: api.reason(subject, purpose) for purpose in purposes}
