"""Recording consent over /api/v1: events for one subject, withdrawal, the batch for many, refused
input that writes nothing, writes at the same time, and an answer sent only once the write is
committed."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from apikey_support import MovingClock
from consent_api_support import (
    API,
    EMAIL,
    EXTERNAL_ID,
    GIVEN,
    ON_EACH_DATABASE,
    OTHER_EMAIL,
    PHONE,
    UNKNOWN_ID,
    UUID4,
    ConsentApi,
    assert_error,
    assert_invalid,
    at_once,
    audit_actions,
    with_ids,
)
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session
from starlette.types import Message, Receive, Scope, Send

from troth.consent import ConsentInput
from troth.consent.models import ConsentEvent
from troth.web.api.consents import BatchConsentIn, ConsentIn

pytestmark = pytest.mark.usefixtures("no_personal_data_in_logs")


# -- POST /subjects/{subject_id}/consents ------------------------------------------------------


@ON_EACH_DATABASE
def test_recording_events_answers_their_record_ids_in_order(
    api: ConsentApi, clock: MovingClock
) -> None:
    subject = api.subject()
    events = [
        GIVEN,
        {
            "purpose": "child_accounts",
            "state": "given",
            "method": "web_form",
            "acted_by": "parent",
            "actor_ref": "parent-ref-77",
            "categories": ["user.name"],
            "jurisdiction": "in-dpdp",
            "language": "hi-IN",
            "collection_point": "/apps/kids/signup",
        },
        {"purpose": "site_analytics", "state": "given", "method": "cookie_banner"},
        {"purpose": "testimonials", "state": "refused"},
    ]
    response = api.post(f"/subjects/{subject}/consents", "consent:write", {"events": events})
    assert response.status_code == 201, response.text
    recorded = response.json()["recorded"]
    assert [(r["purpose"], r["state"]) for r in recorded] == [
        ("newsletter", "given"),
        ("child_accounts", "given"),
        ("site_analytics", "given"),
        ("testimonials", "refused"),
    ]
    assert all(UUID4.fullmatch(r["record_id"]) for r in recorded)
    history = {e["record_id"]: e for e in api.consents(subject)["history"]}
    assert list(history) == [r["record_id"] for r in recorded]
    child = history[recorded[1]["record_id"]]
    assert {k: child[k] for k in ("method", "acted_by", "categories", "jurisdiction")} == {
        "method": "web_form",
        "acted_by": "parent",
        "categories": ["user.name"],
        "jurisdiction": "in-dpdp",
    }
    assert (child["language"], child["collection_point"]) == ("hi-IN", "/apps/kids/signup")
    assert child["expires_at"] is None
    # Through the cookie banner, consent lasts as long as the cookie choice: six months.
    assert history[recorded[2]["record_id"]]["expires_at"] == "2027-05-03T10:00:00+00:00"
    assert history[recorded[3]["record_id"]]["expires_at"] is None
    [audit] = [e for e in api.audit() if e["action"] == "consent.recorded"]
    key_id, _ = api.key("consent:write")
    assert (audit["actor_kind"], audit["actor_id"], audit["subject_id"]) == (
        "api_key",
        key_id,
        subject,
    )
    assert audit["details"]["record_ids"] == [r["record_id"] for r in recorded]
    assert audit["details"]["states"] == {"given": 3, "refused": 1}
    assert "parent-ref-77" not in json.dumps(audit)


# -- POST /subjects/{subject_id}/consents: refused input -----------------------------------------


def test_every_field_of_an_event_reaches_the_ledger() -> None:
    # The route copies an event's fields one by one into the ledger's input: none may be left
    # behind when either side gains a field.
    given = {
        "purpose": "newsletter",
        "state": "given",
        "method": "web_form",
        "acted_by": "nominee",
        "actor_ref": "nominee-7",
        "categories": ["user.contact.email"],
        "jurisdiction": "eu-gdpr",
        "language": "hi-IN",
        "collection_point": "https://kestrel.example/signup",
    }
    assert set(given) == {f.name for f in dataclasses.fields(ConsentInput)}
    assert set(given) == set(ConsentIn.model_fields)
    for model in (ConsentIn, BatchConsentIn):
        assert dataclasses.asdict(model.model_validate(given).as_input()) == given


@pytest.mark.parametrize(
    ("events", "fields"),
    [
        # An email address sent where a purpose belongs: named, not repeated.
        ([GIVEN, {"purpose": EMAIL, "state": "given"}], ["events[1].purpose"]),
        ([GIVEN, GIVEN | {"categories": ["user.name", EMAIL]}], ["events[1].categories[1]"]),
        ([GIVEN | {"categories": ["user.financial"]}], ["events[0].categories[0]"]),
        ([GIVEN | {"state": 3}], ["events[0].state"]),
        ([GIVEN | {"state": "expired"}], ["events[0].state"]),
        ([GIVEN | {"categories": "user.name"}], ["events[0].categories"]),
        ([GIVEN | {"acted_by": ["parent"]}], ["events[0].acted_by"]),
        ([{"purpose": "newsletter"}], ["events[0].state"]),
        ([{"state": "given"}, {}], ["events[0].purpose", "events[1].purpose", "events[1].state"]),
        ([GIVEN | {"email": EMAIL}], ["events[0].email"]),
        ([GIVEN | {"jurisdiction": "us-tx-tdpsa"}], ["events[0].jurisdiction"]),
        ([GIVEN | {"language": "not a language"}], ["events[0].language"]),
        ([GIVEN | {"method": "carrier_pigeon"}], ["events[0].method"]),
        ([], ["events"]),
        ([GIVEN] * 1001, ["events"]),
    ],
)
def test_recording_refuses_bad_events_naming_the_field_and_writes_nothing(
    api: ConsentApi, events: list[dict[str, Any]], fields: list[str]
) -> None:
    subject = api.subject()
    with api.nothing_written():
        response = api.post(f"/subjects/{subject}/consents", "consent:write", {"events": events})
        assert_invalid(response, *fields)
    assert api.consents(subject)["history"] == []


def test_an_undeclared_purpose_or_category_is_explained_without_repeating_it(
    api: ConsentApi,
) -> None:
    subject = api.subject()
    body = {"events": [GIVEN, {"purpose": EMAIL, "state": "given"}]}
    response = api.post(f"/subjects/{subject}/consents", "consent:write", body)
    message = assert_invalid(response, "events[1].purpose")["events[1].purpose"]
    assert message.startswith("is not a declared purpose; declared: answer_inquiries, ")
    body = {"events": [GIVEN | {"categories": [EMAIL]}]}
    response = api.post(f"/subjects/{subject}/consents", "consent:write", body)
    message = assert_invalid(response, "events[0].categories[0]")["events[0].categories[0]"]
    assert message == (
        "is not a data category of purpose 'newsletter'; its categories: "
        "user.name, user.contact.email"
    )
    response = api.post(
        f"/subjects/{subject}/signals", "consent:write", {"kind": "objection", "purpose": EMAIL}
    )
    assert assert_invalid(response, "purpose") == {"purpose": "is not a declared purpose"}
    response = api.post(
        f"/subjects/{subject}/consents/withdraw",
        "consent:write",
        {"purposes": ["newsletter", EMAIL]},
    )
    assert assert_invalid(response, "purposes[1]") == {
        "purposes[1]": "is not a declared purpose; declared: "
        + ", ".join(api.app.state.site.policy.purposes)
    }


# -- POST /subjects/{subject_id}/consents/withdraw ---------------------------------------------


@ON_EACH_DATABASE
def test_withdrawing_is_one_call_like_giving_and_flips_the_decision(api: ConsentApi) -> None:
    subject = api.subject()
    # Giving: one call with consent:write. Withdrawing: one call with the same scope.
    [given] = api.record(subject, "newsletter")
    api.record(subject, "site_analytics", "testimonials")
    assert api.reason(subject, "newsletter") == "consent"
    response = api.post(
        f"/subjects/{subject}/consents/withdraw", "consent:write", {"purposes": ["newsletter"]}
    )
    assert response.status_code == 200, response.text
    [withdrawn] = response.json()["withdrawn"]
    assert set(withdrawn) == {"record_id", "purpose"} and withdrawn["purpose"] == "newsletter"
    assert withdrawn["record_id"] != given
    decision = api.decide(subject, "newsletter")
    assert (decision["allowed"], decision["reason"], decision["record_id"]) == (
        False,
        "consent_withdrawn",
        withdrawn["record_id"],
    )
    assert api.reason(subject, "site_analytics") == "consent"
    [event] = [e for e in api.consents(subject)["history"] if e["state"] == "withdrawn"]
    assert (event["record_id"], event["method"]) == (withdrawn["record_id"], "api")


@ON_EACH_DATABASE
def test_withdrawing_without_purposes_withdraws_every_consent_given(api: ConsentApi) -> None:
    subject = api.subject()
    api.record(
        subject,
        "newsletter",
        "site_analytics",
        {"purpose": "testimonials", "state": "refused"},
    )
    api.withdraw(subject, "newsletter")
    for purpose in ("newsletter", "site_analytics", "testimonials"):
        api.reason(subject, purpose)  # cached
    response = api.post(
        f"/subjects/{subject}/consents/withdraw", "consent:write", {"method": "email_link"}
    )
    assert response.status_code == 200, response.text
    # Only what was still given: the newsletter was withdrawn already, testimonials refused.
    [withdrawn] = response.json()["withdrawn"]
    assert withdrawn["purpose"] == "site_analytics"
    assert api.reason(subject, "site_analytics") == "consent_withdrawn"
    assert api.reason(subject, "testimonials") == "consent_refused"
    history = api.consents(subject)["history"]
    assert (history[-1]["record_id"], history[-1]["method"]) == (
        withdrawn["record_id"],
        "email_link",
    )
    # Nothing left to withdraw: nothing recorded.
    with api.nothing_written():
        assert api.withdraw(subject) == {}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"purposes": ["newsletter", EMAIL]}, ["purposes[1]"]),
        ({"purposes": "newsletter"}, ["purposes"]),
        ({"purposes": [7]}, ["purposes[0]"]),
        ({"purposes": ["newsletter"], "method": "cookie_banner"}, ["method"]),
        ({"purposes": ["newsletter"], "reason": "moved away"}, ["reason"]),
        ({"purposes": ["newsletter"] * 101}, ["purposes"]),
    ],
)
def test_withdrawing_refuses_bad_input_naming_the_field_and_writes_nothing(
    api: ConsentApi, body: dict[str, Any], fields: list[str]
) -> None:
    subject = api.subject()
    api.record(subject, "newsletter")
    with api.nothing_written():
        response = api.post(f"/subjects/{subject}/consents/withdraw", "consent:write", body)
        assert_invalid(response, *fields)
    assert api.reason(subject, "newsletter") == "consent"


# -- POST /consents (the batch) ----------------------------------------------------------------


def by_identity(kind: str, value: str, **event: Any) -> dict[str, Any]:
    return {"identity": {"kind": kind, "value": value}, **(GIVEN | event)}


@ON_EACH_DATABASE
def test_the_batch_records_for_many_subjects_by_id_or_by_identity(api: ConsentApi) -> None:
    known = api.subject("phone", PHONE)
    events = [
        by_identity("email", EMAIL),
        {"subject_id": known, "purpose": "site_analytics", "state": "refused"},
        # The same person again, spelled otherwise: the subject created above.
        by_identity("email", EMAIL.upper(), purpose="testimonials"),
        by_identity("external_id", EXTERNAL_ID, purpose="recruitment"),
    ]
    response = api.post("/consents", "consent:write", {"events": events})
    assert response.status_code == 201, response.text
    recorded = response.json()["recorded"]
    created = api.subject("email", EMAIL)
    external = api.subject("external_id", EXTERNAL_ID)
    assert [(r["subject_id"], r["purpose"]) for r in recorded] == [
        (created, "newsletter"),
        (known, "site_analytics"),
        (created, "testimonials"),
        (external, "recruitment"),
    ]
    assert len({created, known, external}) == 3
    assert [e["record_id"] for e in api.consents(created)["history"]] == [
        recorded[0]["record_id"],
        recorded[2]["record_id"],
    ]
    assert [e["record_id"] for e in api.consents(known)["history"]] == [recorded[1]["record_id"]]
    assert api.reason(created, "testimonials") == "consent"
    assert api.reason(known, "site_analytics") == "consent_refused"
    # A subject.created event for each person new to troth, then one for the whole batch.
    actions = [a for a in audit_actions(api) if a.startswith(("subject.", "consent."))]
    assert actions == ["subject.created"] * 3 + ["consent.recorded"]
    [batch] = [e for e in api.audit() if e["action"] == "consent.recorded"]
    assert batch["subject_id"] is None
    assert sorted(batch["details"]["subjects"]) == sorted({created, known, external})
    assert batch["details"]["events"] == 4


BATCH_EVENT = {"subject_id": "SUBJECT"} | GIVEN


@pytest.mark.parametrize(
    ("events", "fields", "sent"),
    [
        # A new person first, then a mistake: the person is not created either.
        (
            [by_identity("email", EMAIL), by_identity("email", EMAIL, purpose=OTHER_EMAIL)],
            ["events[1].purpose"],
            None,
        ),
        (
            [by_identity("email", EMAIL), by_identity("email", "ada.lovelace.example.com")],
            ["events[1].identity.value"],
            "ada.lovelace.example.com",
        ),
        (
            [by_identity("email", EMAIL), by_identity("phone", "12345")],
            ["events[1].identity.value"],
            None,
        ),
        (
            [by_identity("email", EMAIL, categories=["user.financial"])],
            ["events[0].categories[0]"],
            None,
        ),
        ([by_identity("fax", EMAIL)], ["events[0].identity.kind"], None),
        ([by_identity("email", EMAIL) | {"subject_id": "SUBJECT"}], ["events[0]"], None),
        ([GIVEN], ["events[0]"], None),
        ([BATCH_EVENT, BATCH_EVENT | {"subject_id": UNKNOWN_ID}], ["events[1].subject_id"], None),
        ([BATCH_EVENT | {"subject_id": 42}], ["events[0].subject_id"], None),
        ([BATCH_EVENT | {"state": "maybe"}], ["events[0].state"], None),
        ([BATCH_EVENT | {"email": EMAIL}], ["events[0].email"], None),
        (
            [BATCH_EVENT | {"identity": {"kind": "email", "value": EMAIL, "x": 1}}],
            ["events[0].identity.x"],
            None,
        ),
        ([], ["events"], None),
        ([by_identity("email", EMAIL)] * 1001, ["events"], None),
    ],
)
def test_a_refused_batch_writes_nothing_not_even_its_new_subjects(
    api: ConsentApi, events: list[dict[str, Any]], fields: list[str], sent: str | None
) -> None:
    subject = api.subject("phone", PHONE)
    api.record(subject, "site_analytics")
    history = api.consents(subject)["history"]
    with api.nothing_written():
        response = api.post("/consents", "consent:write", {"events": with_ids(events, subject)})
        assert_invalid(response, *fields)
        if sent is not None:
            assert sent not in response.text
    assert api.consents(subject)["history"] == history


@ON_EACH_DATABASE
def test_a_refused_batch_on_each_database(api: ConsentApi) -> None:
    subject = api.subject("phone", PHONE)
    events = [
        {"subject_id": subject} | GIVEN,
        by_identity("email", EMAIL),
        by_identity("email", OTHER_EMAIL, purpose="teleportation"),
    ]
    with api.nothing_written():
        response = api.post("/consents", "consent:write", {"events": events})
        assert_invalid(response, "events[2].purpose")
    assert api.consents(subject)["history"] == []
    assert api.reason(subject, "newsletter") == "no_consent"


# -- at the same time --------------------------------------------------------------------------


@ON_EACH_DATABASE
def test_writes_for_many_subjects_at_once_all_succeed(api: ConsentApi) -> None:
    subjects = [api.subject("external_id", f"customer-{n}") for n in range(12)]
    calls = [(f"/subjects/{subject}/consents", {"events": [GIVEN]}) for subject in subjects]
    responses = at_once(api, calls)
    assert [r.status_code for r in responses] == [201] * len(subjects), [
        r.text for r in responses if r.status_code != 201
    ]
    assert {api.reason(subject, "newsletter") for subject in subjects} == {"consent"}


# -- a write is answered once it is committed --------------------------------------------------


class WatchResponses:
    """ASGI middleware calling ``on_start(path)`` just before a response starts to be sent."""

    def __init__(self, app: Any, on_start: Any) -> None:
        self.app = app
        self.on_start = on_start

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.on_start(scope["path"])
            await send(message)

        await self.app(scope, receive, watch if scope["type"] == "http" else send)


def test_a_write_is_committed_and_its_decision_current_before_the_answer_is_sent(
    api: ConsentApi,
) -> None:
    subject = api.subject()
    assert api.reason(subject, "newsletter") == "no_consent"  # now in the decision cache
    seen: dict[str, Any] = {}

    def on_start(path: str) -> None:
        if path.endswith("/consents"):
            with api.engine.connect() as connection:
                seen["stored"] = connection.scalar(select(func.count()).select_from(ConsentEvent))
            seen["decision"] = api.app.state.site.decisions.allows(subject, "newsletter").reason

    # A second client on the running app (outside `with`, so it does not start it again).
    watched = TestClient(WatchResponses(api.app, on_start))
    response = watched.post(
        f"{API}/subjects/{subject}/consents",
        json={"events": [{"purpose": "newsletter", "state": "given"}]},
        headers=api.headers("consent:write"),
    )
    assert response.status_code == 201, response.text
    # A caller that asks the moment it has its 201 is told what it just recorded.
    assert seen == {"stored": 1, "decision": "consent"}


def test_a_write_whose_commit_fails_is_not_answered_as_done(api: ConsentApi) -> None:
    subject = api.subject()
    sessions = api.app.state.site.sessions

    def fail(session: Session) -> None:
        raise RuntimeError("the database went away")

    event.listen(sessions, "before_commit", fail)
    try:
        response = api.post(
            f"/subjects/{subject}/consents",
            "consent:write",
            {"events": [{"purpose": "newsletter", "state": "given"}]},
        )
    finally:
        event.remove(sessions, "before_commit", fail)
    assert_error(response, 500, "Something went wrong on our side")
    assert api.consents(subject)["history"] == []
    assert api.reason(subject, "newsletter") == "no_consent"
