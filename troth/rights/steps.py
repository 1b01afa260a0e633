"""What every step of a rights request's execution shares: which steps each kind runs, what a
step is handed, who it acts as, and how it adds to the request's outcome.

The steps themselves live in troth.rights.execute (troth's own store: the vault, identities and
the consent ledger) and troth.rights.dataset_steps (the company's own databases). Both import
this module; execute imports dataset_steps, never the other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from troth.audit import Actor
from troth.declaration import Policy
from troth.subjects import Keyring

from .models import RightsRequest
from .states import RequestKind

# The actor of every step's timeline entry and audit event, whichever module the step is in.
EXECUTOR = Actor.system("troth.rights.execute")
_FINISH = ["notify", "complete"]
STEPS: dict[RequestKind, list[str]] = {
    RequestKind.access: ["start", "bundle", *_FINISH],
    RequestKind.portability: ["start", "bundle", *_FINISH],
    RequestKind.correction: ["start", "recipient_tasks", "correct", *_FINISH],
    RequestKind.erasure: [
        "start",
        "recipient_tasks",
        "erase_datasets",
        "erase_items",
        "restrict_held",
        "notify",
        "erase_identities",
        "complete",
    ],
    RequestKind.restriction: ["start", "recipient_tasks", "restrict", *_FINISH],
    RequestKind.objection: ["start", "object", *_FINISH],
    RequestKind.opt_out_marketing: ["start", "opt_out", *_FINISH],
    RequestKind.withdraw_consent: ["start", "withdraw", *_FINISH],
    RequestKind.stop_tracking: ["start", "stop_tracking", *_FINISH],
}


@dataclass(frozen=True)
class StepContext:
    session: Session
    policy: Policy
    keyring: Keyring
    request: RightsRequest
    now: datetime
    base_url: str
    # what the step's preparation (outside the transaction) returned, if it has one
    prepared: Any = None


Step = Callable[[StepContext], None]


def add_outcome(ctx: StepContext, **facts: Any) -> None:
    """Add ``facts`` to the request's outcome, keeping what earlier steps put there."""
    ctx.request.outcome = dict(ctx.request.outcome or {}) | facts
