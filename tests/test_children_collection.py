"""P29 at collection: which submissions are a child's, what is refused, and what a held
submission's answer says."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from apikey_support import MovingClock
from children_support import (
    ADULT_BORN,
    CHILD_NAME,
    PARENT,
    assert_no_secret,
    child_form,
    kestrel_variant,
    submit_child,
    usable_items,
)
from consent_api_support import ON_EACH_DATABASE, ConsentApi, assert_invalid, serve

from troth.vault import stated_age
from troth.vault.ages import UnreadableAge, age_on

pytestmark = pytest.mark.usefixtures("no_personal_data_in_logs")


def refused(api: ConsentApi, body: dict[str, Any], *fields: str) -> dict[str, str]:
    api.key("vault:write")
    with api.nothing_written():
        response = api.post("/collect", "vault:write", body)
    messages = assert_invalid(response, *fields)
    assert_no_secret(response.text)
    return messages


def with_fields(*fields: tuple[str, str], **changes: Any) -> dict[str, Any]:
    return child_form(
        fields=[{"category": category, "value": value} for category, value in fields], **changes
    )


@ON_EACH_DATABASE
def test_a_childs_submission_without_a_parents_address_is_refused(api: ConsentApi) -> None:
    body = child_form()
    del body["parent_email"]
    message = refused(api, body, "parent_email")["parent_email"]
    assert "held until a parent consents" in message
    refused(api, child_form(parent_email="  "), "parent_email")
    refused(api, child_form(parent_email="not an address"), "parent_email")
    refused(api, child_form(parent_email="4111 1111 1111 1111"), "parent_email")


def test_the_childs_own_address_is_not_a_parents(api: ConsentApi) -> None:
    body = child_form(identity={"kind": "email", "value": PARENT})
    assert "child's own" in refused(api, body, "parent_email")["parent_email"]


@pytest.mark.parametrize(
    "value",
    ["14/05/2016", "2016-02-30", "next spring", "2016-5-14", "", "2027-01-01"],
)
def test_an_unreadable_date_of_birth_is_refused(api: ConsentApi, value: str) -> None:
    body = with_fields(("user.name", CHILD_NAME), ("user.demographic.date_of_birth", value))
    message = refused(api, body, "fields[1].value")["fields[1].value"]
    assert value not in message or not value


def test_an_adult_is_stored_and_usable_at_once(api: ConsentApi) -> None:
    body = with_fields(("user.name", CHILD_NAME), ("user.demographic.date_of_birth", ADULT_BORN))
    del body["parent_email"]
    response = api.post("/collect", "vault:write", body)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert (answer["status"], answer["held"]) == ("stored", None)
    assert len(usable_items(api, answer["subject_id"])) == 2
    assert api.decide(answer["subject_id"], "operate_client_apps")["allowed"] is True
    assert "child.held" not in [e["action"] for e in api.audit()]


def test_the_threshold_is_counted_on_the_collection_day(api: ConsentApi) -> None:
    # Kestrel's threshold is 18; the clock stands at 3 November 2026.
    eighteen_tomorrow = with_fields(("user.demographic.date_of_birth", "2008-11-04"))
    assert submit_child(api, **eighteen_tomorrow)["status"] == "held_pending_parental_consent"
    eighteen_today = with_fields(
        ("user.demographic.date_of_birth", "2008-11-03"),
        identity={"kind": "external_id", "value": "kestrel-app-user-9"},
    )
    assert submit_child(api, **eighteen_today)["status"] == "stored"


def test_a_purpose_only_for_children_holds_without_an_age(api: ConsentApi) -> None:
    # child_accounts: subjects [customer.child], on consent: held although nobody gave consent
    # yet, since the parent's consent is what the hold asks for.
    body = with_fields(("user.name", CHILD_NAME), purpose="child_accounts")
    answer = submit_child(api, **body)
    assert answer["status"] == "held_pending_parental_consent"
    assert usable_items(api, answer["subject_id"]) == []


def test_a_subject_known_to_be_a_child_is_held_again(api: ConsentApi) -> None:
    first = submit_child(api)
    body = with_fields(("user.name", CHILD_NAME))
    del body["parent_email"]
    refused(api, body, "parent_email")
    second = submit_child(api, **with_fields(("user.name", CHILD_NAME)))
    assert second["subject_id"] == first["subject_id"]
    assert second["status"] == "held_pending_parental_consent"


def test_a_parent_email_for_an_adult_is_not_stored(api: ConsentApi) -> None:
    body = with_fields(("user.demographic.date_of_birth", ADULT_BORN))
    answer = submit_child(api, **body)
    assert answer["status"] == "stored"
    assert "subject.created" in [e["action"] for e in api.audit()]
    assert sum(e["action"] == "subject.created" for e in api.audit()) == 1  # no parent subject


@pytest.fixture
def age_api(database: str, clock: MovingClock) -> Iterator[ConsentApi]:
    with serve(kestrel_variant(), database, clock) as api:
        yield api


@ON_EACH_DATABASE
def test_a_stated_age_under_the_threshold_holds(age_api: ConsentApi) -> None:
    api = age_api
    young = with_fields(("user.name", CHILD_NAME), ("user.demographic.age_range", "10"))
    assert submit_child(api, **young)["status"] == "held_pending_parental_consent"
    grown = with_fields(
        ("user.demographic.age_range", "30-39"),
        identity={"kind": "external_id", "value": "kestrel-app-user-30"},
    )
    assert submit_child(api, **grown)["status"] == "stored"
    straddling = with_fields(
        ("user.demographic.age_range", "16-20"),
        identity={"kind": "external_id", "value": "kestrel-app-user-16"},
    )
    assert submit_child(api, **straddling)["status"] == "held_pending_parental_consent"
    bad = with_fields(("user.demographic.age_range", "about ten"))
    refused(api, bad, "fields[0].value")


def test_without_a_children_section_nothing_is_held(clock: MovingClock, database: str) -> None:
    with serve(kestrel_variant(remove=True), database, clock) as api:
        body = child_form()
        del body["parent_email"]
        response = api.post("/collect", "vault:write", body)
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "stored"


def test_ages_are_read_as_documented() -> None:
    from datetime import date

    day = date(2026, 11, 3)
    assert stated_age("user.demographic.date_of_birth", "2016-11-03", day) == 10
    assert stated_age("user.demographic.date_of_birth", "2016-11-04", day) == 9
    assert stated_age("user.demographic.date_of_birth.stated", " 2016-11-04 ", day) == 9
    assert stated_age("user.demographic.age_range", "8-12", day) == 8
    assert stated_age("user.demographic.age_range", " 17 ", day) == 17
    assert age_on(date(2012, 2, 29), date(2026, 2, 28)) == 13
    assert age_on(date(2012, 2, 29), date(2026, 3, 1)) == 14
    for category, value in (
        ("user.demographic.age_range", "12-8"),
        ("user.demographic.age_range", "200"),
        ("user.demographic.age_range", "-3"),
        ("user.demographic.date_of_birth", "2016-14"),
    ):
        with pytest.raises(UnreadableAge) as caught:
            stated_age(category, value, day)
        assert value not in str(caught.value)
