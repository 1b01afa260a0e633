"""Recording consent in the ledger on SQLite and PostgreSQL: giving, refusing and withdrawing,
every field stored, expiry, and input refused with its field named and nothing written."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from consent_support import DAY, NOW, STAFF, counts, events_of, give, new_subject
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from troth.audit import Actor
from troth.consent import (
    ConsentInput,
    ConsentInputError,
    ConsentState,
    Method,
    load_state,
    record_consents,
    withdraw,
)
from troth.declaration import Policy
from troth.store import make_engine, make_sessionmaker, upgrade
from troth.subjects import Keyring
from troth.subjects.registry import UnknownSubject

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


def test_a_batch_of_mixed_shapes_stores_each_event_as_given(
    sessions: sessionmaker[Session], subject: str, keyring: Keyring, kestrel_policy: Policy
) -> None:
    # Events of one shape share their checked values; each must still get its own id, subject
    # and actor reference, and the values of its own shape.
    with sessions.begin() as session:
        other = new_subject(session, keyring)
    items = [
        (subject, ConsentInput("newsletter", "given", actor_ref="ref-0")),
        (other, ConsentInput("site_analytics", "refused", method="cookie_banner")),
        (other, ConsentInput("newsletter", "given", actor_ref="ref-2")),
        (subject, ConsentInput("testimonials", "given", language="hi-IN")),
        (subject, ConsentInput("newsletter", "given")),
    ]
    with sessions.begin() as session:
        rows = record_consents(session, kestrel_policy, items, actor=STAFF, now=NOW)
    stored = {e.record_id: e for sid in (subject, other) for e in events_of(sessions, sid)}
    assert [r["record_id"] for r in rows] == list(dict.fromkeys(r["record_id"] for r in rows))
    assert set(stored) == {r["record_id"] for r in rows}
    for (subject_id, item), row in zip(items, rows, strict=True):
        event = stored[row["record_id"]]
        parsed = uuid.UUID(event.record_id)
        assert (str(parsed), parsed.version, parsed.variant) == (
            event.record_id,
            4,
            uuid.RFC_4122,
        )
        assert (event.subject_id, event.purpose, event.state) == (
            subject_id,
            item.purpose,
            item.state,
        )
        assert event.method == item.method and event.actor_ref == item.actor_ref
        assert event.language == (item.language or "en")
        assert event.occurred_at == NOW
        assert event.categories == list(kestrel_policy.purposes[item.purpose].categories)
        declared = kestrel_policy.purposes[item.purpose].consent_expires_after
        given = item.state == "given" and declared is not None
        assert event.expires_at == (declared.add_to(NOW) if given and declared else None)


def test_a_driver_with_named_parameters_takes_the_core_insert(
    tmp_path: Path, keyring: Keyring, kestrel_policy: Policy
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'named.db'}", paramstyle="named")
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        subject = new_subject(session, keyring)
        rows = record_consents(
            session,
            kestrel_policy,
            [
                (subject, ConsentInput("newsletter", "given", actor_ref="ref-1")),
                (subject, ConsentInput("testimonials", "refused")),
            ],
            actor=STAFF,
            now=NOW,
        )
    newsletter, testimonials = events_of(sessions, subject)
    engine.dispose()
    assert [newsletter.record_id, testimonials.record_id] == [r["record_id"] for r in rows]
    assert (newsletter.state, newsletter.actor_ref, newsletter.occurred_at) == (
        "given",
        "ref-1",
        NOW,
    )
    assert newsletter.categories == list(kestrel_policy.purposes["newsletter"].categories)
    assert (testimonials.state, testimonials.actor_ref, testimonials.language) == (
        "refused",
        None,
        "en",
    )


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
