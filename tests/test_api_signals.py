"""Signals over /api/v1: restriction, objection, Global Privacy Control and child, each raised and
lifted, and refused input that writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from consent_api_support import EMAIL, ConsentApi, assert_invalid, audit_actions

pytestmark = pytest.mark.usefixtures("no_personal_data_in_logs")


# -- POST /subjects/{subject_id}/signals -------------------------------------------------------


def test_signals_are_raised_and_lifted(api: ConsentApi) -> None:
    subject = api.subject()
    raised = [
        {"kind": "restriction"},
        {"kind": "objection", "purpose": "research"},
        {"kind": "objection"},
        {"kind": "gpc_opt_out", "active": True},
        {"kind": "child"},
    ]
    for body in raised:
        response = api.post(f"/subjects/{subject}/signals", "consent:write", body)
        assert response.status_code == 201, response.text
        assert response.json() == {"active": True, "purpose": None} | body
    assert api.consents(subject)["signals"] == {
        "restricted": True,
        "objections": ["*", "research"],
        "gpc_opt_out": True,
        "child": True,
    }
    for body in raised:
        answer = api.signal(subject, **(body | {"active": False}))
        assert answer["active"] is False
    assert api.consents(subject)["signals"] == {
        "restricted": False,
        "objections": [],
        "gpc_opt_out": False,
        "child": False,
    }
    actions = audit_actions(api)
    for kind in ("restriction", "objection", "gpc_opt_out", "child"):
        assert f"subject.{kind}_raised" in actions and f"subject.{kind}_lifted" in actions
    # A signal is about a subject: its id, never an identity, is in the audit event.
    assert {
        e["subject_id"] for e in api.audit() if e["action"].endswith(("_raised", "_lifted"))
    } == {subject}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"kind": "hold"}, ["kind"]),
        ({}, ["kind"]),
        ({"kind": "objection", "purpose": EMAIL}, ["purpose"]),
        ({"kind": "restriction", "purpose": "newsletter"}, ["purpose"]),
        ({"kind": "child", "active": "maybe"}, ["active"]),
        ({"kind": "objection", "purpose": ["newsletter"]}, ["purpose"]),
        ({"kind": "child", "birth_date": "2015-04-01"}, ["birth_date"]),
    ],
)
def test_signals_refuse_bad_input_naming_the_field_and_write_nothing(
    api: ConsentApi, body: dict[str, Any], fields: list[str]
) -> None:
    subject = api.subject()
    with api.nothing_written():
        response = api.post(f"/subjects/{subject}/signals", "consent:write", body)
        assert_invalid(response, *fields)
