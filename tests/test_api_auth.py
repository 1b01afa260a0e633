"""The JSON API at /api/v1: API keys and scopes on every route, JSON errors, limits, OpenAPI."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, Literal

import pytest
from apikey_support import CREATED, OPERATOR, MovingClock, make_key
from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field
from sqlalchemy import Engine, event

import troth.web.api
from troth.apikeys import DEFAULT_TTL, AuthenticatedKey, revoke_key
from troth.declaration import Policy
from troth.store import make_engine, make_sessionmaker, upgrade
from troth.web import create_app
from troth.web.api import DEFAULT_MAX_BODY_BYTES, InvalidInput, require_key, require_scope

REVOKED_AT = CREATED + timedelta(minutes=1)

# A router standing in for the consent and decision routes to come: a body, a query, a failure.
probe = APIRouter()


class ProbeEvent(BaseModel):
    purpose: Literal["marketing", "analytics"]
    subject: str = Field(pattern=r"^sub_[0-9a-f]+$")
    count: int


class ProbeBatch(BaseModel):
    events: list[ProbeEvent]


@probe.post("/probe/events")
def probe_events(
    batch: ProbeBatch, key: AuthenticatedKey = Depends(require_scope("consent:write"))
) -> dict[str, Any]:
    return {"received": len(batch.events), "actor": key.actor.id}


@probe.get("/probe/decide")
def probe_decide(
    limit: int = Query(10), key: AuthenticatedKey = Depends(require_scope("decide"))
) -> dict[str, Any]:
    return {"limit": limit}


@probe.post("/probe/checked")
def probe_checked(
    batch: ProbeBatch, key: AuthenticatedKey = Depends(require_scope("consent:write"))
) -> None:
    raise InvalidInput(
        *((f"events[{n}].purpose", "is not a declared purpose") for n in range(len(batch.events)))
    )


@probe.get("/probe/public")
def probe_public() -> dict[str, str]:
    return {"ok": "yes"}


@probe.get("/probe/fails")
def probe_fails(key: AuthenticatedKey = Depends(require_key())) -> None:
    raise RuntimeError("could not reach alice@example.com")


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> MovingClock:
    return MovingClock()


@pytest.fixture
def app(
    engine: Engine,
    sqlite_url: str,
    kestrel_policy: Policy,
    clock: MovingClock,
    monkeypatch: pytest.MonkeyPatch,
) -> FastAPI:
    monkeypatch.setattr(troth.web.api, "ROUTERS", [*troth.web.api.ROUTERS, probe])
    return create_app(kestrel_policy, sqlite_url, clock=clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_error(response: Any, status: int, message: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["status"] == status
    assert message in error["message"], error["message"]
    return dict(error)


EVENTS = {"events": [{"purpose": "marketing", "subject": "sub_1a", "count": 1}]}

# -- authentication and scopes -----------------------------------------------------------------


def test_no_key_is_401_asking_for_a_bearer_key(client: TestClient) -> None:
    for path in ("/api/v1/whoami", "/api/v1/probe/decide"):
        response = client.get(path)
        assert_error(response, 401, "An API key is required")
        assert response.headers["www-authenticate"] == "Bearer"
    response = client.post("/api/v1/probe/events", json=EVENTS)
    assert_error(response, 401, "An API key is required")


def test_another_authorization_scheme_counts_as_no_key(client: TestClient, engine: Engine) -> None:
    _, key = make_key(engine, ["decide"])
    response = client.get("/api/v1/whoami", headers={"Authorization": f"Basic {key}"})
    assert_error(response, 401, "An API key is required")


@pytest.mark.parametrize(
    "presented",
    [
        "not-a-key",
        "troth_aaaaaaaaaaaa_" + "A" * 43,  # well formed, unknown
        "WRONG_SECRET",
    ],
)
def test_a_wrong_key_is_401(client: TestClient, engine: Engine, presented: str) -> None:
    _, key = make_key(engine, ["decide"])
    if presented == "WRONG_SECRET":
        presented = key[:-1] + ("B" if key[-1] != "B" else "C")
    for headers in (bearer(presented), {"X-API-Key": presented}):
        response = client.get("/api/v1/probe/decide", headers=headers)
        assert_error(response, 401, "malformed, unknown or revoked")
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert presented not in response.text


def test_a_revoked_key_is_401(client: TestClient, engine: Engine) -> None:
    row, key = make_key(engine, ["decide"])
    with make_sessionmaker(engine).begin() as session:
        revoke_key(session, row.id, now=REVOKED_AT, actor=OPERATOR)
    assert_error(client.get("/api/v1/probe/decide", headers=bearer(key)), 401, "revoked")
    assert_error(client.get("/api/v1/whoami", headers=bearer(key)), 401, "revoked")


def test_a_key_without_the_scope_is_403_naming_it(client: TestClient, engine: Engine) -> None:
    _, key = make_key(engine, ["consent:read", "consent:write"])
    response = client.get("/api/v1/probe/decide", headers=bearer(key))
    assert_error(response, 403, "lacks the scope 'decide'")
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="decide"'
    )
    _, decider = make_key(engine, ["decide"])
    response = client.post("/api/v1/probe/events", json=EVENTS, headers=bearer(decider))
    assert_error(response, 403, "lacks the scope 'consent:write'")


def test_a_key_with_the_scope_is_let_through(client: TestClient, engine: Engine) -> None:
    row, key = make_key(engine, ["decide", "consent:write"])
    response = client.get("/api/v1/probe/decide?limit=3", headers=bearer(key))
    assert response.status_code == 200, response.text
    assert response.json() == {"limit": 3}
    response = client.post("/api/v1/probe/events", json=EVENTS, headers={"X-API-Key": key})
    assert response.status_code == 200, response.text
    assert response.json() == {"received": 1, "actor": row.id}
    lower = client.get("/api/v1/probe/decide", headers={"Authorization": f"bearer {key}"})
    assert lower.status_code == 200


def test_a_route_without_a_key_dependency_needs_no_key(client: TestClient) -> None:
    assert client.get("/api/v1/probe/public").json() == {"ok": "yes"}


def test_whoami_answers_any_valid_key_with_its_id_name_and_scopes(
    client: TestClient, engine: Engine
) -> None:
    row, key = make_key(engine, ["subjects:read", "consent:read"], name="crm sync")
    response = client.get("/api/v1/whoami", headers=bearer(key))
    assert response.status_code == 200
    assert response.json() == {
        "key_id": row.id,
        "name": "crm sync",
        "scopes": ["consent:read", "subjects:read"],
    }


def test_require_scope_refuses_an_unknown_scope_when_the_route_is_written() -> None:
    with pytest.raises(ValueError, match="unknown scope 'consent:delete'"):
        require_scope("consent:delete")


def test_keys_are_checked_from_memory_not_with_a_query_per_request(
    app: FastAPI, client: TestClient, engine: Engine
) -> None:
    _, key = make_key(engine, ["decide"])
    statements: list[str] = []
    event.listen(
        app.state.site.engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_: statements.append(statement),
    )
    for _ in range(50):
        assert client.get("/api/v1/whoami", headers=bearer(key)).status_code == 200
    assert len([s for s in statements if "api_keys" in s]) == 1


def test_a_revocation_reaches_a_running_server_within_the_ttl(
    client: TestClient, engine: Engine, clock: MovingClock
) -> None:
    row, key = make_key(engine, ["decide"])
    assert client.get("/api/v1/whoami", headers=bearer(key)).status_code == 200
    with make_sessionmaker(engine).begin() as session:
        revoke_key(session, row.id, now=REVOKED_AT, actor=OPERATOR)
    clock.advance(DEFAULT_TTL.total_seconds())
    assert_error(client.get("/api/v1/whoami", headers=bearer(key)), 401, "revoked")


# -- errors ------------------------------------------------------------------------------------


def test_a_validation_error_names_each_field_without_echoing_values(
    client: TestClient, engine: Engine
) -> None:
    _, key = make_key(engine, ["consent:write"])
    body = {
        "events": [
            {"purpose": "marketing", "subject": "sub_1a", "count": 1},
            {"purpose": "alice@example.com", "subject": "sub_2b", "count": 2},
            {"purpose": "analytics", "subject": "bob@example.com", "count": "many-9241"},
        ]
    }
    response = client.post("/api/v1/probe/events", json=body, headers=bearer(key))
    error = assert_error(response, 422, "The request is not valid: 3 fields are wrong")
    fields = {item["field"]: item for item in error["fields"]}
    assert set(fields) == {"events[1].purpose", "events[2].subject", "events[2].count"}
    assert all(item["in"] == "body" for item in fields.values())
    assert "'marketing' or 'analytics'" in fields["events[1].purpose"]["message"]
    assert "integer" in fields["events[2].count"]["message"]
    for value in ("alice@example.com", "bob@example.com", "many-9241"):
        assert value not in response.text
    assert "input" not in response.text


def test_a_missing_field_and_a_bad_query_parameter_are_named(
    client: TestClient, engine: Engine
) -> None:
    _, key = make_key(engine, ["consent:write", "decide"])
    response = client.post("/api/v1/probe/events", json={"events": [{}]}, headers=bearer(key))
    error = assert_error(response, 422, "3 fields are wrong")
    assert {(f["field"], f["message"]) for f in error["fields"]} == {
        ("events[0].purpose", "Field required"),
        ("events[0].subject", "Field required"),
        ("events[0].count", "Field required"),
    }
    response = client.get("/api/v1/probe/decide?limit=lots", headers=bearer(key))
    error = assert_error(response, 422, "1 field is wrong")
    [field] = error["fields"]
    assert (field["field"], field["in"]) == ("limit", "query")
    assert "lots" not in response.text


def test_malformed_json_and_a_missing_body_are_named_as_the_body(
    client: TestClient, engine: Engine
) -> None:
    _, key = make_key(engine, ["consent:write"])
    headers = bearer(key) | {"Content-Type": "application/json"}
    response = client.post("/api/v1/probe/events", content=b'{"events": [', headers=headers)
    error = assert_error(response, 422, "1 field is wrong")
    [field] = error["fields"]
    assert (field["field"], field["in"]) == ("body", "body")
    assert field["message"].startswith("The body is not valid JSON")
    response = client.post("/api/v1/probe/events", headers=bearer(key))
    error = assert_error(response, 422, "1 field is wrong")
    assert error["fields"][0]["field"] == "body"


def test_a_route_names_fields_its_schema_could_not_check_in_the_same_shape(
    client: TestClient, engine: Engine
) -> None:
    _, key = make_key(engine, ["consent:write"])
    body = {"events": [EVENTS["events"][0], EVENTS["events"][0]]}
    response = client.post("/api/v1/probe/checked", json=body, headers=bearer(key))
    error = assert_error(response, 422, "2 fields are wrong")
    assert error["fields"] == [
        {"field": "events[0].purpose", "in": "body", "message": "is not a declared purpose"},
        {"field": "events[1].purpose", "in": "body", "message": "is not a declared purpose"},
    ]


def test_unknown_paths_and_methods_are_json_errors(client: TestClient) -> None:
    response = client.get("/api/v1/no/such/thing")
    assert_error(response, 404, "there is no such endpoint (they are listed at /api/v1/docs)")
    assert response.json()["error"]["fields"] == []
    response = client.delete("/api/v1/whoami")
    assert_error(response, 405, "Method DELETE is not allowed here; allowed: GET")
    assert response.headers["allow"] == "GET"
    # The HTML pages keep their HTML errors.
    page = client.get("/no/such/page")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")


def test_an_unexpected_exception_is_a_bare_500_logged_without_its_message(
    client: TestClient, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    _, key = make_key(engine, ["decide"])
    with caplog.at_level(logging.ERROR, logger="troth.web.api"):
        response = client.get("/api/v1/probe/fails", headers=bearer(key))
    assert_error(response, 500, "Something went wrong on our side")
    assert "alice" not in response.text and "RuntimeError" not in response.text
    [record] = [r for r in caplog.records if r.name == "troth.web.api"]
    logged = record.getMessage()
    assert "unexpected RuntimeError in GET /api/v1/probe/fails" in logged
    assert "probe_fails" in logged  # where it happened
    assert "alice@example.com" not in logged
    assert record.exc_info is None


def test_api_responses_carry_the_security_headers(client: TestClient) -> None:
    headers = client.get("/api/v1/whoami").headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"].startswith("default-src 'none'")


# -- body size ---------------------------------------------------------------------------------


def padded_body(size: int) -> bytes:
    """A valid batch of exactly ``size`` bytes (the padding is a field the model ignores)."""
    start, end = b'{"events": [], "padding": "', b'"}'
    return start + b"x" * (size - len(start) - len(end)) + end


def test_a_body_at_the_limit_is_read(client: TestClient, engine: Engine) -> None:
    _, key = make_key(engine, ["consent:write"])
    body = padded_body(DEFAULT_MAX_BODY_BYTES)
    headers = bearer(key) | {"Content-Type": "application/json"}
    response = client.post("/api/v1/probe/events", content=body, headers=headers)
    assert response.status_code == 200, response.text


def test_a_declared_oversized_body_is_413_before_anything_else(client: TestClient) -> None:
    body = padded_body(DEFAULT_MAX_BODY_BYTES + 1)
    response = client.post(
        "/api/v1/probe/events", content=body, headers={"Content-Type": "application/json"}
    )
    error = assert_error(response, 413, f"larger than the limit of {DEFAULT_MAX_BODY_BYTES} bytes")
    assert error["fields"] == []


def test_an_oversized_chunked_body_is_413(client: TestClient, engine: Engine) -> None:
    _, key = make_key(engine, ["consent:write"])
    body = padded_body(4 * DEFAULT_MAX_BODY_BYTES)
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 16 * 1024):
            sent.append(start)
            yield body[start : start + 16 * 1024]

    headers = bearer(key) | {"Content-Type": "application/json"}
    response = client.post("/api/v1/probe/events", content=chunks(), headers=headers)
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert_error(response, 413, "larger than the limit")


def test_a_non_numeric_content_length_is_400(client: TestClient) -> None:
    response = client.post(
        "/api/v1/probe/events", content=b"{}", headers={"Content-Length": "12abc"}
    )
    assert_error(response, 400, "The Content-Length header is not a number of bytes")


def post_raw(app: FastAPI, content_length: int, chunks: int) -> tuple[int, dict[str, Any], int]:
    """POST 64 KiB chunks straight through ASGI, as a server passes on what a client sends,
    whatever Content-Length it claimed: the status, the JSON answer, and how many chunks the
    app read."""
    chunk = b"x" * (64 * 1024)
    read = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": chunk, "more_body": read < chunks}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/probe/events",
        "raw_path": b"/api/v1/probe/events",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"),
                    (b"content-length", str(content_length).encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    assert sent[0]["type"] == "http.response.start"
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return sent[0]["status"], json.loads(body), read


def test_a_body_longer_than_its_content_length_is_cut_off_at_the_limit(app: FastAPI) -> None:
    status, answer, read = post_raw(app, content_length=10, chunks=100)
    assert status == answer["error"]["status"] == 413
    # Reading stopped at the first chunk past the limit.
    assert read == DEFAULT_MAX_BODY_BYTES // (64 * 1024) + 1


def test_a_declared_oversized_body_is_not_read_at_all(app: FastAPI) -> None:
    status, answer, read = post_raw(app, content_length=DEFAULT_MAX_BODY_BYTES + 1, chunks=5)
    assert status == answer["error"]["status"] == 413
    assert read == 0


# -- the reference -----------------------------------------------------------------------------


def test_the_openapi_document_lists_the_security_schemes_and_scopes(client: TestClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["servers"] == [{"url": "/api/v1"}]
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "troth_<id>_<secret>",
        "description": schemes["bearer"]["description"],
    }
    assert schemes["apiKeyHeader"]["in"] == "header"
    assert schemes["apiKeyHeader"]["name"] == "X-API-Key"
    whoami = schema["paths"]["/whoami"]["get"]
    assert {"bearer": []} in whoami["security"] and {"apiKeyHeader": []} in whoami["security"]
    assert whoami["x-troth-scopes"] == []
    assert set(whoami["responses"]) == {"200", "401"}
    events = schema["paths"]["/probe/events"]["post"]
    assert events["x-troth-scopes"] == ["consent:write"]
    assert "**Requires:** `consent:write`." in events["description"]
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    for status in ("401", "403", "413", "422"):
        assert events["responses"][status]["content"]["application/json"]["schema"] == error_ref
    assert "x-troth-scopes" not in schema["paths"]["/probe/public"]["get"]
    assert "security" not in schema["paths"]["/probe/public"]["get"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    field = schema["components"]["schemas"]["FieldError"]
    assert set(field["properties"]) == {"field", "in", "message"}


def test_the_reference_page_has_a_policy_of_its_own(client: TestClient) -> None:
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert "/api/v1/openapi.json" in response.text
    policy = response.headers["content-security-policy"]
    [inline] = re.findall(r"<script>(.*?)</script>", response.text, re.S)
    digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
    assert f"script-src https://cdn.jsdelivr.net 'sha256-{digest}';" in policy
    assert "connect-src 'self'" in policy
    assert "unsafe-eval" not in policy
    # Every other page keeps the strict policy.
    assert "script-src" not in client.get("/privacy").headers["content-security-policy"]


def test_the_api_root_points_at_its_reference(client: TestClient) -> None:
    assert client.get("/api/v1/").json() == {
        "openapi": "/api/v1/openapi.json",
        "reference": "/api/v1/docs",
    }
