"""The vault: personal data troth itself holds (form submissions, leads), encrypted per subject.

:func:`collect` checks a submission against the declaration and stores it, each value encrypted
under its subject's own data key, with its retention deadline; :func:`record_subject_event`
starts the clocks that wait for an event; :func:`items_of` reads a subject's data back;
:func:`shred_subject` destroys a subject's key. See docs/vault.md.
"""

from .cards import has_card_number, luhn_valid
from .collect import (
    Collected,
    CollectionRefused,
    FieldInput,
    StoredField,
    StrippedField,
    collect,
)
from .models import SubjectEvent, VaultItem
from .reading import StoredItem, items_of
from .retention import Deadline, covering_rules, deadline
from .shredding import Shredded, shred_subject
from .subject_events import EventRecorded, EventRefused, event_keys, record_subject_event

__all__ = [
    "Collected",
    "CollectionRefused",
    "Deadline",
    "EventRecorded",
    "EventRefused",
    "FieldInput",
    "Shredded",
    "StoredField",
    "StoredItem",
    "StrippedField",
    "SubjectEvent",
    "VaultItem",
    "collect",
    "covering_rules",
    "deadline",
    "event_keys",
    "has_card_number",
    "items_of",
    "luhn_valid",
    "record_subject_event",
    "shred_subject",
]
