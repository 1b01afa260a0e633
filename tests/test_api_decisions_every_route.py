"""What both decision routes of /api/v1 share: a key with `decide` and no other scope, the body
limit, and that asking writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from consent_api_support import (
    API,
    SCOPES,
    UNKNOWN_ID,
    ConsentApi,
    ask_many,
    assert_error,
    oversized_body,
)

from troth.web.api import decisions

pytestmark = pytest.mark.usefixtures("no_personal_data_in_logs")


# -- keys and scopes ---------------------------------------------------------------------------


def routes(subject: str) -> list[tuple[str, str, Any]]:
    """Each decision route: method, path, and a body it answers 200."""
    return [
        ("GET", f"/decisions?subject={subject}&purpose=newsletter", None),
        ("POST", "/decisions", {"queries": [{"subject": subject, "purpose": "newsletter"}]}),
    ]


ROUTE_IDS = ["GET /decisions", "POST /decisions"]


def test_the_routes_here_are_the_decision_router_s_routes() -> None:
    served = {
        (method, route.path)
        for route in decisions.router.routes
        for method in getattr(route, "methods", ())
    }
    assert served == {(method, path.split("?")[0]) for method, path, _ in routes(UNKNOWN_ID)}


@pytest.mark.parametrize("index", [0, 1], ids=ROUTE_IDS)
def test_a_key_with_just_decide_is_answered(api: ConsentApi, index: int) -> None:
    method, path, body = routes(api.subject())[index]
    response = api.call(method, path, ("decide",), body)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("index", [0, 1], ids=ROUTE_IDS)
def test_no_key_or_a_wrong_key_is_401(api: ConsentApi, index: int) -> None:
    method, path, body = routes(api.subject())[index]
    _, key = api.key("decide")
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
    response = api.client.request(method, API + path, json=body)
    assert_error(response, 401, "An API key is required")
    assert response.headers["www-authenticate"] == "Bearer"
    for headers in ({"Authorization": f"Bearer {wrong}"}, {"X-API-Key": wrong}):
        response = api.client.request(method, API + path, json=body, headers=headers)
        assert_error(response, 401, "The API key is not valid")
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.parametrize("index", [0, 1], ids=ROUTE_IDS)
def test_a_key_without_decide_is_403_naming_it(api: ConsentApi, index: int) -> None:
    method, path, body = routes(api.subject())[index]
    # Reading consent is not deciding: a key with every other scope is refused.
    response = api.call(method, path, tuple(s for s in SCOPES if s != "decide"), body)
    assert_error(response, 403, "This API key lacks the scope 'decide'")
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", scope="decide"'
    )


@pytest.mark.parametrize("index", [0, 1], ids=ROUTE_IDS)
def test_the_key_is_checked_before_the_input(api: ConsentApi, index: int) -> None:
    method, path, body = routes("not-a-subject-id")[index]
    response = api.client.request(method, API + path, json=body)
    assert_error(response, 401, "An API key is required")
    response = api.call(method, path, ("consent:read",), body)
    assert_error(response, 403, "lacks the scope 'decide'")


@pytest.mark.parametrize("index", [0, 1], ids=ROUTE_IDS)
def test_an_oversized_body_is_413(api: ConsentApi, index: int) -> None:
    method, path, _ = routes(api.subject())[index]
    headers = api.headers("decide") | {"Content-Type": "application/json"}
    response = api.client.request(method, API + path, content=oversized_body(), headers=headers)
    error = assert_error(response, 413, "larger than the limit of 262144 bytes")
    assert error["fields"] == []


def test_decisions_write_nothing(api: ConsentApi) -> None:
    subject = api.subject()
    api.record(subject, "newsletter")
    api.key("decide")
    with api.nothing_written():
        assert api.reason(subject, "newsletter") == "consent"
        assert ask_many(api, [(subject, "newsletter"), (UNKNOWN_ID, "billing")]).status_code == 200
