"""What every consent route of /api/v1 answers before it does any work: a key with the route's
scope and no other, the body limit, and subject ids that are unknown or not ids at all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from consent_api_support import (
    API,
    EMAIL,
    EXTERNAL_ID,
    GIVEN,
    PHONE,
    SCOPES,
    UNKNOWN_ID,
    ConsentApi,
    assert_error,
    assert_invalid,
    assert_logs_hold_no_personal_data,
    given_subject,
    oversized_body,
    with_ids,
)
from httpx import Response

from troth.web.api import consents

pytestmark = pytest.mark.usefixtures("no_personal_data_in_logs")


# -- keys and scopes, on every route -----------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One consent route, and a call to it that succeeds with its scope."""

    method: str
    path: str  # SUBJECT and RECORD stand for a subject's and a record's id
    scope: str
    body: Any = None
    status: int = 200

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def call(
        self,
        api: ConsentApi,
        headers: dict[str, str],
        subject: str = UNKNOWN_ID,
        record: str = UNKNOWN_ID,
    ) -> Response:
        body = None if self.body is None else with_ids(self.body, subject, record)
        path = with_ids(self.path, subject, record)
        return api.client.request(self.method, API + path, json=body, headers=headers)


ROUTES = [
    Route("POST", "/subjects", "consent:write", {"identity": {"kind": "phone", "value": PHONE}}),
    Route(
        "POST",
        "/subjects/SUBJECT/identities",
        "consent:write",
        {"kind": "external_id", "value": EXTERNAL_ID},
    ),
    Route("GET", "/subjects/SUBJECT/consents", "consent:read"),
    Route("POST", "/subjects/SUBJECT/consents", "consent:write", {"events": [GIVEN]}, 201),
    Route("POST", "/subjects/SUBJECT/consents/withdraw", "consent:write", {}),
    Route("POST", "/subjects/SUBJECT/signals", "consent:write", {"kind": "restriction"}, 201),
    Route(
        "POST", "/consents", "consent:write", {"events": [GIVEN | {"subject_id": "SUBJECT"}]}, 201
    ),
    Route("GET", "/consents/RECORD", "consent:read"),
]
SUBJECT_ROUTES = [route for route in ROUTES if route.path.startswith("/subjects/SUBJECT")]


def test_the_routes_here_are_the_consent_router_s_routes() -> None:
    tested = {
        (r.method, r.path.replace("SUBJECT", "{subject_id}").replace("RECORD", "{record_id}"))
        for r in ROUTES
    }
    served = {
        (method, route.path)
        for route in consents.router.routes
        for method in getattr(route, "methods", ())
    }
    assert tested == served


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_a_key_with_just_the_route_s_scope_is_answered(api: ConsentApi, route: Route) -> None:
    subject, record = given_subject(api)
    response = route.call(api, api.headers(route.scope), subject, record)
    assert response.status_code == route.status, response.text


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_no_key_or_a_wrong_key_is_401_and_changes_nothing(api: ConsentApi, route: Route) -> None:
    subject, record = given_subject(api)
    _, key = api.key(route.scope)
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
    with api.nothing_written():
        response = route.call(api, {}, subject, record)
        assert_error(response, 401, "An API key is required")
        assert response.headers["www-authenticate"] == "Bearer"
        for headers in ({"Authorization": f"Bearer {wrong}"}, {"X-API-Key": wrong}):
            response = route.call(api, headers, subject, record)
            assert_error(response, 401, "The API key is not valid")
            assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
            assert wrong not in response.text


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_a_key_without_the_route_s_scope_is_403_naming_it(api: ConsentApi, route: Route) -> None:
    subject, record = given_subject(api)
    # Every other scope there is, but not this one.
    headers = api.headers(*(scope for scope in SCOPES if scope != route.scope))
    with api.nothing_written():
        response = route.call(api, headers, subject, record)
        assert_error(response, 403, f"This API key lacks the scope '{route.scope}'")
        assert response.headers["www-authenticate"] == (
            f'Bearer error="insufficient_scope", scope="{route.scope}"'
        )


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_the_key_is_checked_before_the_subject_or_the_input(api: ConsentApi, route: Route) -> None:
    # An unknown subject or record, and a body that would be refused: still 401, then 403, so
    # that a caller without the scope learns nothing about which ids exist.
    headers = api.headers(*(scope for scope in SCOPES if scope != route.scope))
    with api.nothing_written():
        for body in ({"unexpected": True}, None):
            path = API + with_ids(route.path)
            response = api.client.request(route.method, path, json=body)
            assert_error(response, 401, "An API key is required")
            response = api.client.request(route.method, path, json=body, headers=headers)
            assert_error(response, 403, f"lacks the scope '{route.scope}'")


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_an_oversized_body_is_413_and_changes_nothing(api: ConsentApi, route: Route) -> None:
    subject, record = given_subject(api)
    headers = api.headers(*SCOPES) | {"Content-Type": "application/json"}
    path = API + with_ids(route.path, subject, record)
    with api.nothing_written():
        response = api.client.request(route.method, path, content=oversized_body(), headers=headers)
        error = assert_error(response, 413, "larger than the limit of 262144 bytes")
        assert error["fields"] == []


@pytest.mark.parametrize("route", SUBJECT_ROUTES, ids=str)
def test_an_unknown_subject_is_404_and_changes_nothing(api: ConsentApi, route: Route) -> None:
    headers = api.headers(route.scope)
    with api.nothing_written():
        response = route.call(api, headers, subject=UNKNOWN_ID)
        assert_error(response, 404, "no such subject")


@pytest.mark.parametrize("route", SUBJECT_ROUTES, ids=str)
def test_a_subject_id_that_is_not_a_uuid_is_422_naming_it(api: ConsentApi, route: Route) -> None:
    headers = api.headers(route.scope)
    with api.nothing_written():
        response = route.call(api, headers, subject="customer-1842")
        assert_invalid(response, "subject_id", where="path")
        assert "customer-1842" not in response.text


def test_an_email_sent_as_a_subject_id_is_not_logged(
    api: ConsentApi, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="troth.web.access"):
        response = api.get(f"/subjects/{EMAIL}/consents", "consent:read")
    assert_invalid(response, "subject_id", where="path")
    access = [r.getMessage() for r in caplog.records if r.name == "troth.web.access"]
    assert access == [
        "GET /api/v1/subjects/{subject_id}/consents 422 " + access[0].rsplit(" ", 1)[-1]
    ]
    assert_logs_hold_no_personal_data(caplog)
