"""The consent ledger on SQLite and PostgreSQL: every field stored, nothing updated, all or
nothing, the cookie banner, linking a browser to a known subject, the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from consent_support import (
    NOW,
    STAFF,
    assert_audit_chain_clean,
    audit_events,
    counts,
    give,
    new_subject,
)
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker
from support import dump, kestrel_data, read

from troth.audit import Actor
from troth.consent import (
    ConsentEvent,
    ConsentInput,
    ConsentInputError,
    ConsentState,
    Method,
    SignalKind,
    history,
    link_identity,
    load_state,
    record_consents,
    record_cookie_choice,
    record_signal,
    withdraw,
)
from troth.consent.models import ConsentChange
from troth.declaration import Policy
from troth.store import make_sessionmaker
from troth.subjects import Keyring, new_browser_id
from troth.subjects.registry import UnknownSubject, find_subject

DAY = timedelta(days=1)
EMAIL = "meera.k@example.in"


@pytest.fixture
def sessions(ledger_engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(ledger_engine)


@pytest.fixture
def subject(sessions: sessionmaker[Session], keyring: Keyring) -> str:
    with sessions.begin() as session:
        return new_subject(session, keyring, EMAIL)


def events_of(sessions: sessionmaker[Session], subject_id: str) -> list[ConsentEvent]:
    with sessions() as session:
        return history(session, subject_id)


# Recording and reading ---------------------------------------------------------------------------


def test_record_withdraw_and_history(
    sessions: sessionmaker[Session], subject: str, kestrel_policy: Policy
) -> None:
    with sessions.begin() as session:
        give(session, kestrel_policy, subject, "newsletter")
        give(session, kestrel_policy, subject, "site_analytics", now=NOW + DAY)
        give(session, kestrel_policy, subject, "testimonials", "refused", now=NOW + DAY)
    with sessions.begin() as session:
        rows = withdraw(
            session,
            kestrel_policy,
            subject,
            ["newsletter"],
            method=Method.email_link,
            actor=Actor.subject(subject),
            now=NOW + 2 * DAY,
        )
    assert [(r["purpose"], r["state"], r["method"]) for r in rows] == [
        ("newsletter", "withdrawn", "email_link")
    ]
    with sessions.begin() as session:
        # No purposes named: every consent still given is withdrawn, nothing else.
        rows = withdraw(
            session,
            kestrel_policy,
            subject,
            [],
            method="web_form",
            actor=Actor.subject(subject),
            now=NOW + 3 * DAY,
        )
    assert [(r["purpose"], r["state"]) for r in rows] == [("site_analytics", "withdrawn")]

    assert [(e.purpose, e.state, e.occurred_at) for e in events_of(sessions, subject)] == [
        ("newsletter", "given", NOW),
        ("site_analytics", "given", NOW + DAY),
        ("testimonials", "refused", NOW + DAY),
        ("newsletter", "withdrawn", NOW + 2 * DAY),
        ("site_analytics", "withdrawn", NOW + 3 * DAY),
    ]
    with sessions() as session:
        state = load_state(session, subject, NOW + 3 * DAY)
        assert {p: c.state for p, c in state.consents.items()} == {
            "newsletter": ConsentState.withdrawn,
            "site_analytics": ConsentState.withdrawn,
            "testimonials": ConsentState.refused,
        }
        # The state as it was: the ledger keeps the past.
        earlier = load_state(session, subject, NOW + DAY)
        assert earlier.consents["newsletter"].active
    with sessions.begin() as session:
        assert (
            withdraw(
                session,
                kestrel_policy,
                subject,
                [],
                method="web_form",
                actor=STAFF,
                now=NOW + 4 * DAY,
            )
            == []
        )


def test_every_field_of_the_record_is_stored(
    sessions: sessionmaker[Session], subject: str, kestrel_policy: Policy
) -> None:
    with sessions.begin() as session:
        give(
            session,
            kestrel_policy,
            subject,
            "newsletter",
            method="web_form",
            acted_by="nominee",
            actor_ref="nominee-482",
            categories=["user.contact.email", "user.contact.email"],
            jurisdiction="eu-gdpr",
            language="hi-IN",
            collection_point="https://kestrel.example/newsletter#signup",
        )
        give(session, kestrel_policy, subject, "site_analytics", now=NOW + DAY)
        give(session, kestrel_policy, subject, "testimonials", "refused", now=NOW + DAY)
    newsletter, analytics, testimonials = events_of(sessions, subject)

    assert len(newsletter.record_id) == 36
    assert newsletter.subject_id == subject
    assert (newsletter.purpose, newsletter.state) == ("newsletter", "given")
    assert newsletter.occurred_at == NOW
    assert newsletter.occurred_at.utcoffset() is not None
    assert newsletter.policy_version == "3.0"
    assert newsletter.notice_hash == kestrel_policy.content_hash
    assert newsletter.categories == ["user.contact.email"]
    assert newsletter.jurisdiction == "eu-gdpr"
    assert newsletter.language == "hi-IN"
    assert newsletter.collection_point == "https://kestrel.example/newsletter#signup"
    assert (newsletter.method, newsletter.acted_by, newsletter.actor_ref) == (
        "web_form",
        "nominee",
        "nominee-482",
    )
    # The newsletter's consent lapses after two years, as the declaration says.
    assert newsletter.expires_at == NOW.replace(year=NOW.year + 2)

    # Defaults: the purpose's categories, the policy's language, the subject acting, by API.
    assert analytics.categories == list(kestrel_policy.purposes["site_analytics"].categories)
    assert analytics.language == "en"
    assert (analytics.method, analytics.acted_by, analytics.actor_ref) == ("api", "subject", None)
    assert analytics.jurisdiction is None and analytics.collection_point is None
    assert analytics.expires_at is None  # no expiry declared for the purpose itself
    assert testimonials.expires_at is None  # a refusal does not expire
    assert len({newsletter.record_id, analytics.record_id, testimonials.record_id}) == 3


def test_consent_from_the_cookie_banner_expires_when_the_banner_says(
    sessions: sessionmaker[Session], subject: str, kestrel_policy: Policy
) -> None:
    with sessions.begin() as session:
        analytics = give(session, kestrel_policy, subject, "site_analytics", method="cookie_banner")
        newsletter = give(session, kestrel_policy, subject, "newsletter", method="cookie_banner")
    six_months = NOW.replace(month=5, year=NOW.year + 1)
    assert analytics["expires_at"] == six_months
    # The shorter of the purpose's two years and the banner's six months.
    assert newsletter["expires_at"] == six_months
    with sessions() as session:
        assert load_state(session, subject, six_months - DAY).consents["site_analytics"].active
        lapsed = load_state(session, subject, six_months).consents["site_analytics"]
        assert lapsed.state is ConsentState.expired


# Refused input -----------------------------------------------------------------------------------

BAD_ITEMS = [
    ("unknown purpose", ConsentInput("telemarketing", "given"), "purpose"),
    ("unknown state", ConsentInput("newsletter", "maybe"), "state"),
    ("expired is not recordable", ConsentInput("newsletter", "expired"), "state"),
    ("unknown method", ConsentInput("newsletter", "given", method="fax"), "method"),
    ("unknown actor", ConsentInput("newsletter", "given", acted_by="guardian"), "acted_by"),
    (
        "category of another purpose",
        ConsentInput("newsletter", "given", categories=["user.financial"]),
        "categories[0]",
    ),
    (
        "second category unknown",
        ConsentInput("newsletter", "given", categories=["user.name", "user.workplace"]),
        "categories[1]",
    ),
    (
        "jurisdiction not the organization's",
        ConsentInput("newsletter", "given", jurisdiction="br-lgpd"),
        "jurisdiction",
    ),
    ("bad language", ConsentInput("newsletter", "given", language="english!"), "language"),
    ("one-letter language", ConsentInput("newsletter", "given", language="e"), "language"),
    (
        "language longer than stored",
        ConsentInput("newsletter", "given", language="en-abcdefgh-abcdefgh"),
        "language",
    ),
    (
        "long collection point",
        ConsentInput("newsletter", "given", collection_point="x" * 501),
        "collection_point",
    ),
    (
        "long actor reference",
        ConsentInput("newsletter", "given", acted_by="nominee", actor_ref="n" * 201),
        "actor_ref",
    ),
]


@pytest.mark.parametrize(
    ("bad", "field"), [(b, f) for _, b, f in BAD_ITEMS], ids=[name for name, _, _ in BAD_ITEMS]
)
def test_bad_input_names_the_field_and_item_and_writes_nothing(
    ledger_engine: Engine,
    sessions: sessionmaker[Session],
    subject: str,
    kestrel_policy: Policy,
    bad: ConsentInput,
    field: str,
) -> None:
    before = counts(ledger_engine)
    good = ConsentInput("site_analytics", "given")
    with sessions() as session:
        with pytest.raises(ConsentInputError) as caught:
            record_consents(
                session,
                kestrel_policy,
                [(subject, good), (subject, good), (subject, bad)],
                actor=STAFF,
                now=NOW,
            )
        # Committing whatever the session holds afterwards still writes nothing.
        session.commit()
    assert (caught.value.field, caught.value.index) == (field, 2)
    assert str(caught.value).startswith(f"{field}: ")
    assert counts(ledger_engine) == before


def test_an_unknown_subject_is_refused_and_nothing_written(
    ledger_engine: Engine, sessions: sessionmaker[Session], subject: str, kestrel_policy: Policy
) -> None:
    before = counts(ledger_engine)
    items = [
        (subject, ConsentInput("newsletter", "given")),
        ("7d3c61a2-0000-4000-8000-00000000beef", ConsentInput("newsletter", "given")),
    ]
    with sessions() as session:
        with pytest.raises(UnknownSubject):
            record_consents(session, kestrel_policy, items, actor=STAFF, now=NOW)
        session.commit()
    assert counts(ledger_engine) == before


def test_an_event_and_its_audit_event_share_one_transaction(
    ledger_engine: Engine, sessions: sessionmaker[Session], subject: str, kestrel_policy: Policy
) -> None:
    before = counts(ledger_engine)
    with sessions() as session:
        give(session, kestrel_policy, subject, "newsletter")
        session.rollback()
    assert counts(ledger_engine) == before
    with sessions.begin() as session:
        row = give(session, kestrel_policy, subject, "newsletter")
    after = counts(ledger_engine)
    assert after == {
        "events": before["events"] + 1,
        "changes": before["changes"] + 1,
        "audit": before["audit"] + 1,
    }
    with sessions() as session:
        (event,) = audit_events(session, "consent.recorded")
    assert event.subject_id == subject
    assert event.policy_version == "3.0"
    assert event.details == {
        "events": 1,
        "states": {"given": 1},
        "purposes": ["newsletter"],
        "subjects": [subject],
        "record_ids": [row["record_id"]],
    }


def test_rows_are_never_updated(
    ledger_engine: Engine,
    sessions: sessionmaker[Session],
    subject: str,
    keyring: Keyring,
    kestrel_policy: Policy,
) -> None:
    def snapshot() -> dict[str, list[tuple[Any, ...]]]:
        with ledger_engine.connect() as connection:
            return {
                table: [
                    tuple(row)
                    for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY 1"))
                ]
                for table in ("consent_events", "subject_signals", "consent_changes")
            }

    with sessions.begin() as session:
        give(session, kestrel_policy, subject, "newsletter")
        give(session, kestrel_policy, subject, "site_analytics", "refused")
        record_signal(
            session, kestrel_policy, subject, "objection", purpose="research", actor=STAFF, now=NOW
        )
    earlier = snapshot()
    browser = new_browser_id()
    with sessions.begin() as session:
        withdraw(session, kestrel_policy, subject, [], method="api", actor=STAFF, now=NOW + DAY)
        give(session, kestrel_policy, subject, "site_analytics", now=NOW + DAY)
        record_signal(
            session,
            kestrel_policy,
            subject,
            "objection",
            purpose="research",
            active=False,
            actor=STAFF,
            now=NOW + DAY,
        )
        record_cookie_choice(
            session,
            policy=kestrel_policy,
            keyring=keyring,
            browser_id=browser,
            accepted=["marketing"],
            gpc=False,
            revision=0,
            now=NOW + DAY,
        )
        link_identity(
            session,
            keyring,
            kestrel_policy,
            subject,
            "browser_id",
            browser,
            actor=STAFF,
            now=NOW + DAY,
        )
    later = snapshot()
    for table, rows in earlier.items():
        assert later[table][: len(rows)] == rows, table
        assert len(later[table]) > len(rows), table


# Signals -----------------------------------------------------------------------------------------


def test_signals_are_recorded_audited_and_folded(
    sessions: sessionmaker[Session], subject: str, kestrel_policy: Policy
) -> None:
    with sessions.begin() as session:
        record_signal(
            session, kestrel_policy, subject, SignalKind.restriction, actor=STAFF, now=NOW
        )
        record_signal(
            session, kestrel_policy, subject, "objection", purpose="research", actor=STAFF, now=NOW
        )
        record_signal(session, kestrel_policy, subject, "child", actor=STAFF, now=NOW)
    with sessions.begin() as session:
        record_signal(
            session,
            kestrel_policy,
            subject,
            "restriction",
            active=False,
            actor=STAFF,
            now=NOW + DAY,
        )
    with sessions() as session:
        state = load_state(session, subject, NOW + DAY)
        assert (state.restricted, state.child) == (False, True)
        assert state.objections == frozenset({"research"})
        assert load_state(session, subject, NOW).restricted
        assert [(e.action, e.details) for e in audit_events(session) if e.subject_id == subject][
            1:
        ] == [
            ("subject.restriction_raised", {"purpose": None, "method": "api"}),
            ("subject.objection_raised", {"purpose": "research", "method": "api"}),
            ("subject.child_raised", {"purpose": None, "method": "api"}),
            ("subject.restriction_lifted", {"purpose": None, "method": "api"}),
        ]


@pytest.mark.parametrize(
    ("kind", "purpose", "field"),
    [
        ("suspicion", None, "kind"),
        ("objection", "telemarketing", "purpose"),
        ("restriction", "newsletter", "purpose"),
    ],
)
def test_bad_signals_are_refused(
    ledger_engine: Engine,
    sessions: sessionmaker[Session],
    subject: str,
    kestrel_policy: Policy,
    kind: str,
    purpose: str | None,
    field: str,
) -> None:
    before = counts(ledger_engine)
    with sessions() as session, pytest.raises(ConsentInputError) as caught:
        record_signal(session, kestrel_policy, subject, kind, purpose=purpose, actor=STAFF, now=NOW)
    assert caught.value.field == field
    assert counts(ledger_engine) == before


# The cookie banner -------------------------------------------------------------------------------


def choose(
    sessions: sessionmaker[Session],
    policy: Policy,
    keyring: Keyring,
    browser: str,
    accepted: list[str],
    *,
    gpc: bool = False,
    now: datetime = NOW,
) -> Any:
    with sessions.begin() as session:
        return record_cookie_choice(
            session,
            policy=policy,
            keyring=keyring,
            browser_id=browser,
            accepted=accepted,
            gpc=gpc,
            revision=0,
            language="fr",
            collection_point="cookie-banner/home",
            now=now,
        )


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


# Linking a browser to a known subject -------------------------------------------------------------


def test_linking_a_browser_merges_its_consent_into_the_known_subject(
    sessions: sessionmaker[Session], subject: str, keyring: Keyring, kestrel_policy: Policy
) -> None:
    browser = new_browser_id()
    with sessions.begin() as session:
        give(session, kestrel_policy, subject, "newsletter")
    anonymous = choose(sessions, kestrel_policy, keyring, browser, ["analytics"], now=NOW + DAY)
    with sessions.begin() as session:
        kept, merged = link_identity(
            session,
            keyring,
            kestrel_policy,
            subject,
            "browser_id",
            browser,
            actor=Actor.subject(subject),
            now=NOW + 2 * DAY,
        )
        changes = session.scalars(
            select(ConsentChange.subject_id).order_by(ConsentChange.seq.desc()).limit(2)
        ).all()
    assert (kept, merged) == (subject, [anonymous.subject_id])
    assert sorted(changes) == sorted([subject, anonymous.subject_id])  # both caches told

    with sessions() as session:
        state = load_state(session, subject, NOW + 2 * DAY)
        assert state.consents["newsletter"].active
        assert state.consents["site_analytics"].active
        assert state.consents["email_engagement"].state is ConsentState.refused
        assert load_state(session, anonymous.subject_id, NOW + 2 * DAY) == state
        assert [(e.purpose, e.subject_id) for e in history(session, subject)] == [
            ("newsletter", subject),
            ("site_analytics", anonymous.subject_id),
            ("email_engagement", anonymous.subject_id),
        ]
    # Consent recorded for the merged browser from now on is the known subject's.
    with sessions.begin() as session:
        row = give(
            session, kestrel_policy, anonymous.subject_id, "email_engagement", now=NOW + 3 * DAY
        )
    assert row["subject_id"] == subject
    # The banner posting again for that browser finds the known subject.
    again = choose(
        sessions, kestrel_policy, keyring, browser, ["analytics", "marketing"], now=NOW + 3 * DAY
    )
    assert (again.subject_id, again.created, again.recorded) == (subject, False, [])


def test_linking_a_malformed_identity_names_the_identity_field(
    sessions: sessionmaker[Session], subject: str, keyring: Keyring, kestrel_policy: Policy
) -> None:
    with sessions() as session, pytest.raises(ConsentInputError) as caught:
        link_identity(
            session, keyring, kestrel_policy, subject, "email", "not-an-email", actor=STAFF, now=NOW
        )
    assert caught.value.field == "identity"
    assert "not-an-email" not in str(caught.value)


def test_the_audit_chain_verifies_and_holds_no_identity(
    sessions: sessionmaker[Session], subject: str, keyring: Keyring, kestrel_policy: Policy
) -> None:
    browser = new_browser_id()
    choose(sessions, kestrel_policy, keyring, browser, ["analytics", "marketing"], gpc=True)
    with sessions.begin() as session:
        give(
            session,
            kestrel_policy,
            subject,
            "newsletter",
            actor_ref="parent-ref-1",
            acted_by="parent",
        )
        record_signal(session, kestrel_policy, subject, "child", actor=STAFF, now=NOW)
        link_identity(
            session, keyring, kestrel_policy, subject, "browser_id", browser, actor=STAFF, now=NOW
        )
        withdraw(session, kestrel_policy, subject, [], method="api", actor=STAFF, now=NOW + DAY)
    with sessions() as session:
        events = assert_audit_chain_clean(session, [EMAIL, "meera.k", browser])
    assert [e.action for e in events] == [
        "subject.created",
        "subject.created",
        "consent.recorded",
        "subject.gpc_opt_out_raised",
        "consent.recorded",
        "subject.child_raised",
        "subject.merged",
        "consent.recorded",
    ]


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
