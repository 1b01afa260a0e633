"""Children's data after collection (P29): the parent's answer, the consent window, a child
found later.

A child's submission is held by the vault when it is collected (:mod:`troth.vault.holds`),
since the hold is decided while the submission is checked. Everything after that spans the
vault, the consent ledger and the outbox, so it lives here, above all three: a parent gives
consent through the emailed link (:func:`give_consent`: the items become usable, and the
ledger records the consent as given by the parent) or refuses it (:func:`refuse_consent`: the
items are deleted); :func:`expire_held_children` deletes what no parent answered for within the
declared window; :func:`record_child_found` deals with a subject found to be a child without a
parent's consent (their data deleted or isolated, the parent told). See docs/children.md.
"""

from .decisions import (
    AlreadyAnswered,
    HoldNotFound,
    ParentalAnswer,
    give_consent,
    held_for_link,
    refuse_consent,
)
from .found import ChildFound, record_child_found
from .sweep import SWEEP_ACTOR, SweepReport, expire_held_children

__all__ = [
    "SWEEP_ACTOR",
    "AlreadyAnswered",
    "ChildFound",
    "HoldNotFound",
    "ParentalAnswer",
    "SweepReport",
    "expire_held_children",
    "give_consent",
    "held_for_link",
    "record_child_found",
    "refuse_consent",
]
