"""The vault: personal data troth itself holds (form submissions, leads), encrypted per subject.

:func:`collect` checks a submission against the declaration and stores it, each value encrypted
under its subject's own data key, with its retention deadline; :func:`record_subject_event`
starts the clocks that wait for an event, and :func:`record_client_event` those of the data
collected for one of the company's clients, whose agreed periods :func:`set_override` sets;
:func:`items_of` reads a subject's data back; :func:`shred_subject` destroys a subject's key; a
child's submission is held until a parent consents (:mod:`.holds`, :mod:`.ages`);
:func:`read_for_staff` is a need-to-know read by staff, audited, and :func:`who_read` lists
those reads. See docs/vault.md, docs/retention.md and docs/access.md.
"""

from .ages import AGE_RANGE, DATE_OF_BIRTH, UnreadableAge, age_on, stated_age
from .cards import has_card_number, luhn_valid
from .client_events import ClientEventRecorded, record_client_event
from .client_overrides import (
    OverrideChanged,
    OverrideRefused,
    UnknownOverride,
    clear_override,
    list_overrides,
    set_override,
)
from .clients import client_key_problem, client_terms
from .collect import (
    Collected,
    CollectionRefused,
    FieldInput,
    StoredField,
    StrippedField,
    collect,
)
from .holds import CONSENT_LINK_PURPOSE, CONSENT_PATH, open_hold
from .models import ChildHold, ClientEvent, ClientOverride, SubjectEvent, VaultItem
from .reading import StoredItem, items_of
from .retention import ClientTerms, Deadline, covering_rules, deadline
from .shredding import Shredded, shred_subject
from .staff_reads import ReadRecord, StaffRead, StaffReadInputError, read_for_staff, who_read
from .subject_events import EventRecorded, EventRefused, event_keys, record_subject_event

__all__ = [
    "AGE_RANGE",
    "CONSENT_LINK_PURPOSE",
    "CONSENT_PATH",
    "DATE_OF_BIRTH",
    "ChildHold",
    "ClientEvent",
    "ClientEventRecorded",
    "ClientOverride",
    "ClientTerms",
    "Collected",
    "CollectionRefused",
    "Deadline",
    "EventRecorded",
    "EventRefused",
    "FieldInput",
    "OverrideChanged",
    "OverrideRefused",
    "ReadRecord",
    "Shredded",
    "StaffRead",
    "StaffReadInputError",
    "StoredField",
    "StoredItem",
    "StrippedField",
    "SubjectEvent",
    "UnknownOverride",
    "UnreadableAge",
    "VaultItem",
    "age_on",
    "clear_override",
    "client_key_problem",
    "client_terms",
    "collect",
    "covering_rules",
    "deadline",
    "event_keys",
    "has_card_number",
    "items_of",
    "list_overrides",
    "luhn_valid",
    "open_hold",
    "read_for_staff",
    "record_client_event",
    "record_subject_event",
    "set_override",
    "shred_subject",
    "stated_age",
    "who_read",
]
