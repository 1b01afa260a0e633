"""The banner's script, stylesheet, demo page and the endpoint that records each choice."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from troth.consent import ConsentEvent, ConsentState, Method, load_state
from troth.declaration import Policy
from troth.publishing import publish
from troth.store import make_engine
from troth.subjects import Keyring, MasterKey
from troth.subjects.registry import find_subject
from troth.web import create_app
from troth.web.banner import LIBRARY, LIBRARY_VERSION, MAX_BODY, choices_rate_limit

HISTORY_RECORDED = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
SERVED_AT = datetime(2026, 11, 2, 14, 5, tzinfo=UTC)
CHOICES = "/api/v1/banner/choices"
ORIGIN = "https://www.kestrel.example"


@pytest.fixture
def keyring() -> Keyring:
    return Keyring(MasterKey.generate())


@pytest.fixture
def app(
    sqlite_url: str, kestrel_policy: Policy, kestrel_history: list[Policy], keyring: Keyring
) -> FastAPI:
    from troth.consent import on_version_recorded

    engine = make_engine(sqlite_url)
    publish(engine, kestrel_history, HISTORY_RECORDED, on_recorded=on_version_recorded)
    engine.dispose()
    return create_app(kestrel_policy, sqlite_url, clock=lambda: SERVED_AT, keyring=keyring)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def settings_in(script: str) -> dict[str, Any]:
    """The settings troth's glue is called with: the JSON after the last ``})(``."""
    start = script.rindex("})(") + 3
    end = script.rindex(");")
    result: dict[str, Any] = json.loads(script[start:end])
    return result


def choice(**fields: Any) -> dict[str, Any]:
    body = {"browser_id": str(uuid.uuid4()), "accepted": ["essential"], "revision": 2}
    return body | fields


def states(app: FastAPI, keyring: Keyring, browser_id: str) -> dict[str, tuple[str, str]]:
    """Purpose -> (state, method) as the ledger holds them for this browser."""
    with app.state.site.sessions() as session:
        subject = find_subject(session, keyring, "browser_id", browser_id)
        assert subject is not None, "no subject was recorded for the browser id"
        state = load_state(session, subject.id, SERVED_AT)
        return {p: (c.state.value, c.method) for p, c in state.consents.items()}


def event_count(app: FastAPI) -> int:
    with app.state.site.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(ConsentEvent)) or 0)


# The script ---------------------------------------------------------------------------------


def test_the_script_holds_the_library_its_licence_and_the_configuration(
    client: TestClient,
) -> None:
    response = client.get("/banner.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    script = response.text
    assert "Copyright (c) 2020-2025 Orest Bida" in script  # the MIT licence travels with it
    assert (LIBRARY / "cookieconsent.umd.js").read_text(encoding="utf-8") in script
    settings = settings_in(script)
    assert settings["endpoint"] == "http://testserver/api/v1/banner/choices"
    assert settings["stylesheet"] == "http://testserver/banner.css"
    first_layer = settings["cookieconsent"]["language"]["translations"]["en"]["consentModal"]
    assert first_layer["footer"] == '<a href="http://testserver/privacy">Privacy policy</a>'
    assert settings["gpcCategories"] == ["marketing"]
    assert settings["gpcSignal"] is False
    assert list(settings["cookieconsent"]["categories"]) == ["essential", "analytics", "marketing"]


def test_the_revision_counts_the_times_fresh_consent_was_required(client: TestClient) -> None:
    # Kestrel's 2.0 and 3.0 each changed practice materially and ask for fresh consent.
    settings = settings_in(client.get("/banner.js").text)
    assert settings["revision"] == 2
    assert settings["cookieconsent"]["revision"] == 2


def test_the_library_version_matches_the_vendored_file() -> None:
    header = (LIBRARY / "cookieconsent.umd.js").read_text(encoding="utf-8")[:200]
    assert f"CookieConsent {LIBRARY_VERSION}" in header
    assert f"Version **{LIBRARY_VERSION}**" in (LIBRARY / "README.md").read_text(encoding="utf-8")


def test_the_script_cannot_be_closed_by_declared_text(
    sqlite_url: str, kestrel_policy: Policy
) -> None:
    cookies = kestrel_policy.declaration.cookies
    assert cookies is not None
    renamed = tuple(
        c.model_copy(update={"name": "</script><script>alert(1)//"}) if c.key == "analytics" else c
        for c in cookies.categories
    )
    declaration = kestrel_policy.declaration.model_copy(
        update={"cookies": cookies.model_copy(update={"categories": renamed})}
    )
    with TestClient(create_app(Policy.build(declaration), sqlite_url)) as client:
        script = client.get("/banner.js").text
    glue_call = script[script.rindex("})(") :]
    assert "</script" not in glue_call
    assert "<" not in glue_call and ">" not in glue_call
    sections = settings_in(script)["cookieconsent"]["language"]["translations"]["en"]
    titles = [s["title"] for s in sections["preferencesModal"]["sections"]]
    assert "&lt;/script&gt;&lt;script&gt;alert(1)//" in titles


def test_the_script_is_cached_briefly_and_revalidated(client: TestClient) -> None:
    first = client.get("/banner.js")
    assert first.headers["cache-control"] == "public, max-age=300"
    assert first.headers["vary"] == "Sec-GPC"
    etag = first.headers["etag"]
    again = client.get("/banner.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert client.get("/banner.js", headers={"If-None-Match": '"other"'}).status_code == 200


def test_a_gpc_request_gets_a_script_that_knows(client: TestClient) -> None:
    plain = client.get("/banner.js")
    signalled = client.get("/banner.js", headers={"Sec-GPC": "1"})
    assert settings_in(signalled.text)["gpcSignal"] is True
    assert signalled.headers["etag"] != plain.headers["etag"]


def test_the_stylesheet_is_the_vendored_css(client: TestClient) -> None:
    response = client.get("/banner.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert response.text == (LIBRARY / "cookieconsent.css").read_text(encoding="utf-8")
    assert "etag" in response.headers


def test_no_cookie_categories_no_banner(sqlite_url: str, kestrel_policy: Policy) -> None:
    declaration = kestrel_policy.declaration.model_copy(update={"cookies": None})
    with TestClient(create_app(Policy.build(declaration), sqlite_url)) as client:
        assert client.get("/banner.js").status_code == 404
        assert client.get("/banner/demo").status_code == 404
        assert client.get("/privacy").status_code == 200


# The demo page ------------------------------------------------------------------------------


def test_the_demo_page_loads_the_script_and_gates_each_optional_category(
    client: TestClient,
) -> None:
    response = client.get("/banner/demo")
    assert response.status_code == 200
    html = response.text
    assert '<script src="http://testserver/banner.js" defer></script>' in html
    gated = re.findall(r'<script type="text/plain" data-category="(\w+)" nonce="([^"]+)">', html)
    assert [category for category, _ in gated] == ["analytics", "marketing"]
    assert 'document.cookie = "plausible_id" + "=demo;' in html
    assert 'document.cookie = "pm_track" + "=demo;' in html
    nonce = gated[0][1]
    csp = response.headers["content-security-policy"]
    assert f"script-src 'self' 'nonce-{nonce}'" in csp
    assert "connect-src 'self'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert client.get("/banner/demo").text != html  # a fresh nonce each time


def test_other_pages_keep_the_strict_policy(client: TestClient) -> None:
    for path in ("/privacy", "/banner.js", CHOICES):
        csp = client.get(path).headers["content-security-policy"]
        assert csp.startswith("default-src 'none'; style-src 'unsafe-inline'"), path
        assert "script-src" not in csp, path


# Recording choices --------------------------------------------------------------------------


def test_a_preflight_from_any_origin_is_allowed_without_credentials(client: TestClient) -> None:
    response = client.options(
        CHOICES,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-methods"] == "POST"
    assert response.headers["access-control-allow-headers"] == "Content-Type"
    assert "access-control-allow-credentials" not in response.headers


def test_cors_is_only_for_the_choices_endpoint(client: TestClient) -> None:
    assert "access-control-allow-origin" not in client.get("/privacy").headers
    assert client.options("/privacy").status_code == 405


def test_rejecting_all_records_each_optional_purpose_as_refused(
    app: FastAPI, client: TestClient, keyring: Keyring
) -> None:
    body = choice(language="en", page="/pricing")
    response = client.post(CHOICES, json=body, headers={"Origin": ORIGIN})
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json() == {
        "recorded": [
            {"purpose": "site_analytics", "state": "refused"},
            {"purpose": "email_engagement", "state": "refused"},
        ],
        "gpc": False,
    }
    assert states(app, keyring, body["browser_id"]) == {
        "site_analytics": ("refused", Method.cookie_banner),
        "email_engagement": ("refused", Method.cookie_banner),
    }
    with app.state.site.sessions() as session:
        event = session.scalars(select(ConsentEvent)).first()
        assert event is not None
        assert (event.language, event.collection_point) == ("en", "/pricing")
        assert event.policy_version == "3.0"


def test_a_changed_choice_records_only_the_change(
    app: FastAPI, client: TestClient, keyring: Keyring
) -> None:
    body = choice()
    client.post(CHOICES, json=body)
    accepted = client.post(CHOICES, json=body | {"accepted": ["essential", "analytics"]})
    assert accepted.json()["recorded"] == [{"purpose": "site_analytics", "state": "given"}]
    assert states(app, keyring, body["browser_id"])["site_analytics"][0] == ConsentState.given
    assert (
        client.post(CHOICES, json=body | {"accepted": ["essential", "analytics"]}).json()[
            "recorded"
        ]
        == []
    )


@pytest.mark.parametrize(
    "headers, body_gpc",
    [({"Sec-GPC": "1"}, False), ({}, True)],
    ids=["Sec-GPC header", "navigator.globalPrivacyControl"],
)
def test_gpc_refuses_marketing_whatever_was_accepted(
    app: FastAPI,
    client: TestClient,
    keyring: Keyring,
    headers: dict[str, str],
    body_gpc: bool,
) -> None:
    body = choice(accepted=["essential", "analytics", "marketing"], gpc=body_gpc)
    response = client.post(CHOICES, json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["gpc"] is True
    assert states(app, keyring, body["browser_id"]) == {
        "site_analytics": ("given", Method.cookie_banner),
        "email_engagement": ("refused", Method.global_privacy_control),
    }


def field_error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["access-control-allow-origin"] == "*"
    error = response.json()["error"]
    assert error["status"] == status and error["message"]
    [named] = error["fields"]
    assert named["message"]
    field: str = named["field"]
    return field


@pytest.mark.parametrize(
    "change, field",
    [
        ({"accepted": ["essential", "adverts"]}, "accepted[1]"),
        ({"accepted": ["essential", "Not A Key"]}, "accepted[1]"),
        ({"accepted": "essential"}, "accepted"),
        ({"browser_id": "short"}, "browser_id"),
        ({"browser_id": "x" * 20 + "!@#"}, "browser_id"),
        ({"browser_id": 12345678901234567890}, "browser_id"),
        ({"revision": -1}, "revision"),
        ({"revision": "2"}, "revision"),
        ({"revision": True}, "revision"),
        ({"language": "english please"}, "language"),
        ({"page": "https://elsewhere.example/"}, "page"),
        ({"page": "/" + "a" * 500}, "page"),
        ({"gpc": "yes"}, "gpc"),
        ({"email": "a@example.com"}, "email"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_records_nothing(
    app: FastAPI, client: TestClient, change: dict[str, Any], field: str
) -> None:
    response = client.post(CHOICES, json=choice() | change)
    assert field_error(response, 422) == field
    assert event_count(app) == 0


def test_missing_fields_are_named(client: TestClient) -> None:
    assert field_error(client.post(CHOICES, json={"accepted": []}), 422) == "browser_id"


def test_the_message_never_repeats_the_value(client: TestClient) -> None:
    secret = "not-a-valid-id!" + "s" * 20
    response = client.post(CHOICES, json=choice(browser_id=secret))
    assert secret not in response.text


def test_a_body_that_is_not_json_is_refused(client: TestClient) -> None:
    not_json = client.post(CHOICES, content=b"{", headers={"Content-Type": "application/json"})
    assert field_error(not_json, 422) == "body"
    array = client.post(CHOICES, json=[1, 2])
    assert field_error(array, 422) == "body"
    form = client.post(CHOICES, data={"browser_id": "x"})
    assert field_error(form, 415) == "Content-Type"


def test_a_body_over_the_limit_is_413_unread(app: FastAPI, client: TestClient) -> None:
    big = choice(page="/" + "a" * (MAX_BODY + 10))
    assert field_error(client.post(CHOICES, json=big), 413) == "body"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        yield b'{"browser_id": "' + b"a" * MAX_BODY
        yield b'"}'

    streamed = client.post(CHOICES, content=chunks(), headers={"Content-Type": "application/json"})
    assert field_error(streamed, 413) == "body"
    assert event_count(app) == 0


def test_too_many_choices_from_one_address_are_429_with_retry_after(
    app: FastAPI, client: TestClient
) -> None:
    burst = choices_rate_limit.burst
    statuses = [
        client.post(CHOICES, json=choice(browser_id="b" * 20)).status_code for _ in range(burst)
    ]
    assert statuses == [200] * burst
    refused = client.post(CHOICES, json=choice())
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["access-control-allow-origin"] == "*"
    assert refused.headers["content-type"] == "application/json"
    assert refused.json()["error"]["status"] == 429
    # The rate limit is checked first: an oversized body from this address is not even read.
    assert client.post(CHOICES, content=b"x" * (MAX_BODY + 1)).status_code == 429


def test_without_a_master_key_choices_are_503_and_nothing_is_recorded(
    sqlite_url: str, kestrel_policy: Policy
) -> None:
    app = create_app(kestrel_policy, sqlite_url)
    with TestClient(app) as client:
        response = client.post(CHOICES, json=choice())
        assert response.status_code == 503
        assert "master key" in response.json()["error"]["message"]
        assert event_count(app) == 0


def test_get_on_the_endpoint_is_a_json_405(client: TestClient) -> None:
    response = client.get(CHOICES)
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/json"


def test_a_lost_race_to_create_the_browser_subject_is_retried(
    app: FastAPI, client: TestClient, keyring: Keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    import troth.web.banner as banner

    real = banner.record_cookie_choice
    calls = []

    def losing_once(session: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["browser_id"])
        if len(calls) == 1:
            real(session, **kwargs)  # written, then undone with the whole transaction
            raise IntegrityError("INSERT INTO identities", {}, Exception("unique"))
        return real(session, **kwargs)

    monkeypatch.setattr(banner, "record_cookie_choice", losing_once)
    body = choice()
    response = client.post(CHOICES, json=body)
    assert response.status_code == 200, response.text
    assert len(calls) == 2
    assert event_count(app) == 2  # the retry's events only: the first attempt left nothing
    assert states(app, keyring, body["browser_id"])["site_analytics"][0] == "refused"


def test_every_banner_route_is_documented() -> None:
    from fastapi.routing import APIRoute
    from support import ROOT

    from troth.web.banner import router

    doc = (ROOT / "docs" / "banner.md").read_text(encoding="utf-8")
    for route in router.routes:
        assert isinstance(route, APIRoute)
        if route.name == "banner_choices_other_methods":
            continue  # answers 405 only
        for method in route.methods:
            assert f"`{method} {route.path}`" in doc, (
                f"docs/banner.md: no row for {method} {route.path}"
            )
