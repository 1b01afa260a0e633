"""Linking a browser to a known subject in the consent ledger on SQLite and PostgreSQL: its consent
merged into the subject's, and a malformed identity refused."""

from __future__ import annotations

import pytest
from consent_support import DAY, NOW, STAFF, choose, give
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from troth.audit import Actor
from troth.consent import ConsentInputError, ConsentState, history, link_identity, load_state
from troth.consent.models import ConsentChange
from troth.declaration import Policy
from troth.subjects import Keyring, new_browser_id

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
        changes = session.scalar(
            select(ConsentChange.subject_ids).order_by(ConsentChange.seq.desc()).limit(1)
        )
    assert (kept, merged) == (subject, [anonymous.subject_id])
    assert changes == [subject, anonymous.subject_id]  # both caches told, in one row

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
