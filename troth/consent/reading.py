"""Reading the consent ledger: a subject's history, one record, and the folded state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from troth.subjects.registry import get_subject, merged_ids

from .fold import ConsentFact, SignalFact, SubjectState, fold
from .models import ConsentEvent, ConsentRenewal, ConsentState, SignalKind, SubjectSignal


def renewals(session: Session) -> dict[str, list[datetime]]:
    """When renewal became required, per purpose."""
    found: dict[str, list[datetime]] = {}
    for row in session.execute(select(ConsentRenewal.purpose, ConsentRenewal.required_at)):
        found.setdefault(row.purpose, []).append(row.required_at)
    return found


def renewal_generation(session: Session) -> int:
    """How many times fresh consent has been required: the cookie banner's revision."""
    rows = session.execute(select(ConsentRenewal.policy_version, ConsentRenewal.required_at))
    return len({(row.policy_version, row.required_at) for row in rows})


def history(session: Session, subject_id: str) -> list[ConsentEvent]:
    """Every consent event of the subject (and of subjects merged into it), oldest first."""
    ids = merged_ids(session, get_subject(session, subject_id).id)
    return list(
        session.scalars(
            select(ConsentEvent)
            .where(ConsentEvent.subject_id.in_(ids))
            .order_by(ConsentEvent.occurred_at, ConsentEvent.id)
        )
    )


def get_record(session: Session, record_id: str) -> ConsentEvent | None:
    return session.scalar(select(ConsentEvent).where(ConsentEvent.record_id == record_id))


def consent_fact(event: ConsentEvent) -> ConsentFact:
    return ConsentFact(
        seq=event.id,
        record_id=event.record_id,
        purpose=event.purpose,
        state=ConsentState(event.state),
        occurred_at=event.occurred_at,
        expires_at=event.expires_at,
        policy_version=event.policy_version,
        method=event.method,
        acted_by=event.acted_by,
    )


def load_state(
    session: Session,
    subject_id: str,
    now: datetime,
    renewal_times: dict[str, list[datetime]] | None = None,
) -> SubjectState:
    """The subject's current state (UnknownSubject if there is no such subject)."""
    ids = merged_ids(session, get_subject(session, subject_id).id)
    return load_states(session, ids, now, renewal_times)


def load_states(
    session: Session,
    ids: Sequence[str],
    now: datetime,
    renewal_times: dict[str, list[datetime]] | None = None,
) -> SubjectState:
    """The state folded from the events of all of ``ids`` (a subject and those merged in)."""
    events = session.scalars(select(ConsentEvent).where(ConsentEvent.subject_id.in_(ids)))
    signals = session.scalars(select(SubjectSignal).where(SubjectSignal.subject_id.in_(ids)))
    return fold(
        [consent_fact(e) for e in events],
        [SignalFact(s.id, SignalKind(s.kind), s.active, s.occurred_at, s.purpose) for s in signals],
        now,
        renewals(session) if renewal_times is None else renewal_times,
    )
