"""The rights-request routes: keys and scopes, bad input named by field, unknown ids, illegal
moves, and a request read back with its deadlines and timeline, never its requester."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from consent_api_support import (
    EMAIL,
    ON_EACH_DATABASE,
    OTHER_EMAIL,
    UNKNOWN_ID,
    ConsentApi,
    assert_error,
    assert_invalid,
)

pytestmark = pytest.mark.usefixtures("no_personal_data_in_logs")

READ, WRITE = "requests:read", "requests:write"
ROUTES = [
    ("POST", "/requests", WRITE, {"kind": "access", "email": EMAIL}),
    ("POST", f"/requests/{UNKNOWN_ID}/verify", WRITE, {"method": "email_code"}),
    ("GET", f"/requests/{UNKNOWN_ID}", READ, None),
    ("GET", "/requests", READ, None),
]


def _create(api: ConsentApi, **fields: Any) -> dict[str, Any]:
    response = api.post("/requests", WRITE, {"kind": "access", "email": EMAIL} | fields)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


@pytest.mark.parametrize(("method", "path", "scope", "body"), ROUTES)
def test_every_route_needs_a_key_with_its_scope(
    api: ConsentApi, method: str, path: str, scope: str, body: object
) -> None:
    others = [s for s in (READ, WRITE, "consent:write") if s != scope]
    api.key(*others)
    with api.nothing_written():
        anonymous = api.client.request(method, "/api/v1" + path, json=body)
        assert_error(anonymous, 401, "An API key is required")
        wrong = api.call(method, path, tuple(others), body)
        assert_error(wrong, 403, f"lacks the scope '{scope}'")


@ON_EACH_DATABASE
def test_a_request_is_taken_in_and_read_back(api: ConsentApi) -> None:
    created = _create(api, jurisdiction="eu-gdpr")
    assert created["state"] == "received" and created["kind"] == "access"
    received = api.clock()
    assert created["deadlines"]["complete_by"] == (received + timedelta(days=30)).isoformat()
    assert created["deadlines"]["next"] == "complete"
    assert [e["action"] for e in created["timeline"]] == [
        "request_received",
        "request_acknowledged",
    ]
    verified = api.post(f"/requests/{created['id']}/verify", WRITE, {"method": "email_code"})
    assert verified.status_code == 200, verified.text
    read = api.get(f"/requests/{created['id']}", READ)
    assert read.status_code == 200
    body = read.json()
    assert body["state"] == "verified" and body["verification_method"] == "email_code"
    assert body["timeline"][-1]["from"] == "received" and body["timeline"][-1]["to"] == "verified"
    assert EMAIL not in read.text
    api.check_audit_trail()


def test_a_channel_that_verified_says_so_at_intake(api: ConsentApi) -> None:
    created = _create(
        api,
        kind="correction",
        proposed={"user.name": "Ada King"},
        acting_as="nominee",
        requester_email=OTHER_EMAIL,
        relationship="nominated by the subject",
        verified_by="account",
    )
    assert created["state"] == "verified" and created["acting_as"] == "nominee"
    text = str(created)
    assert "Ada King" not in text and OTHER_EMAIL not in text


def test_the_queue_lists_overdue_first_with_filters(api: ConsentApi) -> None:
    first = _create(api)
    api.clock.advance(timedelta(days=10).total_seconds())
    second = _create(api, email=OTHER_EMAIL, kind="erasure")
    api.clock.advance(timedelta(days=25).total_seconds())  # the first is now overdue
    listing = api.get("/requests", READ)
    assert listing.status_code == 200
    ids = [r["id"] for r in listing.json()["requests"]]
    assert ids == [first["id"], second["id"]]
    assert listing.json()["requests"][0]["deadlines"]["overdue"] is True
    only = api.get("/requests", READ, kind="erasure").json()["requests"]
    assert [r["id"] for r in only] == [second["id"]]
    overdue = api.get("/requests", READ, overdue="true").json()["requests"]
    assert [r["id"] for r in overdue] == [first["id"]]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "sell"}, "kind"),
        ({"kind": "correction"}, "proposed"),
        ({"email": "nobody"}, "email"),
        ({"acting_as": "parent"}, "relationship"),
        ({"acting_as": "parent", "relationship": "mother"}, "requester_email"),
        ({"jurisdiction": "uk-gdpr"}, "jurisdiction"),
        ({"verified_by": "Email Code"}, "verified_by"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_requests_are_422_naming_the_field_and_write_nothing(
    api: ConsentApi, changes: dict[str, Any], field: str
) -> None:
    api.key(WRITE)
    with api.nothing_written():
        response = api.post("/requests", WRITE, {"kind": "access", "email": EMAIL} | changes)
        assert_invalid(response, field)


def test_unknown_ids_are_404_and_illegal_moves_409(api: ConsentApi) -> None:
    api.key(READ)
    api.key(WRITE)
    with api.nothing_written():
        assert_error(api.get(f"/requests/{UNKNOWN_ID}", READ), 404, "no such request")
        verify = api.post(f"/requests/{UNKNOWN_ID}/verify", WRITE, {"method": "email_code"})
        assert_error(verify, 404, "no such request")
        assert_invalid(api.get("/requests/not-a-uuid", READ), "request_id", where="path")
        assert_invalid(api.get("/requests", READ, state="lost"), "state", where="query")
    created = _create(api)
    path = f"/requests/{created['id']}/verify"
    assert api.post(path, WRITE, {"method": "email_code"}).status_code == 200
    with api.nothing_written():
        again = api.post(path, WRITE, {"method": "email_code"})
        assert_error(again, 409, "cannot go from verified to verified")
