"""The cookie banner's configuration, built from the declaration's ``cookies`` section (P7).

troth's banner is vanilla-cookieconsent (v3). :func:`banner_config` turns the declared cookie
categories and cookies into that library's configuration: the essential category is always on
and cannot be switched off, every other category starts off (no pre-ticked boxes), "Reject all"
sits on the first layer beside "Accept all" and looks the same, and each category lists its
cookies with who sets them, why and for how long.

Global Privacy Control (GPC) is an opt-out of sale and sharing. When the declaration honours it,
:func:`gpc_categories` names the categories a GPC signal switches off: ``marketing`` and
``third_party``, and any other category serving a purpose GPC opts out of (advertising,
third-party sharing, or a purpose whose data a recipient buys: ``sale: true``).

The configuration carries a revision number: the number of times a material policy change has
required fresh consent. The banner asks again everyone whose last choice was made under a lower
revision.

Every text taken from the declaration is HTML-escaped: the library inserts it as HTML.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from troth.declaration import Policy
from troth.declaration.model import Cookie, CookieCategory, Cookies

from .decide import GPC_COOKIE_CATEGORIES, gpc_purposes

__all__ = [
    "CONSENT_COOKIE",
    "NoCookiesDeclared",
    "banner_categories",
    "banner_config",
    "gpc_categories",
]

# The library's own cookie, where it keeps a visitor's choice; declare it as an essential cookie.
CONSENT_COOKIE = "cc_cookie"
GPC_NOTE = (
    "Off: your browser sent a Global Privacy Control signal, which we honour as a request not "
    "to sell or share your data."
)


class NoCookiesDeclared(ValueError):
    """The declaration declares no cookie categories, so there is nothing to ask about."""

    def __init__(self, organization: str) -> None:
        super().__init__(
            f"{organization}'s declaration declares no cookie categories; list them under "
            "`cookies: categories:` (and the cookies under `cookies: cookies:`) to serve a "
            "cookie banner"
        )


def _cookies(policy: Policy) -> Cookies:
    cookies = policy.declaration.cookies
    if cookies is None or not cookies.categories:
        raise NoCookiesDeclared(policy.organization_name)
    return cookies


def banner_categories(policy: Policy) -> list[CookieCategory]:
    """The cookie categories the banner offers, in declared order."""
    return list(_cookies(policy).categories)


def gpc_categories(policy: Policy) -> list[str]:
    """The categories a Global Privacy Control signal switches off, in declared order.

    Empty when the declaration sets ``honour_global_privacy_control: false``. Otherwise every
    category but the essential one that is ``marketing`` or ``third_party``, or that serves a
    purpose GPC opts out of (:func:`~troth.consent.decide.gpc_purposes`: advertising and
    third-party sharing, and purposes whose data a recipient buys). The consent ledger refuses
    exactly those purposes for a browser sending GPC, so the banner and the ledger agree.
    """
    if not _cookies(policy).honour_global_privacy_control:
        return []
    opted_out = gpc_purposes(policy)
    return [
        category.key
        for category in banner_categories(policy)
        if category.key != "essential"
        and (category.key in GPC_COOKIE_CATEGORIES or opted_out.intersection(category.purposes))
    ]


def _expires_after_days(cookies: Cookies) -> int | None:
    if cookies.consent_expires_after is None:
        return None
    return max(1, math.floor(cookies.consent_expires_after.approx_days()))


def _cookie_row(cookie: Cookie) -> dict[str, str]:
    provider = escape(cookie.provider) + (" (third party)" if cookie.third_party else "")
    return {
        "name": escape(cookie.name),
        "provider": provider,
        "purpose": escape(cookie.purpose),
        "lifetime": escape(cookie.lifetime_words),
    }


def _category_description(policy: Policy, category: CookieCategory) -> str:
    parts = [escape(category.description)] if category.description else []
    purposes = [policy.purposes[key].name for key in category.purposes if key in policy.purposes]
    if purposes:
        parts.append("Purposes: " + "; ".join(escape(name) for name in purposes) + ".")
    return " ".join(parts)


def _category_section(policy: Policy, category: CookieCategory) -> dict[str, Any]:
    section: dict[str, Any] = {
        "title": escape(category.name),
        "description": _category_description(policy, category),
        "linkedCategory": category.key,
    }
    rows = [_cookie_row(c) for c in _cookies(policy).cookies if c.category == category.key]
    if rows:
        section["cookieTable"] = {
            "headers": {
                "name": "Cookie",
                "provider": "Set by",
                "purpose": "Purpose",
                "lifetime": "Lasts",
            },
            "body": rows,
        }
    return section


def _category_settings(policy: Policy, category: CookieCategory) -> dict[str, Any]:
    if category.key == "essential":
        return {"enabled": True, "readOnly": True}
    settings: dict[str, Any] = {"enabled": False, "readOnly": False}
    names = [c.name for c in _cookies(policy).cookies if c.category == category.key]
    if names:
        # Cookies of a category someone rejects are erased (those this site can reach).
        settings["autoClear"] = {"cookies": [{"name": name} for name in names]}
    return settings


def _first_layer(
    policy: Policy, categories: list[CookieCategory], policy_link: str
) -> dict[str, str]:
    organization = escape(policy.organization_name)
    optional = [escape(c.name.lower()) for c in categories if c.key != "essential"]
    if optional:
        asked = ", ".join(optional[:-1]) + (" and " if len(optional) > 1 else "") + optional[-1]
        description = (
            f"{organization} uses cookies that this site needs to work. With your permission it "
            f"would also use {asked} cookies. Nothing else is set until you choose, and you can "
            "change your mind at any time."
        )
    else:
        description = f"{organization} uses only the cookies this site needs to work."
    return {
        "title": "Your cookie choices",
        "description": description + " {{revisionMessage}}",
        "revisionMessage": (
            "Our privacy policy has changed since you last chose, so we are asking again."
        ),
        "acceptAllBtn": "Accept all",
        "acceptNecessaryBtn": "Reject all",
        "showPreferencesBtn": "Choose cookies",
        "footer": policy_link,
    }


def banner_config(
    policy: Policy, *, revision: int, endpoint: str, policy_url: str
) -> dict[str, Any]:
    """The banner's settings for ``policy``, as JSON-ready data.

    ``cookieconsent`` is vanilla-cookieconsent's configuration (``CookieConsent.run``); the
    other keys are for the script that records each choice: ``endpoint`` (where choices are
    posted), ``revision``, ``gpcCategories`` (see :func:`gpc_categories`) and ``gpcNote`` (the
    text shown for a category GPC switched off). ``revision`` counts how many times a material
    policy change has required fresh consent. ``endpoint`` and ``policy_url`` should be absolute
    URLs: the banner runs on the company's own site.

    Raises :class:`NoCookiesDeclared` when the declaration declares no cookie categories.
    """
    if revision < 0:
        raise ValueError(f"revision must be 0 or more, not {revision}")
    cookies = _cookies(policy)
    categories = banner_categories(policy)
    language = policy.declaration.policy.language
    href = escape(policy_url)
    sections: list[dict[str, Any]] = [
        {
            "title": "How we use cookies",
            "description": (
                "Choose which cookies we may use. Strictly necessary cookies are always on; "
                "everything else stays off unless you switch it on."
            ),
        },
        *(_category_section(policy, category) for category in categories),
        {
            "title": "More information",
            "description": (
                f'Read our <a href="{href}">privacy policy</a> for what we collect, why, and '
                "your rights."
            ),
        },
    ]
    cookie: dict[str, Any] = {"name": CONSENT_COOKIE, "sameSite": "Lax"}
    days = _expires_after_days(cookies)
    if days is not None:
        cookie["expiresAfterDays"] = days
    library = {
        "mode": "opt-in",
        "revision": revision,
        "autoShow": True,
        "manageScriptTags": True,
        "autoClearCookies": True,
        "disablePageInteraction": False,
        "cookie": cookie,
        "guiOptions": {
            "consentModal": {
                "layout": "box",
                "position": "bottom right",
                "equalWeightButtons": True,
                "flipButtons": False,
            },
            "preferencesModal": {
                "layout": "box",
                "equalWeightButtons": True,
                "flipButtons": False,
            },
        },
        "categories": {c.key: _category_settings(policy, c) for c in categories},
        "language": {
            "default": language,
            "translations": {
                language: {
                    "consentModal": _first_layer(
                        policy, categories, f'<a href="{href}">Privacy policy</a>'
                    ),
                    "preferencesModal": {
                        "title": "Cookie preferences",
                        "acceptAllBtn": "Accept all",
                        "acceptNecessaryBtn": "Reject all",
                        "savePreferencesBtn": "Save my choices",
                        "closeIconLabel": "Close",
                        "sections": sections,
                    },
                }
            },
        },
    }
    return {
        "cookieconsent": library,
        "endpoint": endpoint,
        "revision": revision,
        "gpcCategories": gpc_categories(policy),
        "gpcNote": GPC_NOTE,
    }
