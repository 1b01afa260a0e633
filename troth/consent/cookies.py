"""Cookie banner choices in the consent ledger, with Global Privacy Control."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from troth.audit import Actor
from troth.declaration import Policy
from troth.store import take_sqlite_write_lock
from troth.subjects import IdentityError, Keyring
from troth.subjects.registry import resolve_subject

from .decide import gpc_purposes
from .fold import PurposeConsent
from .ledger import (
    ConsentInput,
    ConsentInputError,
    check_where,
    record_consents,
    record_signal,
)
from .models import ConsentState, Method, SignalKind
from .reading import load_state


@dataclass(frozen=True)
class CookieChoice:
    subject_id: str
    created: bool
    recorded: list[tuple[str, str]]


def record_cookie_choice(
    session: Session,
    *,
    policy: Policy,
    keyring: Keyring,
    browser_id: str,
    accepted: Sequence[str],
    gpc: bool,
    revision: int,
    language: str | None = None,
    collection_point: str | None = None,
    now: datetime,
) -> CookieChoice:
    """Record a cookie banner choice for an anonymous browser id.

    Each purpose behind a non-essential cookie category is given if one of its categories was
    accepted, refused otherwise; with Global Privacy Control, purposes it covers are refused
    (method ``global_privacy_control``) whatever was accepted, and the subject's GPC opt-out is
    raised. Only changes are recorded: posting the same choice again writes nothing but keeps
    the subject known.
    """
    cookies = policy.declaration.cookies
    if cookies is None:
        raise ConsentInputError("accepted", "this policy declares no cookies")
    if revision < 0:
        raise ConsentInputError("revision", "expected a whole number, 0 or more")
    categories = {c.key: c for c in cookies.categories}
    for position, key in enumerate(accepted):
        if key not in categories:
            known = ", ".join(categories)
            raise ConsentInputError(
                f"accepted[{position}]", f"is not a declared cookie category; declared: {known}"
            )
    check_where(language, collection_point, None)
    honour_gpc = gpc and cookies.honour_global_privacy_control
    covered = gpc_purposes(policy) if honour_gpc else set()
    wanted: dict[str, bool] = {}
    for category in cookies.categories:
        if category.key == "essential":
            continue
        for purpose in category.purposes:
            wanted[purpose] = wanted.get(purpose, False) or category.key in accepted
    take_sqlite_write_lock(session, "consent_changes")
    try:
        subject, created = resolve_subject(
            session,
            keyring,
            "browser_id",
            browser_id,
            now=now,
            actor=Actor.system("cookie_banner"),
            policy_version=policy.version,
        )
    except IdentityError as exc:
        raise ConsentInputError("browser_id", exc.reason) from None
    before = None if created else load_state(session, subject.id, now)
    current = before.consents if before else {}
    items = []
    for purpose, given in wanted.items():
        blocked = purpose in covered
        state = ConsentState.given if given and not blocked else ConsentState.refused
        if _unchanged(current.get(purpose), state):
            continue
        method = Method.global_privacy_control if blocked else Method.cookie_banner
        items.append(
            (
                subject.id,
                ConsentInput(
                    purpose,
                    state,
                    method=method,
                    language=language,
                    collection_point=collection_point,
                ),
            )
        )
    recorded = record_consents(session, policy, items, actor=Actor.subject(subject.id), now=now)
    # The opt-out follows the browser: raised while it sends Global Privacy Control, lifted
    # when a later choice comes without it (the person turned it off, and chose again).
    opted_out = before.gpc_opt_out if before else False
    if honour_gpc != opted_out and (honour_gpc or not gpc):
        record_signal(
            session,
            policy,
            subject.id,
            SignalKind.gpc_opt_out,
            active=honour_gpc,
            method=Method.global_privacy_control if honour_gpc else Method.cookie_banner,
            actor=Actor.subject(subject.id),
            now=now,
        )
    return CookieChoice(subject.id, created, [(r["purpose"], r["state"]) for r in recorded])


def _unchanged(current: PurposeConsent | None, state: ConsentState) -> bool:
    return current is not None and current.state is state and not current.renewal_required
