"""P29 after collection: a subject found to be a child without a parent's consent has their data
deleted (or isolated) and the parent told; `troth children sweep` runs the window's sweep."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apikey_support import MovingClock
from children_support import (
    CHILD_NAME,
    PARENT,
    answer,
    assert_no_secret,
    child_form,
    kestrel_variant,
    link_in,
    submit_child,
    usable_items,
)
from consent_api_support import (
    ON_EACH_DATABASE,
    UNKNOWN_ID,
    ConsentApi,
    assert_error,
    assert_invalid,
    serve,
)
from notify_support import database_bytes
from publication_support import Mail, mail_server
from typer.testing import CliRunner

from troth.children import expire_held_children
from troth.cli import app
from troth.vault.models import ChildHold

pytestmark = pytest.mark.usefixtures("no_personal_data_in_logs")


@pytest.fixture
def mail() -> Iterator[Mail]:
    with mail_server() as server:
        yield server


def collected_without_age(api: ConsentApi) -> str:
    """A sign-up that gave no age: stored and usable, as an adult's would be."""
    body = child_form(fields=[{"category": "user.name", "value": CHILD_NAME}])
    del body["parent_email"]
    answered = submit_child(api, **body)
    assert answered["status"] == "stored"
    subject_id: str = answered["subject_id"]
    return subject_id


def found(api: ConsentApi, subject_id: str, **body: str) -> dict[str, object]:
    response = api.post(f"/subjects/{subject_id}/child", "vault:write", body or None)
    assert response.status_code == 200, response.text
    answered: dict[str, object] = response.json()
    return answered


@ON_EACH_DATABASE
def test_a_child_found_later_is_deleted_and_the_parent_told(api: ConsentApi, mail: Mail) -> None:
    child = collected_without_age(api)
    assert len(usable_items(api, child)) == 1
    answered = found(api, child, parent_email=PARENT)
    assert answered == {
        "subject_id": child,
        "action": "delete",
        "items": 1,
        "categories": ["user.name"],
        "parent_notified": True,
    }
    assert usable_items(api, child, include_held=True) == []
    assert api.reason(child, "operate_client_apps") == "child_without_parental_consent"

    [notice] = mail.deliver(api)
    assert notice.recipients == [PARENT]
    assert "deleted" in notice.message["Subject"] and "Name" in notice.text
    assert CHILD_NAME not in notice.text

    [event] = [e for e in api.audit() if e["action"] == "child.found_without_consent"]
    assert event["subject_id"] == child
    assert (event["details"]["action"], event["details"]["items"]) == ("delete", 1)
    assert event["details"]["parent_notified"] is True
    assert "subject.child_raised" in [e["action"] for e in api.audit()]
    assert_no_secret(api.audit_export())
    assert_no_secret(api.snapshot())
    if api.engine.dialect.name == "sqlite":
        assert PARENT.encode() not in database_bytes(api.engine)


def test_without_an_address_nobody_is_told(api: ConsentApi, mail: Mail) -> None:
    child = collected_without_age(api)
    assert found(api, child)["parent_notified"] is False
    assert usable_items(api, child) == []
    assert mail.deliver(api) == []


def test_what_a_parent_consented_to_stays_and_the_parent_of_the_hold_is_told(
    api: ConsentApi, mail: Mail
) -> None:
    child = submit_child(api)["subject_id"]
    assert answer(api, link_in(mail.deliver(api)[0]), "give").status_code == 200
    answered = found(api, child)
    assert (answered["items"], answered["parent_notified"]) == (0, True)
    assert len(usable_items(api, child)) == 2
    [notice] = mail.deliver(api)
    assert notice.recipients == [PARENT]


def test_the_parent_is_not_told_when_the_declaration_says_not_to(
    clock: MovingClock, database: str, mail: Mail
) -> None:
    with serve(kestrel_variant(notify_parent=False), database, clock) as api:
        child = collected_without_age(api)
        assert found(api, child, parent_email=PARENT)["parent_notified"] is False
        assert mail.deliver(api) == []


@ON_EACH_DATABASE
def test_isolated_data_is_kept_but_never_read(clock: MovingClock, database: str) -> None:
    with serve(kestrel_variant(on_found_without_consent="isolate"), database, clock) as api:
        child = collected_without_age(api)
        answered = found(api, child)
        assert (answered["action"], answered["items"]) == ("isolate", 1)
        assert usable_items(api, child) == []
        [kept] = usable_items(api, child, include_held=True)
        assert kept.value == CHILD_NAME
        sessions = api.app.state.site.sessions
        clock.advance(365 * 86400)
        assert expire_held_children(sessions, clock()).holds_expired == 0
        assert len(usable_items(api, child, include_held=True)) == 1
        with sessions() as session:
            [hold] = session.query(ChildHold).all()
        assert (hold.status, hold.window_ends) == ("isolated", None)


def test_refusals(api: ConsentApi, clock: MovingClock, database: str) -> None:
    child = collected_without_age(api)
    api.key("consent:write")  # made before, so that its audit event is not counted
    with api.nothing_written():
        bad = api.post(f"/subjects/{child}/child", "vault:write", {"parent_email": "nope"})
        assert_invalid(bad, "parent_email")
        extra = api.post(f"/subjects/{child}/child", "vault:write", {"parent": PARENT})
        assert_invalid(extra, "parent")
        assert_error(api.post(f"/subjects/{UNKNOWN_ID}/child", "vault:write", None), 404)
        assert_error(api.post(f"/subjects/{child}/child", "consent:write", None), 403)
    assert len(usable_items(api, child)) == 1


def test_a_declaration_without_children_rules_answers_409(
    tmp_path: Path, clock: MovingClock
) -> None:
    with serve(kestrel_variant(remove=True), f"sqlite:///{tmp_path / 'x.db'}", clock) as api:
        child = collected_without_age(api)
        with api.nothing_written():
            response = api.post(f"/subjects/{child}/child", "vault:write", None)
        assert_error(response, 409, "children")


def test_the_sweep_command_deletes_what_the_window_let_lapse(
    kestrel_policy: object, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'troth.db'}"
    # Held on the test clock's day (3 November 2026); the window ended a week later, before
    # the command runs on the real clock.
    with serve(kestrel_policy, url, MovingClock()) as api:  # type: ignore[arg-type]
        child = submit_child(api)["subject_id"]
        runner = CliRunner()
        first = runner.invoke(app, ["children", "sweep", "--db", url])
        assert first.exit_code == 0, first.output
        assert "expired 1 held submissions" in first.output and "deleted 2 items" in first.output
        assert usable_items(api, child, include_held=True) == []
        again = runner.invoke(app, ["children", "sweep", "--db", url])
        assert "expired 0 held submissions" in again.output
    broken = CliRunner().invoke(app, ["children", "sweep", "--db", "mysql://x"])
    assert broken.exit_code == 1
