"""Consent: the ledger of consent events, subject signals, renewal after a material policy
change, ISO/IEC TS 27560 records, and the "may I?" decision answered from memory."""

from .cache import DecisionCache
from .cookies import CookieChoice, record_cookie_choice
from .decide import Decision, Reason, Rules, decide, gpc_purposes
from .fold import ConsentFact, PurposeConsent, SignalFact, SubjectState, fold
from .ledger import (
    ConsentInput,
    ConsentInputError,
    link_identity,
    mark_changed,
    record_consents,
    record_signal,
    withdraw,
)
from .models import ActedBy, ConsentEvent, ConsentState, Method, SignalKind, SubjectSignal
from .reading import get_record, history, load_state, renewal_generation
from .receipts import consent_record, consent_records
from .renewal import on_version_recorded, purposes_to_renew, require_renewal

__all__ = [
    "ActedBy",
    "ConsentEvent",
    "ConsentFact",
    "ConsentInput",
    "ConsentInputError",
    "ConsentState",
    "CookieChoice",
    "Decision",
    "DecisionCache",
    "Method",
    "PurposeConsent",
    "Reason",
    "Rules",
    "SignalFact",
    "SignalKind",
    "SubjectSignal",
    "SubjectState",
    "consent_record",
    "consent_records",
    "decide",
    "fold",
    "get_record",
    "gpc_purposes",
    "history",
    "link_identity",
    "load_state",
    "mark_changed",
    "on_version_recorded",
    "purposes_to_renew",
    "record_consents",
    "record_cookie_choice",
    "record_signal",
    "renewal_generation",
    "require_renewal",
    "withdraw",
]
