"""Cookie-banner choices in the consent ledger on SQLite and PostgreSQL: one event per purpose,
only when the choice changes, Global Privacy Control, and bad choices refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from consent_support import DAY, NOW, audit_events, choose, counts, events_of
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from support import dump, kestrel_data, read

from troth.consent import ConsentInputError, load_state, record_cookie_choice
from troth.declaration import Policy
from troth.subjects import Keyring, new_browser_id
from troth.subjects.registry import find_subject

# The cookie banner -------------------------------------------------------------------------------


def test_a_cookie_choice_is_recorded_per_purpose_and_only_when_it_changes(
    ledger_engine: Engine,
    sessions: sessionmaker[Session],
    keyring: Keyring,
    kestrel_policy: Policy,
) -> None:
    browser = new_browser_id()
    first = choose(sessions, kestrel_policy, keyring, browser, ["essential", "analytics"])
    assert first.created
    assert sorted(first.recorded) == [("email_engagement", "refused"), ("site_analytics", "given")]
    events = events_of(sessions, first.subject_id)
    assert {(e.purpose, e.method, e.language, e.collection_point) for e in events} == {
        ("site_analytics", "cookie_banner", "fr", "cookie-banner/home"),
        ("email_engagement", "cookie_banner", "fr", "cookie-banner/home"),
    }
    given = next(e for e in events if e.state == "given")
    assert given.expires_at == NOW.replace(month=5, year=NOW.year + 1)

    before = counts(ledger_engine)
    again = choose(sessions, kestrel_policy, keyring, browser, ["analytics"], now=NOW + DAY)
    assert (again.subject_id, again.created, again.recorded) == (first.subject_id, False, [])
    assert counts(ledger_engine) == before

    changed = choose(sessions, kestrel_policy, keyring, browser, ["marketing"], now=NOW + 2 * DAY)
    assert sorted(changed.recorded) == [
        ("email_engagement", "given"),
        ("site_analytics", "refused"),
    ]
    with sessions() as session:
        found = find_subject(session, keyring, "browser_id", browser)
        assert found is not None and found.id == first.subject_id


def test_global_privacy_control_refuses_the_purposes_it_covers(
    sessions: sessionmaker[Session], keyring: Keyring, kestrel_policy: Policy
) -> None:
    browser = new_browser_id()
    choice = choose(
        sessions, kestrel_policy, keyring, browser, ["analytics", "marketing"], gpc=True
    )
    assert sorted(choice.recorded) == [("email_engagement", "refused"), ("site_analytics", "given")]
    events = {e.purpose: e for e in events_of(sessions, choice.subject_id)}
    assert events["email_engagement"].method == "global_privacy_control"
    assert events["site_analytics"].method == "cookie_banner"
    with sessions() as session:
        assert load_state(session, choice.subject_id, NOW).gpc_opt_out
        raised = audit_events(session, "subject.gpc_opt_out_raised")
        assert [e.subject_id for e in raised] == [choice.subject_id]
    # The same choice with the same signal writes nothing more, not even a second signal.
    again = choose(sessions, kestrel_policy, keyring, browser, ["analytics", "marketing"], gpc=True)
    assert again.recorded == []
    with sessions() as session:
        assert len(audit_events(session, "subject.gpc_opt_out_raised")) == 1


def test_gpc_is_ignored_where_the_declaration_does_not_honour_it(
    sessions: sessionmaker[Session], keyring: Keyring
) -> None:
    data = kestrel_data()
    data["cookies"]["honour_global_privacy_control"] = False
    policy, problems = read(dump(data))
    assert policy is not None, problems
    choice = choose(sessions, policy, keyring, new_browser_id(), ["marketing"], gpc=True)
    assert sorted(choice.recorded) == [("email_engagement", "given"), ("site_analytics", "refused")]
    with sessions() as session:
        assert not load_state(session, choice.subject_id, NOW).gpc_opt_out


VALID_BROWSER = "b7Qd2kP9xW4mZ1vN8rT5yH3j"


@pytest.mark.parametrize(
    ("browser", "accepted", "extra", "field"),
    [
        (VALID_BROWSER, ["analytics", "advertising"], {}, "accepted[1]"),
        ("short", ["analytics"], {}, "browser_id"),
        ("has spaces in it, not a token", ["analytics"], {}, "browser_id"),
        (VALID_BROWSER, ["analytics"], {"language": "english!"}, "language"),
        (VALID_BROWSER, ["analytics"], {"collection_point": "x" * 501}, "collection_point"),
        (VALID_BROWSER, ["analytics"], {"revision": -1}, "revision"),
    ],
)
def test_bad_cookie_choices_name_the_field_and_write_nothing(
    ledger_engine: Engine,
    sessions: sessionmaker[Session],
    keyring: Keyring,
    kestrel_policy: Policy,
    browser: str,
    accepted: list[str],
    extra: dict[str, Any],
    field: str,
) -> None:
    with sessions() as session:
        with pytest.raises(ConsentInputError) as caught:
            record_cookie_choice(
                session,
                policy=kestrel_policy,
                keyring=keyring,
                browser_id=browser,
                accepted=accepted,
                gpc=False,
                now=NOW,
                **{"revision": 0, **extra},
            )
        # Nothing half-written is left in the session for a caller that commits anyway.
        session.commit()
    assert caught.value.field == field
    assert browser not in str(caught.value)
    assert counts(ledger_engine) == {"events": 0, "changes": 0, "audit": 0}


def test_the_gpc_opt_out_is_lifted_when_the_browser_stops_sending_it(
    sqlite_url: str, kestrel_policy: Policy
) -> None:
    from troth.consent import load_state, record_cookie_choice
    from troth.store import make_engine, make_sessionmaker, upgrade
    from troth.subjects import Keyring, MasterKey

    engine = make_engine(sqlite_url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    keyring = Keyring(MasterKey.generate())
    now = datetime(2026, 11, 22, tzinfo=UTC)

    def choose(gpc: bool, at: datetime) -> str:
        with sessions.begin() as session:
            return record_cookie_choice(
                session,
                policy=kestrel_policy,
                keyring=keyring,
                browser_id="gpc-browser-0123456789",
                accepted=["analytics", "marketing"],
                gpc=gpc,
                revision=0,
                now=at,
            ).subject_id

    subject_id = choose(True, now)
    with sessions() as session:
        state = load_state(session, subject_id, now)
        assert state.gpc_opt_out
        assert state.consents["email_engagement"].state.value == "refused"
    later = now + timedelta(minutes=5)
    choose(False, later)
    with sessions() as session:
        state = load_state(session, subject_id, later)
        assert not state.gpc_opt_out
        assert state.consents["email_engagement"].state.value == "given"
    engine.dispose()
