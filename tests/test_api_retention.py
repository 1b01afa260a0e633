"""The legal-hold routes: scopes, a hold placed, listed and lifted, and bad input named by
field (P20)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from consent_api_support import UNKNOWN_ID, ConsentApi, assert_error, assert_invalid

pytestmark = pytest.mark.usefixtures("no_personal_data_in_logs")

READ, WRITE = "retention:read", "retention:write"
HOLD = {
    "scope": "category",
    "target": "user.financial",
    "reason": "GST audit 2026-27",
    "placed_by": "finance team",
}
ROUTES = [
    ("POST", "/holds", WRITE, HOLD),
    ("GET", "/holds", READ, None),
    ("POST", f"/holds/{UNKNOWN_ID}/lift", WRITE, {"lifted_by": "legal"}),
]


@pytest.mark.parametrize(("method", "path", "scope", "body"), ROUTES)
def test_every_route_needs_a_key_with_its_scope(
    api: ConsentApi, method: str, path: str, scope: str, body: object
) -> None:
    others = [s for s in (READ, WRITE, "vault:write") if s != scope]
    api.key(*others)
    with api.nothing_written():
        anonymous = api.client.request(method, "/api/v1" + path, json=body)
        assert_error(anonymous, 401, "An API key is required")
        wrong = api.call(method, path, tuple(others), body)
        assert_error(wrong, 403, f"lacks the scope '{scope}'")


def test_a_hold_is_placed_listed_and_lifted(api: ConsentApi) -> None:
    subject = api.subject()
    until = api.clock() + timedelta(days=30)
    placed = api.post(
        "/holds",
        WRITE,
        {"scope": "subject", "target": subject, "reason": "Case 114/2026", "placed_by": "legal"}
        | {"until": until.isoformat()},
    )
    assert placed.status_code == 201, placed.text
    hold = placed.json()
    assert (hold["scope"], hold["target"], hold["active"]) == ("subject", subject, True)
    assert hold["until"] == until.isoformat()
    second = api.post("/holds", WRITE, HOLD).json()
    listed = api.get("/holds", READ).json()["holds"]
    assert {h["id"] for h in listed} == {hold["id"], second["id"]}
    lifted = api.post(f"/holds/{hold['id']}/lift", WRITE, {"lifted_by": "legal"})
    assert lifted.status_code == 200 and lifted.json()["active"] is False
    assert lifted.json()["lifted_by"] == "legal"
    active = api.get("/holds", READ, active="true").json()["holds"]
    assert [h["id"] for h in active] == [second["id"]]
    again = api.post(f"/holds/{hold['id']}/lift", WRITE, {"lifted_by": "legal"})
    assert_error(again, 409, "already lifted")
    actions = [e["action"] for e in api.audit() if e["action"].startswith("retention.")]
    assert actions == [
        "retention.hold_placed",
        "retention.hold_placed",
        "retention.hold_lifted",
    ]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"target": "user.nothing"}, "target"),
        ({"scope": "subject", "target": UNKNOWN_ID}, "target"),
        ({"scope": "dataset", "target": "Not A Key"}, "target"),
        ({"scope": "client", "target": "Acme-Logistics"}, "target"),
        ({"scope": "everything"}, "scope"),
        ({"reason": "  "}, "reason"),
        ({"placed_by": ""}, "placed_by"),
        ({"until": "2020-01-01T00:00:00Z"}, "until"),
        ({"until": "2030-01-01T00:00:00"}, "until"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    api: ConsentApi, changes: dict[str, str], field: str
) -> None:
    api.key(WRITE)
    with api.nothing_written():
        assert_invalid(api.post("/holds", WRITE, HOLD | changes), field)


def test_lifting_an_unknown_hold_is_a_404(api: ConsentApi) -> None:
    response = api.post(f"/holds/{UNKNOWN_ID}/lift", WRITE, {"lifted_by": "legal"})
    assert_error(response, 404, "no such legal hold")
    assert_invalid(api.post(f"/holds/{UNKNOWN_ID}/lift", WRITE, {}), "lifted_by")
