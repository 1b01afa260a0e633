"""The cookie banner in a real browser: nothing optional before a choice, reject and accept,
the choice kept and recorded by troth, Global Privacy Control, and asking again after a change."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from browser import chromium_browser, serving
from fastapi import FastAPI
from sqlalchemy import select

from troth.consent import ConsentEvent, Method, load_state, on_version_recorded, require_renewal
from troth.declaration import Policy
from troth.publishing import publish
from troth.store import make_engine
from troth.subjects import Keyring, MasterKey
from troth.subjects.registry import find_subject
from troth.web import create_app

HISTORY_RECORDED = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
SERVED_AT = datetime(2026, 11, 2, 14, 5, tzinfo=UTC)
CHOICES = "/api/v1/banner/choices"
# The library hides itself from automated browsers (navigator.webdriver), to keep banners out of
# search indexes; the visitor these tests stand in for is a person.
AS_A_PERSON = "Object.defineProperty(Navigator.prototype, 'webdriver', { get: () => false });"
GPC_ON = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true });"
FIRST_LAYER = "#cc-main .cm"


@pytest.fixture
def keyring() -> Keyring:
    return Keyring(MasterKey.generate())


@pytest.fixture
def app(
    kestrel_policy: Policy, kestrel_history: list[Policy], sqlite_url: str, keyring: Keyring
) -> FastAPI:
    engine = make_engine(sqlite_url)
    publish(engine, kestrel_history, HISTORY_RECORDED, on_recorded=on_version_recorded)
    engine.dispose()
    return create_app(kestrel_policy, sqlite_url, clock=lambda: SERVED_AT, keyring=keyring)


@pytest.fixture
def base_url(app: FastAPI) -> Iterator[str]:
    with serving(app) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium_browser() as browser:
        yield browser


def new_context(browser: Any, *, gpc: bool = False) -> Any:
    context = browser.new_context(extra_http_headers={"Sec-GPC": "1"} if gpc else None)
    context.add_init_script(AS_A_PERSON)
    if gpc:
        context.add_init_script(GPC_ON)
    return context


def cookies(context: Any) -> dict[str, str]:
    return {c["name"]: c["value"] for c in context.cookies()}


def consent_cookie(context: Any) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(unquote(cookies(context)["cc_cookie"]))
    return value


def open_demo(page: Any, base_url: str) -> None:
    response = page.goto(f"{base_url}/banner/demo")
    assert response is not None and response.status == 200
    page.wait_for_function("window.trothBanner !== undefined")


def choose(page: Any, button: str) -> dict[str, Any]:
    """Click a first-layer button; the JSON troth answered the posted choice with."""
    with page.expect_response(
        lambda r: r.url.endswith(CHOICES) and r.request.method == "POST"
    ) as r:
        page.locator(FIRST_LAYER).get_by_role("button", name=button, exact=True).click()
    assert r.value.status == 200, r.value.text()
    body: dict[str, Any] = r.value.json()
    return body


def recorded(app: FastAPI, keyring: Keyring, browser_id: str) -> tuple[dict[str, Any], bool]:
    """Purpose -> (state, method) as troth's ledger holds them, and the GPC opt-out."""
    with app.state.site.sessions() as session:
        subject = find_subject(session, keyring, "browser_id", browser_id)
        assert subject is not None, "troth recorded nothing for this browser"
        state = load_state(session, subject.id, SERVED_AT)
    consents = {p: (c.state.value, c.method) for p, c in state.consents.items()}
    return consents, state.gpc_opt_out


def test_reject_all_sets_nothing_optional_sticks_and_is_recorded(
    app: FastAPI, base_url: str, browser: Any, keyring: Keyring
) -> None:
    context = new_context(browser)
    page = context.new_page()
    refused: list[str] = []  # what the demo page's Content-Security-Policy blocked, if anything
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    open_demo(page, base_url)
    banner = page.locator(FIRST_LAYER)
    banner.wait_for(state="visible")
    assert "plausible_id" not in cookies(context)
    assert "cc_cookie" not in cookies(context)

    accept = banner.get_by_role("button", name="Accept all", exact=True)
    reject = banner.get_by_role("button", name="Reject all", exact=True)
    assert accept.is_visible() and reject.is_visible()
    # As prominent as each other: the same size and the same look.
    looks = (
        "b => { const s = getComputedStyle(b);"
        " return [s.backgroundColor, s.color, s.fontWeight, s.fontSize, s.borderStyle]; }"
    )
    assert accept.evaluate(looks) == reject.evaluate(looks)
    accept_box, reject_box = accept.bounding_box(), reject.bounding_box()
    assert abs(accept_box["height"] - reject_box["height"]) < 1
    assert abs(accept_box["width"] - reject_box["width"]) < 2

    answer = choose(page, "Reject all")
    assert answer == {
        "recorded": [
            {"purpose": "site_analytics", "state": "refused"},
            {"purpose": "email_engagement", "state": "refused"},
        ],
        "gpc": False,
    }
    banner.wait_for(state="hidden")

    page.reload()
    page.wait_for_function("window.trothBanner !== undefined && CookieConsent.validConsent()")
    assert not page.locator(FIRST_LAYER).is_visible()
    stored = consent_cookie(context)
    assert stored["categories"] == ["essential"]
    assert stored["revision"] == 2
    assert "plausible_id" not in cookies(context)
    assert "pm_track" not in cookies(context)

    consents, gpc = recorded(app, keyring, stored["consentId"])
    assert consents == {
        "site_analytics": ("refused", Method.cookie_banner),
        "email_engagement": ("refused", Method.cookie_banner),
    }
    assert gpc is False
    assert refused == []
    context.close()


def test_with_gpc_marketing_stays_off_even_after_accept_all(
    app: FastAPI, base_url: str, browser: Any, keyring: Keyring
) -> None:
    context = new_context(browser, gpc=True)
    page = context.new_page()
    open_demo(page, base_url)
    page.locator(FIRST_LAYER).wait_for(state="visible")
    assert page.evaluate("navigator.globalPrivacyControl") is True
    assert page.evaluate("trothBanner.gpcCategories") == ["marketing"]
    assert "plausible_id" not in cookies(context)

    answer = choose(page, "Accept all")
    assert answer["gpc"] is True
    page.wait_for_function("document.cookie.includes('plausible_id=')")
    assert "plausible_id" in cookies(context)
    assert "pm_track" not in cookies(context)
    assert consent_cookie(context)["categories"] == ["essential", "analytics"]
    assert page.evaluate("CookieConsent.acceptedCategory('marketing')") is False

    # The preferences say why marketing is off, and offer no switch for it.
    page.evaluate("trothBanner.showPreferences()")
    preferences = page.locator("#cc-main .pm")
    preferences.wait_for(state="visible")
    assert "Global Privacy Control" in preferences.inner_text()
    assert preferences.locator("input[value='analytics']").count() == 1
    assert preferences.locator("input[value='marketing']").count() == 0

    consents, gpc = recorded(app, keyring, consent_cookie(context)["consentId"])
    assert consents == {
        "site_analytics": ("given", Method.cookie_banner),
        "email_engagement": ("refused", Method.global_privacy_control),
    }
    assert gpc is True
    context.close()


def test_turning_gpc_on_later_withdraws_marketing(
    app: FastAPI, base_url: str, browser: Any, keyring: Keyring
) -> None:
    context = new_context(browser)
    page = context.new_page()
    open_demo(page, base_url)
    page.locator(FIRST_LAYER).wait_for(state="visible")
    choose(page, "Accept all")
    page.wait_for_function("document.cookie.includes('pm_track=')")
    browser_id = consent_cookie(context)["consentId"]
    assert recorded(app, keyring, browser_id)[0]["email_engagement"][0] == "given"

    context.set_extra_http_headers({"Sec-GPC": "1"})
    context.add_init_script(GPC_ON)
    with page.expect_response(lambda r: r.url.endswith(CHOICES)) as response:
        page.reload()
    assert response.value.json()["gpc"] is True
    assert consent_cookie(context)["categories"] == ["essential", "analytics"]
    assert "pm_track" not in cookies(context)  # erased with the category
    assert "plausible_id" in cookies(context)
    consents, gpc = recorded(app, keyring, browser_id)
    assert consents["email_engagement"] == ("refused", Method.global_privacy_control)
    assert consents["site_analytics"] == ("given", Method.cookie_banner)
    assert gpc is True
    context.close()


def test_the_banner_asks_again_after_a_material_change(
    app: FastAPI,
    base_url: str,
    browser: Any,
    kestrel_policy: Policy,
    kestrel_history: list[Policy],
) -> None:
    context = new_context(browser)
    page = context.new_page()
    open_demo(page, base_url)
    page.locator(FIRST_LAYER).wait_for(state="visible")
    choose(page, "Reject all")
    kept = context.cookies()
    context.close()

    # A material change that needs fresh consent is recorded: the banner's revision moves on.
    with app.state.site.sessions.begin() as session:
        assert require_renewal(
            session, kestrel_history[-1], kestrel_policy, SERVED_AT + timedelta(days=1)
        )

    again = new_context(browser)  # a fresh cache, so the script is fetched anew
    again.add_cookies(kept)
    page = again.new_page()
    open_demo(page, base_url)
    banner = page.locator(FIRST_LAYER)
    banner.wait_for(state="visible")
    assert "Our privacy policy has changed since you last chose" in banner.inner_text()
    choose(page, "Reject all")
    assert consent_cookie(again)["revision"] == 3
    again.close()


def company_site(troth_url: str) -> FastAPI:
    """The company's own site: a page with the one script tag and a gated analytics script."""
    from fastapi.responses import HTMLResponse, Response

    site = FastAPI()
    html = (
        "<!doctype html><html lang='en'><head><title>Kestrel</title></head><body>"
        "<h1>Kestrel Software</h1>"
        "<script type='text/plain' data-category='analytics'>"
        "document.cookie = 'plausible_id=1; path=/';</script>"
        f"<script src='{troth_url}/banner.js' defer></script></body></html>"
    )
    site.get("/home")(lambda: HTMLResponse(html))
    site.get("/favicon.ico")(lambda: Response(status_code=204))
    return site


def test_a_company_page_on_another_origin_records_its_choices(
    app: FastAPI, base_url: str, browser: Any, keyring: Keyring
) -> None:
    context = new_context(browser)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    with serving(company_site(base_url)) as company:
        assert company != base_url  # another port: another origin
        page.goto(f"{company}/home")
        banner = page.locator(FIRST_LAYER)
        banner.wait_for(state="visible")
        # The script linked the stylesheet from troth by itself.
        assert page.evaluate(
            "[...document.styleSheets].some(s => (s.href || '').endsWith('/banner.css'))"
        )
        with page.expect_response(lambda r: r.url == f"{base_url}{CHOICES}") as response:
            banner.get_by_role("button", name="Accept all", exact=True).click()
        assert response.value.status == 200
        assert response.value.request.all_headers().get("origin") == company
        page.wait_for_function("document.cookie.includes('plausible_id=')")
        stored = consent_cookie(context)
    consents, _gpc = recorded(app, keyring, stored["consentId"])
    assert consents["site_analytics"] == ("given", Method.cookie_banner)
    with app.state.site.sessions() as session:
        points = set(session.scalars(select(ConsentEvent.collection_point)))
    assert points == {"/home"}
    assert problems == []
    context.close()
