"""P29: a child's data is held at collection until a parent consents by the emailed link; a
refusal deletes it, and so does silence past the consent window."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from apikey_support import MovingClock
from children_support import (
    BORN,
    CHILD_NAME,
    PARENT,
    answer,
    assert_no_secret,
    link_in,
    submit_child,
    usable_items,
)
from consent_api_support import ON_EACH_DATABASE, ConsentApi, audit_actions, serve
from notify_support import database_bytes
from publication_support import Mail, mail_server

from troth.audit import Actor
from troth.children import expire_held_children
from troth.consent import history
from troth.declaration import Policy
from troth.subjects.registry import find_subject
from troth.vault import read_for_staff
from troth.vault.models import ChildHold

pytestmark = pytest.mark.usefixtures("no_personal_data_in_logs")
WINDOW = timedelta(days=7)  # Kestrel's children.consent_window


@pytest.fixture
def api(kestrel_policy: Policy, database: str, clock: MovingClock) -> Iterator[ConsentApi]:
    """The app, whose own sweep runs at start and then not for an hour: these tests move the
    clock past the window and sweep themselves."""
    with serve(kestrel_policy, database, clock, children_sweep_interval=3600) as api:
        yield api


@pytest.fixture
def mail() -> Iterator[Mail]:
    with mail_server() as server:
        yield server


def parent_subject_id(api: ConsentApi) -> str:
    with api.app.state.site.sessions() as session:
        found = find_subject(session, api.app.state.site.keyring, "email", PARENT)
        assert found is not None
        return found.id


def staff_read(api: ConsentApi, subject_id: str) -> int:
    site = api.app.state.site
    with site.sessions() as session, session.begin():
        read = read_for_staff(
            session,
            site.policy,
            site.keyring,
            subject_id=subject_id,
            role="delivery",
            purpose="operate_client_apps",
            actor=Actor.staff("emp-7"),
            now=api.clock(),
        )
    assert read.allowed
    return len(read.items)


@ON_EACH_DATABASE
def test_a_parent_consents_by_the_link_and_the_data_becomes_usable(
    api: ConsentApi, mail: Mail, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="troth")
    answered = submit_child(api)
    assert answered["status"] == "held_pending_parental_consent"
    assert answered["held"]["until"] == (api.clock() + WINDOW).isoformat()
    assert "parent consents" in answered["held"]["message"]
    child = answered["subject_id"]

    # Held: stored, but no read returns it, staff included, and no decision allows its use.
    assert usable_items(api, child) == []
    assert len(usable_items(api, child, include_held=True)) == 2
    assert staff_read(api, child) == 0
    assert api.reason(child, "operate_client_apps") == "child_without_parental_consent"

    [request] = mail.deliver(api)
    assert request.recipients == [PARENT]
    assert "needs your consent" in request.message["Subject"]
    assert "Name, Date of birth (to check age)" in request.text
    assert CHILD_NAME not in request.text and BORN not in request.text
    path = link_in(request)

    page = api.client.get(path)
    assert page.status_code == 200
    assert "Date of birth (to check age)" in page.text and "Give consent" in page.text
    assert "/privacy" in page.text
    assert CHILD_NAME not in page.text and BORN not in page.text

    given = answer(api, path, "give")
    assert given.status_code == 200 and "consent given" in given.text

    assert {item.value for item in usable_items(api, child)} == {CHILD_NAME, BORN}
    assert staff_read(api, child) == 2
    assert api.decide(child, "operate_client_apps")["allowed"] is True
    # Only the purpose the parent consented to: others stay closed to the child's data.
    assert api.reason(child, "child_accounts") == "child_without_parental_consent"

    parent = parent_subject_id(api)
    with api.app.state.site.sessions() as session:
        [event] = history(session, child)
    assert (event.purpose, event.state, event.acted_by, event.method) == (
        "operate_client_apps",
        "given",
        "parent",
        "email_link",
    )
    assert event.actor_ref == parent and event.actor_ref != child

    # The link is answered once: following it again shows that, the data stays as it is.
    again = answer(api, path, "refuse")
    assert again.status_code == 409 and "already gave" in again.text
    assert api.client.get(path).status_code == 409
    assert len(usable_items(api, child)) == 2

    actions = audit_actions(api)
    for action in ("child.held", "subject.child_raised", "child.parental_consent_given"):
        assert action in actions
    given_event = next(e for e in api.audit() if e["action"] == "child.parental_consent_given")
    assert given_event["details"]["items_released"] == 2

    # The parent's address is nowhere in plain text: not the database, the audit, the logs.
    assert_no_secret(api.audit_export())
    assert_no_secret(api.snapshot())
    if api.engine.dialect.name == "sqlite":
        raw = database_bytes(api.engine)
        assert PARENT.encode() not in raw and CHILD_NAME.encode() not in raw
    troth_records = [r for r in caplog.records if r.name.startswith("troth")]
    assert any(r.name == "troth.web.access" for r in troth_records)
    for record in troth_records:
        assert_no_secret(record.getMessage())


@ON_EACH_DATABASE
def test_a_parent_refuses_and_the_data_is_deleted(api: ConsentApi, mail: Mail) -> None:
    child = submit_child(api)["subject_id"]
    path = link_in(mail.deliver(api)[0])
    refused = answer(api, path, "refuse")
    assert refused.status_code == 200 and "deleted" in refused.text
    assert usable_items(api, child, include_held=True) == []
    assert api.reason(child, "operate_client_apps") == "child_without_parental_consent"
    with api.app.state.site.sessions() as session:
        [event] = history(session, child)
        [hold] = session.query(ChildHold).all()
    assert (event.state, event.acted_by, event.method) == ("refused", "parent", "email_link")
    assert hold.status == "refused"
    [refusal] = [e for e in api.audit() if e["action"] == "child.parental_consent_refused"]
    assert refusal["details"]["items_deleted"] == 2
    assert answer(api, path, "give").status_code == 409


@ON_EACH_DATABASE
def test_no_answer_within_the_window_deletes_the_data(api: ConsentApi, mail: Mail) -> None:
    child = submit_child(api)["subject_id"]
    path = link_in(mail.deliver(api)[0])
    sessions = api.app.state.site.sessions

    api.clock.advance((WINDOW - timedelta(seconds=1)).total_seconds())
    assert expire_held_children(sessions, api.clock()).holds_expired == 0
    assert len(usable_items(api, child, include_held=True)) == 2

    api.clock.advance(1)
    report = expire_held_children(sessions, api.clock())
    assert (report.holds_expired, report.items_deleted) == (1, 2)
    assert usable_items(api, child, include_held=True) == []
    # Idempotent: a second sweep finds nothing more.
    assert expire_held_children(sessions, api.clock()).holds_expired == 0

    [expired] = [e for e in api.audit() if e["action"] == "child.hold_expired"]
    assert expired["subject_id"] == child
    assert expired["details"]["items_deleted"] == 2
    assert expired["details"]["categories"] == ["user.name", "user.demographic.date_of_birth"]
    assert_no_secret(api.audit_export())

    late = api.client.get(path)
    assert late.status_code == 410 and "expired" in late.text
    assert answer(api, path, "give").status_code == 410


def test_links_that_do_not_work_get_clear_pages(api: ConsentApi, mail: Mail) -> None:
    submit_child(api)
    path = link_in(mail.deliver(api)[0])
    body, _, signature = path.rpartition(".")
    tampered = f"{body}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    for broken in (tampered, "/children/consent/not-a-token", path[:-5]):
        page = api.client.get(broken)
        assert page.status_code == 400 and "does not work" in page.text
        assert answer(api, broken, "give").status_code == 400
    choice = answer(api, path, "maybe")
    assert choice.status_code == 400
    assert usable_items(api, held_subject(api), include_held=True) != []


def held_subject(api: ConsentApi) -> str:
    with api.app.state.site.sessions() as session:
        [hold] = session.query(ChildHold).all()
        return hold.subject_id


@pytest.mark.postgres
def test_two_sweeps_at_once_expire_each_hold_once(
    kestrel_policy: object, tmp_path: object, postgres_url: str
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from apikey_support import MovingClock
    from consent_api_support import serve
    from pg_support import postgres_schema

    clock = MovingClock()
    with (
        postgres_schema(postgres_url, "troth_children") as url,
        serve(
            kestrel_policy,  # type: ignore[arg-type]
            url,
            clock,
        ) as api,
    ):
        for number in range(6):
            submit_child(api, identity={"kind": "external_id", "value": f"kid-{number}"})
        clock.advance(WINDOW.total_seconds())
        sessions = api.app.state.site.sessions
        with ThreadPoolExecutor(2) as pool:
            reports = list(
                pool.map(lambda _: expire_held_children(sessions, clock(), batch=2), range(2))
            )
        assert sum(r.holds_expired for r in reports) == 6
        assert sum(r.items_deleted for r in reports) == 12
        expired = [e for e in api.audit() if e["action"] == "child.hold_expired"]
        assert len(expired) == 6


def test_the_server_sweeps_by_itself(kestrel_policy: Policy, database: str) -> None:
    clock = MovingClock()
    with serve(kestrel_policy, database, clock, children_sweep_interval=0.05) as api:
        child = submit_child(api)["subject_id"]
        clock.advance(WINDOW.total_seconds())
        # Waiting for another thread is unavoidable here; the test asserts no duration.
        for _ in range(400):
            if not usable_items(api, child, include_held=True):
                break
            time.sleep(0.05)
        assert usable_items(api, child, include_held=True) == []
        assert "child.hold_expired" in audit_actions(api)
