"""Extending a request's completion deadline: an explicit, reasoned, audited step (P14).

The law that allows an extension also limits it: it must be announced before the original
deadline passes (GDPR Art. 12(3), CCPA § 1798.130(a)(2)), it happens once, and it is no longer
than the declaration and the claimed law allow (troth.rights.clocks). The subject is told by
email, with the reason, in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from troth.audit import Actor
from troth.declaration import Policy
from troth.declaration.durations import Duration
from troth.subjects import Keyring

from .clocks import deadlines
from .models import RightsRequest
from .requests import RequestInputError, add_reason, get_request, mail_requester, note
from .states import FINAL, RequestState


class ExtensionRefused(ValueError):
    """An extension the declaration or the law does not allow; the message says which rule."""


def extend(
    session: Session,
    policy: Policy,
    keyring: Keyring,
    request_id: str,
    *,
    reason: str,
    now: datetime,
    actor: Actor,
    by: Duration | None = None,
) -> RightsRequest:
    """Move the completion deadline by ``by`` (the whole allowed extension if not given).

    Refused (:class:`ExtensionRefused`) for a closed request, a second extension, no extension
    allowed, after the original deadline, or longer than allowed.
    """
    if not reason.strip() or len(reason) > 2000:
        raise RequestInputError("reason", "say why the request needs more time (1 to 2000)")
    request = get_request(session, request_id)
    if RequestState(request.state) in FINAL:
        raise ExtensionRefused(f"request {request.id} is {request.state}: nothing to extend")
    if request.extended:
        raise ExtensionRefused(f"request {request.id} was already extended; the law allows once")
    allowed = deadlines(policy, request.kind, request.jurisdiction, request.received_at).extension
    if allowed is None:
        raise ExtensionRefused(
            f"neither the declaration nor the law of {request.jurisdiction or 'the request'} "
            "allows extending this right's deadline"
        )
    if now >= request.original_complete_by:
        raise ExtensionRefused(
            "too late: an extension must be announced before the original deadline, "
            f"{request.original_complete_by.isoformat()}"
        )
    length = by or allowed
    if length.add_to(request.original_complete_by) > allowed.add_to(request.original_complete_by):
        raise ExtensionRefused(
            f"too long: at most {allowed.words()} beyond the original deadline "
            f"(asked {length.words()})"
        )
    request.complete_by = length.add_to(request.original_complete_by)
    request.extended = True
    add_reason(session, keyring, request, "extended", reason)
    note(
        session,
        request,
        "deadline_extended",
        now=now,
        actor=actor,
        details={"by": length.iso(), "complete_by": request.complete_by.isoformat()},
    )
    mail_requester(
        session,
        policy,
        keyring,
        request,
        "rights_extended",
        now=now,
        actor=actor,
        context={"reason": reason.strip()},
    )
    return request
