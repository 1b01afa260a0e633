"""Collect one submission for a subject: check it against the declaration, then store it.

Everything is checked before anything is written, and every problem is reported at once, each
naming its field (``fields[2].category``) and never the value. What is refused:

- a source, purpose or category the declaration does not declare;
- a category the source does not declare, or the purpose does not use (P1, P2);
- a purpose the subject's consent state does not allow (the consent decision: a purpose on
  consent needs it given; contract or legal obligation does not);
- forbidden data (P3): a category declared ``forbidden``, or a payment card number anywhere.
  Where the category's ``on_forbidden`` is ``strip`` the field is dropped instead, and listed in
  the result. A card number in any other category follows the declared card number category
  (a forbidden category at or under ``user.financial.credit_card``): dropped if that says
  ``strip``, refused otherwise (and refused if the declaration has no such category);
- an item no retention rule covers (P17): without a rule there is no deadline to keep;
- a ``client`` (the key of the company's client the data is collected for) that is not a key,
  or that no retention rule covering the submission could use: only a rule with
  ``per_client_override: true`` keeps data as agreed with a client;
- where the declaration has a ``children`` section, a child's submission without the parent's
  email address (``parent_email``), or with an age field troth cannot read (P29).

A child's submission (an age under the declared threshold, a purpose whose subjects are all
children, or a subject already known to be a child) is stored but held unusable until a parent
consents, unless a parent already consented to the purpose (:mod:`troth.vault.holds`).

Each value is stored encrypted under the subject's own data key (P26); its retention deadline
is computed now (see :mod:`troth.vault.retention`), with the client's events and agreed periods
when it is collected for a client (:mod:`troth.vault.clients`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from troth.audit import Actor, record_event
from troth.consent import ActedBy, Reason, Rules, SubjectState, decide, fold, load_state
from troth.declaration import Policy
from troth.declaration.taxonomy import is_under
from troth.subjects import DataKey, IdentityError, Keyring, encrypt, normalise
from troth.subjects.registry import data_key, find_subject, resolve_subject

from .ages import UnreadableAge, carries_age, stated_age
from .cards import has_card_number
from .clients import client_key_problem, client_terms
from .holds import open_hold
from .models import VaultItem
from .retention import covering_rules, deadline
from .subject_events import latest_events

CARD_CATEGORY = "user.financial.credit_card"
_EMAIL = re.compile(r"[^@\s/?&=]+@[^@\s/?&=]+\.[^@\s/?&=]+")
MAX_VALUE_CHARS = 10_000
MAX_FIELDS = 100
MAX_COLLECTION_POINT = 500
# What a child's submission may be held despite: the parent's consent is what the hold asks for.
_HOLDABLE = frozenset({Reason.child_without_parental_consent, Reason.no_consent})


class Seal(Protocol):
    """How a value is sealed under a subject's key: :func:`troth.subjects.encrypt`."""

    def __call__(self, data_key: DataKey, plaintext: bytes, associated_data: bytes) -> bytes: ...


class CollectionRefused(ValueError):
    """The submission was refused; ``fields`` lists ``(field, message)``, never a value."""

    def __init__(self, fields: Sequence[tuple[str, str]]) -> None:
        self.fields = list(fields)
        super().__init__("; ".join(f"{f}: {m}" for f, m in self.fields))


@dataclass(frozen=True)
class FieldInput:
    """One submitted field: a declared category's key and the value given for it."""

    category: str
    value: str


@dataclass(frozen=True)
class StoredField:
    index: int
    category: str
    retention_rule: str
    retain_until: datetime | None
    waiting_for: str | None


@dataclass(frozen=True)
class StrippedField:
    index: int
    category: str
    reason: str


@dataclass(frozen=True)
class Collected:
    """What :func:`collect` stored: the subject, the submission and each field's fate."""

    subject_id: str
    subject_created: bool
    submission_id: str
    stored: list[StoredField] = field(default_factory=list)
    stripped: list[StrippedField] = field(default_factory=list)
    hold_id: str | None = None
    held_until: datetime | None = None

    @property
    def held(self) -> bool:
        """Stored but unusable until a parent consents (P29)."""
        return self.hold_id is not None


def item_associated_data(
    subject_id: str, submission_id: str, position: int, category: str
) -> bytes:
    # Binds a ciphertext to its row: moved to another subject, item or category, it fails.
    return f"troth.vault\x00{subject_id}\x00{submission_id}\x00{position}\x00{category}".encode()


_rules: dict[str, Rules] = {}


def _decision_rules(policy: Policy) -> Rules:
    rules = _rules.get(policy.content_hash)
    if rules is None:
        rules = _rules[policy.content_hash] = Rules.compile(policy)
    return rules


def _as_field(item: FieldInput | Mapping[str, object] | tuple[str, str]) -> FieldInput:
    if isinstance(item, FieldInput):
        return item
    if isinstance(item, tuple):
        return FieldInput(*item)
    return FieldInput(str(item.get("category", "")), item.get("value"))  # type: ignore[arg-type]


def _card_rule(policy: Policy) -> str:
    for category in policy.declaration.categories:
        if category.forbidden and is_under(category.key, CARD_CATEGORY):
            return category.on_forbidden
    return "reject"


class _Check:
    """The submission's problems, gathered so that all are reported together."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def fail(self, where: str, message: str) -> None:
        self.problems.append((where, message))

    def raise_if_any(self) -> None:
        if self.problems:
            raise CollectionRefused(self.problems)


def collect(
    session: Session,
    policy: Policy,
    keyring: Keyring,
    *,
    identity: tuple[str, str] | Mapping[str, str],
    fields: Sequence[FieldInput | Mapping[str, object] | tuple[str, str]],
    source: str,
    purpose: str,
    collection_point: str | None,
    now: datetime,
    actor: Actor,
    parent_email: str | None = None,
    base_url: str | None = None,
    client: str | None = None,
    seal: Seal = encrypt,
) -> Collected:
    """Store one submission for the subject of ``identity`` (found, or created), in the
    caller's transaction, with the audit event ``vault.collected``.

    ``identity`` is ``(kind, value)`` or ``{"kind", "value"}``; ``fields`` are
    :class:`FieldInput` (or ``(category, value)`` pairs, or ``{"category", "value"}``).
    Raises :class:`CollectionRefused` naming every field at fault; nothing is written then.
    ``parent_email`` is needed for a child's submission (it is then held, and the parent
    emailed a consent link under ``base_url``, where people reach this installation); for
    anyone else's it is ignored and not stored. ``client`` is the key of the company's client
    the data is collected for: stored on every item, it makes the client's events and agreed
    periods count under the rules that allow a per-client override.
    ``seal`` exists for the benchmark that measures what encryption costs; leave it.
    """
    check = _Check()
    kind, value = (
        (identity.get("kind", ""), identity.get("value", ""))
        if isinstance(identity, Mapping)
        else identity
    )
    canonical = ""
    if isinstance(value, str) and has_card_number(value):
        check.fail("identity.value", "holds a payment card number, which is never stored")
    else:
        try:
            canonical = normalise(kind, value)
        except IdentityError as exc:
            where = "identity.kind" if exc.kind == "identity" else "identity.value"
            check.fail(where, exc.reason)
    source_row = next((s for s in policy.declaration.sources if s.key == source), None)
    if source_row is None:
        check.fail("source", "is not a source the declaration declares")
    purpose_row = policy.purposes.get(purpose)
    if purpose_row is None:
        check.fail("purpose", "is not a purpose the declaration declares")
    if collection_point is not None:
        if len(collection_point) > MAX_COLLECTION_POINT:
            check.fail("collection_point", f"is longer than {MAX_COLLECTION_POINT} characters")
        elif has_card_number(collection_point):
            check.fail("collection_point", "holds a payment card number, which is never stored")
        elif _EMAIL.search(collection_point):
            # Stored in plain text beside the encrypted values: it must name the form, not a person.
            check.fail(
                "collection_point",
                "looks like it holds an email address; name the form or page without personal data",
            )
    items = [_as_field(item) for item in fields]
    if not items:
        check.fail("fields", "name at least one field")
    if len(items) > MAX_FIELDS:
        check.fail("fields", f"at most {MAX_FIELDS} fields in one submission")
    card_rule = _card_rule(policy)
    kept: list[tuple[int, FieldInput]] = []
    stripped: list[StrippedField] = []
    for index, item in enumerate(items):
        where = f"fields[{index}]"
        category = policy.categories.get(item.category)
        if category is None:
            check.fail(f"{where}.category", "is not a category the declaration declares")
            continue
        if not isinstance(item.value, str):
            check.fail(f"{where}.value", "expected text")
            continue
        if len(item.value) > MAX_VALUE_CHARS:
            check.fail(f"{where}.value", f"is longer than {MAX_VALUE_CHARS} characters")
            continue
        if category.forbidden:
            if category.on_forbidden == "strip":
                stripped.append(StrippedField(index, item.category, "forbidden_category"))
            else:
                check.fail(f"{where}.category", "is declared forbidden: troth never stores it")
            continue
        if has_card_number(item.value):
            if card_rule == "strip":
                stripped.append(StrippedField(index, item.category, "card_number"))
            else:
                check.fail(f"{where}.value", "holds a payment card number, which is never stored")
            continue
        if source_row is not None and not any(
            is_under(item.category, c) for c in source_row.categories
        ):
            check.fail(f"{where}.category", f"is not a category the source {source} collects")
            continue
        if purpose_row is not None:
            if not any(is_under(item.category, c) for c in purpose_row.categories):
                check.fail(f"{where}.category", f"is not a category the purpose {purpose} uses")
                continue
            if not covering_rules(policy, category=item.category, source=source, purpose=purpose):
                check.fail(
                    f"{where}.category",
                    "no retention rule covers it; declare one under retention (P17)",
                )
                continue
        kept.append((index, item))
    if client is not None:
        _check_client(policy, client, kept, source, purpose, check)
    young = _young(policy, kept, now, check)
    check.raise_if_any()
    assert purpose_row is not None

    existing = find_subject(session, keyring, kind, canonical)
    state = load_state(session, existing.id, now) if existing is not None else fold([], [], now, {})
    decision = decide(_decision_rules(policy), state, purpose)
    child = policy.declaration.children is not None and (
        young or state.child or _children_only(policy, purpose)
    )
    hold = child and not _parent_consented(state, purpose)
    if hold:
        parent = _parent_address(parent_email, kind, canonical, base_url, check)
        if not decision and decision.reason not in _HOLDABLE:
            check.fail("purpose", f"may not be used for this subject: {decision.explanation}")
        check.raise_if_any()
    elif not decision:
        check.fail("purpose", f"may not be used for this subject: {decision.explanation}")
        check.raise_if_any()

    subject, created = resolve_subject(
        session, keyring, kind, canonical, now=now, actor=actor, policy_version=policy.version
    )
    key = data_key(keyring, subject)
    events = latest_events(session, subject.id) if not created else {}
    terms = client_terms(session, client) if client is not None else None
    submission_id = str(uuid.uuid4())
    held = None
    if hold:
        assert base_url is not None
        held = open_hold(
            session,
            policy,
            keyring,
            subject_id=subject.id,
            submission_id=submission_id,
            purpose=purpose,
            categories=[item.category for _, item in kept],
            parent_email=parent,
            base_url=base_url,
            now=now,
            actor=actor,
        )
    stored: list[StoredField] = []
    for index, item in kept:
        due = deadline(
            covering_rules(policy, category=item.category, source=source, purpose=purpose),
            now,
            events,
            terms,
        )
        session.add(
            VaultItem(
                subject_id=subject.id,
                submission_id=submission_id,
                position=index,
                category=item.category,
                source=source,
                purpose=purpose,
                collection_point=collection_point,
                ciphertext=seal(
                    key,
                    item.value.encode("utf-8"),
                    item_associated_data(subject.id, submission_id, index, item.category),
                ),
                collected_at=now,
                policy_version=policy.version,
                retention_rule=due.rule,
                retain_until=due.retain_until,
                waiting_for=due.waiting_for,
                hold_id=held.id if held is not None else None,
                client=client,
            )
        )
        stored.append(
            StoredField(index, item.category, due.rule, due.retain_until, due.waiting_for)
        )
    session.flush()
    record_event(
        session,
        actor=actor,
        action="vault.collected",
        subject_id=subject.id,
        policy_version=policy.version,
        details={
            "submission_id": submission_id,
            "source": source,
            "purpose": purpose,
            "categories": [f.category for f in stored],
            "stripped": [
                {"index": f.index, "category": f.category, "reason": f.reason} for f in stripped
            ],
            "hold_id": held.id if held is not None else None,
            "client": client,
        },
        now=now,
    )
    return Collected(
        subject.id,
        created,
        submission_id,
        stored,
        stripped,
        hold_id=held.id if held is not None else None,
        held_until=held.window_ends if held is not None else None,
    )


def _check_client(
    policy: Policy,
    client: str,
    kept: Sequence[tuple[int, FieldInput]],
    source: str,
    purpose: str,
    check: _Check,
) -> None:
    """A client's key is kept only where a rule covering the submission can use it."""
    problem = client_key_problem(client)
    if problem is not None:
        check.fail("client", problem)
        return
    if purpose not in policy.purposes:
        return  # refused already, for the purpose
    if not any(
        rule.per_client_override
        for _, item in kept
        for rule in covering_rules(policy, category=item.category, source=source, purpose=purpose)
    ):
        check.fail(
            "client",
            "no retention rule covering this submission keeps data as agreed with a client "
            "(per_client_override: true), so a client's events and agreed periods would not "
            "count for it; leave client out, or declare such a rule",
        )


def _young(
    policy: Policy, kept: Sequence[tuple[int, FieldInput]], now: datetime, check: _Check
) -> bool:
    """Whether a date of birth or a stated age puts the person under the declared threshold."""
    children = policy.declaration.children
    if children is None:
        return False
    young = False
    for index, item in kept:
        if not carries_age(item.category):
            continue
        try:
            age = stated_age(item.category, item.value, now.date())
        except UnreadableAge as exc:
            check.fail(f"fields[{index}].value", str(exc))
            continue
        young = young or age < children.age_threshold
    return young


def _children_only(policy: Policy, purpose: str) -> bool:
    """A purpose whose declared subjects are all children."""
    subjects = policy.purposes[purpose].subjects
    declared = policy.subjects
    return bool(subjects) and all(key in declared and declared[key].child for key in subjects)


def _parent_consented(state: SubjectState, purpose: str) -> bool:
    consent = state.consents.get(purpose)
    return consent is not None and consent.active and consent.acted_by == ActedBy.parent


def _parent_address(
    parent_email: str | None, kind: str, canonical: str, base_url: str | None, check: _Check
) -> str:
    """The parent's address, normalised; the problems with it are added to ``check``."""
    if parent_email is None or not parent_email.strip():
        check.fail(
            "parent_email",
            "this is a child's data, held until a parent consents: give the parent's email "
            "address so that they can be asked",
        )
        return ""
    if has_card_number(parent_email):
        check.fail("parent_email", "holds a payment card number, which is never stored")
        return ""
    try:
        address = normalise("email", parent_email)
    except IdentityError as exc:
        check.fail("parent_email", exc.reason)
        return ""
    if kind == "email" and address == canonical:
        check.fail("parent_email", "is the child's own address; give the parent's")
    if base_url is None:
        check.fail("base_url", "is needed to email the parent a consent link")
    return address
