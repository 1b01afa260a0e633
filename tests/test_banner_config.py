"""The cookie banner's configuration, built from the declaration's cookies (P7)."""

from __future__ import annotations

from typing import Any

import pytest

from troth.consent.banner import (
    CONSENT_COOKIE,
    NoCookiesDeclared,
    banner_config,
    gpc_categories,
)
from troth.declaration import Duration, Policy
from troth.declaration.model import Cookie, CookieCategory, Cookies

ENDPOINT = "https://troth.example/api/v1/banner/choices"
POLICY_URL = "https://troth.example/privacy"


def config(policy: Policy, revision: int = 0) -> dict[str, Any]:
    return banner_config(policy, revision=revision, endpoint=ENDPOINT, policy_url=POLICY_URL)


def library(policy: Policy, revision: int = 0) -> dict[str, Any]:
    result: dict[str, Any] = config(policy, revision)["cookieconsent"]
    return result


def texts(policy: Policy) -> dict[str, Any]:
    lib = library(policy)
    result: dict[str, Any] = lib["language"]["translations"][lib["language"]["default"]]
    return result


def with_cookies(policy: Policy, cookies: Cookies | None, **changes: Any) -> Policy:
    declaration = policy.declaration.model_copy(update={"cookies": cookies, **changes})
    return Policy.build(declaration)


def test_categories_follow_the_declaration_essential_on_and_locked_the_rest_off(
    kestrel_policy: Policy,
) -> None:
    categories = library(kestrel_policy)["categories"]
    assert list(categories) == ["essential", "analytics", "marketing"]
    assert categories["essential"] == {"enabled": True, "readOnly": True}
    for key in ("analytics", "marketing"):
        assert categories[key]["enabled"] is False, f"{key} must not be pre-ticked"
        assert categories[key]["readOnly"] is False
    assert library(kestrel_policy)["mode"] == "opt-in"


def test_rejected_categories_erase_their_declared_cookies(kestrel_policy: Policy) -> None:
    categories = library(kestrel_policy)["categories"]
    assert categories["analytics"]["autoClear"] == {"cookies": [{"name": "plausible_id"}]}
    assert categories["marketing"]["autoClear"] == {"cookies": [{"name": "pm_track"}]}
    assert "autoClear" not in categories["essential"]


def test_reject_all_is_on_the_first_layer_with_the_same_weight_as_accept_all(
    kestrel_policy: Policy,
) -> None:
    first = texts(kestrel_policy)["consentModal"]
    assert first["acceptAllBtn"] == "Accept all"
    assert first["acceptNecessaryBtn"] == "Reject all"
    gui = library(kestrel_policy)["guiOptions"]
    assert gui["consentModal"]["equalWeightButtons"] is True
    assert gui["preferencesModal"]["equalWeightButtons"] is True
    assert gui["consentModal"]["flipButtons"] is False
    second = texts(kestrel_policy)["preferencesModal"]
    assert (second["acceptAllBtn"], second["acceptNecessaryBtn"]) == ("Accept all", "Reject all")


def test_the_first_layer_names_the_optional_categories_and_links_the_policy(
    kestrel_policy: Policy,
) -> None:
    first = texts(kestrel_policy)["consentModal"]
    assert "Kestrel Software" in first["description"]
    assert "analytics and marketing cookies" in first["description"]
    assert "{{revisionMessage}}" in first["description"]  # where the library says "we changed"
    assert "changed" in first["revisionMessage"]
    assert first["footer"] == f'<a href="{POLICY_URL}">Privacy policy</a>'


def test_each_category_has_a_section_with_its_cookie_table(kestrel_policy: Policy) -> None:
    sections = texts(kestrel_policy)["preferencesModal"]["sections"]
    linked = {s["linkedCategory"]: s for s in sections if "linkedCategory" in s}
    assert list(linked) == ["essential", "analytics", "marketing"]
    analytics = linked["analytics"]
    assert analytics["title"] == "Analytics"
    assert analytics["description"].startswith("Tell us which pages are read")
    assert "Understand how our website is used" in analytics["description"]  # its purpose
    assert analytics["cookieTable"]["body"] == [
        {
            "name": "plausible_id",
            "provider": "Plausible Analytics (third party)",
            "purpose": "Counts visits without identifying you",
            "lifetime": "1 year",
        }
    ]
    essential_rows = linked["essential"]["cookieTable"]["body"]
    assert [row["name"] for row in essential_rows] == ["troth_session", CONSENT_COOKIE]
    assert essential_rows[0]["lifetime"] == "session"
    assert POLICY_URL in sections[-1]["description"]


def test_revision_endpoint_and_language_are_passed_through(kestrel_policy: Policy) -> None:
    built = config(kestrel_policy, revision=3)
    assert built["cookieconsent"]["revision"] == 3
    assert built["revision"] == 3
    assert built["endpoint"] == ENDPOINT
    assert built["cookieconsent"]["language"]["default"] == "en"
    with pytest.raises(ValueError, match="revision must be 0 or more"):
        config(kestrel_policy, revision=-1)


def test_consent_lasts_as_long_as_the_declaration_says(kestrel_policy: Policy) -> None:
    cookie = library(kestrel_policy)["cookie"]
    assert cookie["name"] == CONSENT_COOKIE
    assert cookie["expiresAfterDays"] == 182  # P6M
    cookies = kestrel_policy.declaration.cookies
    assert cookies is not None
    unlimited = with_cookies(
        kestrel_policy, cookies.model_copy(update={"consent_expires_after": None})
    )
    assert "expiresAfterDays" not in library(unlimited)["cookie"]  # the library's default
    one_day = cookies.model_copy(update={"consent_expires_after": Duration(hours=12)})
    assert library(with_cookies(kestrel_policy, one_day))["cookie"]["expiresAfterDays"] == 1


def test_gpc_switches_off_marketing_and_third_party(kestrel_policy: Policy) -> None:
    assert gpc_categories(kestrel_policy) == ["marketing"]
    assert config(kestrel_policy)["gpcCategories"] == ["marketing"]
    assert "Global Privacy Control" in config(kestrel_policy)["gpcNote"]
    cookies = kestrel_policy.declaration.cookies
    assert cookies is not None
    third = CookieCategory(key="third_party", name="Embedded content")
    extended = cookies.model_copy(update={"categories": (*cookies.categories, third)})
    assert gpc_categories(with_cookies(kestrel_policy, extended)) == ["marketing", "third_party"]


def test_gpc_switches_off_a_category_whose_purpose_data_is_sold(kestrel_policy: Policy) -> None:
    buyer = next(r for r in kestrel_policy.declaration.recipients if r.key == "plausible")
    sold = buyer.model_copy(update={"sale": True, "purposes": ("site_analytics",)})
    recipients = tuple(
        sold if r.key == "plausible" else r for r in kestrel_policy.declaration.recipients
    )
    policy = with_cookies(kestrel_policy, kestrel_policy.declaration.cookies, recipients=recipients)
    assert gpc_categories(policy) == ["analytics", "marketing"]


def test_gpc_can_be_declared_not_honoured(kestrel_policy: Policy) -> None:
    cookies = kestrel_policy.declaration.cookies
    assert cookies is not None
    ignored = cookies.model_copy(update={"honour_global_privacy_control": False})
    assert gpc_categories(with_cookies(kestrel_policy, ignored)) == []


def test_declared_text_is_escaped_because_the_library_inserts_html(kestrel_policy: Policy) -> None:
    cookies = Cookies(
        categories=(
            CookieCategory(key="essential", name="Needed <b>always</b>"),
            CookieCategory(key="analytics", name="Stats", description='Counts "visits" & <i>'),
        ),
        cookies=(
            Cookie(
                name="<img src=x>",
                category="analytics",
                provider="A & B",
                purpose="count",
                lifetime=Duration(days=1),
            ),
        ),
    )
    sections = texts(with_cookies(kestrel_policy, cookies))["preferencesModal"]["sections"]
    assert sections[1]["title"] == "Needed &lt;b&gt;always&lt;/b&gt;"
    assert sections[2]["description"] == "Counts &quot;visits&quot; &amp; &lt;i&gt;"
    row = sections[2]["cookieTable"]["body"][0]
    assert row["name"] == "&lt;img src=x&gt;"
    assert row["provider"] == "A &amp; B"
    first = texts(with_cookies(kestrel_policy, cookies))["consentModal"]
    assert "<b>" not in first["description"]


def test_the_policy_url_is_escaped_in_links(kestrel_policy: Policy) -> None:
    built = banner_config(
        kestrel_policy, revision=0, endpoint=ENDPOINT, policy_url='https://x.example/"><script>'
    )
    footer = built["cookieconsent"]["language"]["translations"]["en"]["consentModal"]["footer"]
    assert footer == '<a href="https://x.example/&quot;&gt;&lt;script&gt;">Privacy policy</a>'


def test_a_policy_without_cookie_categories_has_no_banner(kestrel_policy: Policy) -> None:
    with pytest.raises(NoCookiesDeclared, match="declares no cookie categories"):
        config(with_cookies(kestrel_policy, None))
    with pytest.raises(NoCookiesDeclared):
        config(with_cookies(kestrel_policy, Cookies()))
    with pytest.raises(NoCookiesDeclared):
        gpc_categories(with_cookies(kestrel_policy, None))
