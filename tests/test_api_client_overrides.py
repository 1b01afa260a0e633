"""The routes for the retention periods agreed with clients, under a moved clock on SQLite and
PostgreSQL: scopes, a period set, listed, changed and cleared with the client's deadlines
computed again each time, the audit events (no one's data in them), and bad input named by
field with nothing changed (P17)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from consent_api_support import ON_EACH_DATABASE, ConsentApi, assert_error, assert_invalid
from sqlalchemy import select

from troth.vault import ClientOverride, VaultItem

pytestmark = pytest.mark.usefixtures("no_personal_data_in_logs")

READ, WRITE = "retention:read", "retention:write"
ACME, OTHER = "acme_logistics", "sahyadri_robotics"
RULE = "client_app_data"  # P30D after the client's contract ends; per_client_override: true
DAY = timedelta(days=1)
APP_USER: dict[str, Any] = {
    "identity": {"kind": "email", "value": "anil.d@example.in"},
    "fields": [
        {"category": "user.name", "value": "Anil Deshmukh"},
        {"category": "user.contact.email", "value": "anil.d@example.in"},
    ],
    "source": "client_apps",
    "purpose": "operate_client_apps",
    "collection_point": "acme tracking app sign-up",
}
# What the end user gave; none of it may reach an answer or the audit trail.
PERSONAL = ("anil.d@example.in", "Anil Deshmukh", "bhavna@example.in")
ONE = f"/clients/{ACME}/overrides/{RULE}"
ROUTES = [
    ("GET", "/clients/overrides", READ, None),
    ("GET", f"/clients/{ACME}/overrides", READ, None),
    ("PUT", ONE, WRITE, {"period": "P90D"}),
    ("DELETE", ONE, WRITE, None),
]


def put(api: ConsentApi, period: str, path: str = ONE) -> Any:
    return api.call("PUT", path, (WRITE,), {"period": period})


def delete(api: ConsentApi, path: str = ONE) -> Any:
    return api.call("DELETE", path, (WRITE,))


def collect_for(api: ConsentApi, client: str, email: str = "anil.d@example.in") -> None:
    body = APP_USER | {"client": client, "identity": {"kind": "email", "value": email}}
    response = api.post("/collect", "vault:write", body)
    assert response.status_code == 201, response.text


def contract_ended(api: ConsentApi, client: str, at: datetime) -> None:
    response = api.post(
        "/events",
        "vault:write",
        {"client": client, "event": "contract_ended", "occurred_at": at.isoformat()},
    )
    assert response.status_code == 201, response.text


def deadlines(api: ConsentApi, client: str) -> set[tuple[Any, ...]]:
    with api.app.state.site.sessions() as session:
        rows = session.execute(
            select(VaultItem.retention_rule, VaultItem.retain_until, VaultItem.waiting_for).where(
                VaultItem.client == client
            )
        )
        return {tuple(row) for row in rows}


def override_events(api: ConsentApi) -> list[dict[str, Any]]:
    return [e for e in api.audit() if e["action"].startswith("retention.client_override")]


@pytest.mark.parametrize(("method", "path", "scope", "body"), ROUTES)
def test_every_route_needs_a_key_with_its_scope(
    api: ConsentApi, method: str, path: str, scope: str, body: object
) -> None:
    # A key that reads holds and periods may not change them, and the other way round.
    others = [s for s in (READ, WRITE, "vault:write") if s != scope]
    api.key(*others)
    with api.nothing_written():
        anonymous = api.client.request(method, "/api/v1" + path, json=body)
        assert_error(anonymous, 401, "An API key is required")
        wrong = api.call(method, path, tuple(others), body)
        assert_error(wrong, 403, f"lacks the scope '{scope}'")


@ON_EACH_DATABASE
def test_a_period_is_set_listed_changed_and_cleared_and_deadlines_follow(
    api: ConsentApi,
) -> None:
    collect_for(api, ACME)
    collect_for(api, OTHER, "bhavna@example.in")
    ended = api.clock().replace(microsecond=0) - 10 * DAY
    contract_ended(api, ACME, ended)
    contract_ended(api, OTHER, ended)
    assert deadlines(api, ACME) == {(RULE, ended + 30 * DAY, None)}

    answer = put(api, "P90D")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "client": ACME,
        "rule": RULE,
        "period": "P90D",
        "previous": None,
        "items_updated": 2,
    }
    assert deadlines(api, ACME) == {(RULE, ended + 90 * DAY, None)}
    assert deadlines(api, OTHER) == {(RULE, ended + 30 * DAY, None)}  # not this client's

    set_at = api.clock().isoformat()
    listed = {
        "client": ACME,
        "rule": RULE,
        "period": "P90D",
        "set_at": set_at,
        "policy_version": api.app.state.site.policy.version,
        "applied": True,
    }
    everyone = api.get("/clients/overrides", READ)
    assert everyone.status_code == 200 and everyone.json() == {"overrides": [listed]}
    one = api.get(f"/clients/{ACME}/overrides", READ)
    assert one.json() == {"client": ACME, "overrides": [listed]}
    other = api.get(f"/clients/{OTHER}/overrides", READ)
    assert other.json() == {"client": OTHER, "overrides": []}

    api.clock.advance(60)
    changed = put(api, "P1Y")
    assert changed.json()["previous"] == "P90D" and changed.json()["items_updated"] == 2
    assert deadlines(api, ACME) == {(RULE, ended.replace(year=ended.year + 1), None)}
    same = put(api, "P12M")  # the same deadlines: nothing to write
    assert (same.json()["previous"], same.json()["items_updated"]) == ("P1Y", 0)

    cleared = delete(api)
    assert cleared.status_code == 200, cleared.text
    assert cleared.json() == {
        "client": ACME,
        "rule": RULE,
        "period": None,
        "previous": "P12M",
        "items_updated": 2,
    }
    assert deadlines(api, ACME) == {(RULE, ended + 30 * DAY, None)}
    assert api.get("/clients/overrides", READ).json() == {"overrides": []}
    assert_error(delete(api), 404, "no period is agreed with this client for this rule")

    # Each change is audited by the key that made it: the client's key, the rule, the periods
    # and a count; nothing of the client's end users.
    key_id = api.key(WRITE)[0]
    events = override_events(api)
    assert [(e["action"], e["actor_kind"], e["actor_id"]) for e in events] == [
        ("retention.client_override_set", "api_key", key_id),
        ("retention.client_override_set", "api_key", key_id),
        ("retention.client_override_set", "api_key", key_id),
        ("retention.client_override_cleared", "api_key", key_id),
    ]
    assert events[0]["details"] == {
        "client": ACME,
        "rule": RULE,
        "period": "P90D",
        "previous": None,
        "items_updated": 2,
    }
    assert events[-1]["details"] == {
        "client": ACME,
        "rule": RULE,
        "period": "P12M",
        "items_updated": 2,
    }
    assert all(e["subject_id"] is None for e in events)
    trail = api.audit_export()
    for value in PERSONAL:
        assert value not in trail


def test_items_still_waiting_for_the_clients_event_keep_waiting(api: ConsentApi) -> None:
    collect_for(api, ACME)
    answer = put(api, "P90D")
    assert answer.json()["items_updated"] == 0
    assert deadlines(api, ACME) == {(RULE, None, "contract_ended")}
    ended = api.clock().replace(microsecond=0)
    contract_ended(api, ACME, ended)
    assert deadlines(api, ACME) == {(RULE, ended + 90 * DAY, None)}


@pytest.mark.parametrize(
    ("path", "body", "field", "where", "words"),
    [
        (f"/clients/Acme-Logistics/overrides/{RULE}", {"period": "P90D"}, "client", "path", ""),
        (f"/clients/{'a' * 201}/overrides/{RULE}", {"period": "P90D"}, "client", "path", ""),
        (f"/clients/{ACME}/overrides/no_such_rule", {"period": "P90D"}, "rule", "path", RULE),
        (f"/clients/{ACME}/overrides/inquiries", {"period": "P90D"}, "rule", "path", RULE),
        (ONE, {"period": "90 days"}, "period", "body", "ISO-8601"),
        (ONE, {"period": "P0D"}, "period", "body", "zero"),
        (ONE, {"period": "P9000Y"}, "period", "body", "too long"),
        (ONE, {"period": "P" + "9" * 60 + "D"}, "period", "body", ""),
        (ONE, {"period": 90}, "period", "body", ""),
        (ONE, {}, "period", "body", ""),
        (ONE, {"period": "P90D", "rule": RULE}, "rule", "body", ""),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    api: ConsentApi, path: str, body: dict[str, Any], field: str, where: str, words: str
) -> None:
    collect_for(api, ACME)
    contract_ended(api, ACME, api.clock() - DAY)
    api.key(WRITE)
    with api.nothing_written():
        response = api.call("PUT", path, (WRITE,), body)
    messages = assert_invalid(response, field, where=where)
    assert words in messages[field]


def test_reading_or_clearing_with_a_malformed_client_key_is_a_422(api: ConsentApi) -> None:
    api.key(READ)
    api.key(WRITE)
    with api.nothing_written():
        assert_invalid(api.get("/clients/Acme!/overrides", READ), "client", where="path")
        assert_invalid(delete(api, f"/clients/ACME/overrides/{RULE}"), "client", where="path")


def test_a_period_kept_for_a_rule_that_no_longer_allows_it_is_listed_unapplied_and_cleared(
    api: ConsentApi,
) -> None:
    """As if set under an earlier declaration whose inquiries rule let clients override it."""
    site = api.app.state.site
    with site.sessions.begin() as session:
        session.add(
            ClientOverride(
                client=ACME,
                rule="inquiries",
                period="P2Y",
                set_at=api.clock(),
                policy_version="2.0",
            )
        )
    [listed] = api.get(f"/clients/{ACME}/overrides", READ).json()["overrides"]
    assert (listed["rule"], listed["applied"]) == ("inquiries", False)
    cleared = delete(api, f"/clients/{ACME}/overrides/inquiries")
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["previous"], cleared.json()["items_updated"]) == ("P2Y", 0)
    assert api.get("/clients/overrides", READ).json() == {"overrides": []}
