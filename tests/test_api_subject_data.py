"""GET /api/v1/subjects/{id}/data: a need-to-know read under the API key's staff role (P22)."""

from __future__ import annotations

import pytest
from apikey_support import CREATED, OPERATOR
from consent_api_support import (
    API,
    ON_EACH_DATABASE,
    UNKNOWN_ID,
    ConsentApi,
    assert_error,
    assert_invalid,
)
from vault_support import COMPANY, EMAIL, MESSAGE, NAME, PHONE, submit

from troth.apikeys import create_key
from troth.store import make_sessionmaker
from troth.vault import shred_subject

pytestmark = pytest.mark.usefixtures("no_personal_data_in_logs")
VAULT_VALUES = (EMAIL, PHONE, NAME, MESSAGE, COMPANY)


def _role_key(api: ConsentApi, role: str, *scopes: str) -> dict[str, str]:
    with make_sessionmaker(api.engine).begin() as session:
        _row, text = create_key(
            session,
            name=f"{role} reader",
            scopes=scopes or ("data:read",),
            now=CREATED,
            actor=OPERATOR,
            staff_role=role,
        )
    return {"Authorization": f"Bearer {text}"}


def _collected(api: ConsentApi) -> str:
    site = api.app.state.site
    with make_sessionmaker(api.engine).begin() as session:
        return submit(session, site.policy, site.keyring, now=CREATED).subject_id


def _read(api: ConsentApi, subject_id: str, headers: dict[str, str], **params: str):
    return api.client.get(f"{API}/subjects/{subject_id}/data", params=params, headers=headers)


@ON_EACH_DATABASE
def test_a_read_returns_what_the_role_may_see_and_is_audited(api: ConsentApi) -> None:
    subject_id = _collected(api)
    response = _read(
        api, subject_id, _role_key(api, "sales"), purpose="answer_inquiries", staff="emp-1042"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["subject_id"], body["role"], body["purpose"]) == (
        subject_id,
        "sales",
        "answer_inquiries",
    )
    assert {item["category"]: item["value"] for item in body["items"]} == {
        "user.name": NAME,
        "user.contact.email": EMAIL,
        "user.contact.phone_number": PHONE,
        "user.contact.organization": COMPANY,
    }
    assert MESSAGE not in response.text
    [event] = [e for e in api.audit() if e["action"] == "subject.data_read"]
    assert event["subject_id"] == subject_id
    assert event["details"]["staff"] == "emp-1042"
    assert event["details"]["items"] == 4


@ON_EACH_DATABASE
def test_a_purpose_outside_the_role_is_403_and_the_refusal_is_audited(api: ConsentApi) -> None:
    subject_id = _collected(api)
    response = _read(api, subject_id, _role_key(api, "sales"), purpose="billing")
    error = assert_error(response, 403, "staff role 'sales' may not read for purpose 'billing'")
    assert error["fields"] == []
    for value in VAULT_VALUES:
        assert value not in response.text
    [event] = [e for e in api.audit() if e["action"] == "subject.data_read_refused"]
    assert event["subject_id"] == subject_id
    assert event["details"]["purpose"] == "billing"


def test_a_role_the_policy_no_longer_declares_reads_nothing(api: ConsentApi) -> None:
    subject_id = _collected(api)
    response = _read(api, subject_id, _role_key(api, "interns"), purpose="answer_inquiries")
    assert_error(response, 403, "staff role 'interns' is not declared in policy version 3.0")


def test_keys_without_the_scope_or_without_a_key_are_refused(api: ConsentApi) -> None:
    subject_id = _collected(api)
    path = f"/subjects/{subject_id}/data"
    assert_error(api.get(path, "consent:read", purpose="answer_inquiries"), 403, "data:read")
    response = api.client.get(API + path, params={"purpose": "answer_inquiries"})
    assert_error(response, 401)
    assert not [e for e in api.audit() if e["action"].startswith("subject.data_read")]


def test_bad_input_names_the_field(api: ConsentApi) -> None:
    subject_id = _collected(api)
    key = _role_key(api, "sales")
    assert_invalid(_read(api, subject_id, key), "purpose", where="query")
    assert_invalid(
        _read(api, subject_id, key, purpose="ada.lovelace@example.com"), "purpose", where="query"
    )
    assert_invalid(
        _read(api, subject_id, key, purpose="answer_inquiries", staff="ada.lovelace@example.com"),
        "staff",
        where="query",
    )
    assert_invalid(
        _read(api, "not-a-uuid", key, purpose="answer_inquiries"), "subject_id", where="path"
    )
    assert not [e for e in api.audit() if e["action"].startswith("subject.data_read")]


def test_an_unknown_subject_is_404_and_an_erased_one_410(api: ConsentApi) -> None:
    key = _role_key(api, "sales")
    assert_error(_read(api, UNKNOWN_ID, key, purpose="answer_inquiries"), 404, "no such subject")
    subject_id = _collected(api)
    with make_sessionmaker(api.engine).begin() as session:
        shred_subject(session, subject_id, now=CREATED, actor=OPERATOR)
    assert_error(_read(api, subject_id, key, purpose="answer_inquiries"), 410, "erased")
