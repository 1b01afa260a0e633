"""Every change between two versions of a declaration, each material or minor.

A change is *material* when it widens processing (a new purpose, category, recipient, source,
cookie or transfer region; data kept longer) or weakens a promise (a right removed or slower,
consent no longer asked, a safeguard switched off). A material change must be notified to the
people affected and, where the declaration says so, needs their fresh consent (P32). Everything
else is *minor*: wording, contact details, less processing, stronger promises.

The table below is the whole classification; docs/diff.md lists it rule by rule. The walk itself
is generic (:mod:`troth.declaration.diff_walk`), and so are the kinds of rule
(:mod:`troth.declaration.diff_rules`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .diff_rules import (
    Collection,
    derived,
    duration,
    fallback,
    flag,
    keyed,
    members,
    promise,
    ranked,
    risk,
    section,
    setting,
    statements,
    threshold,
    wording,
)
from .diff_walk import Change, Place, Rule, Walk, compare, words
from .durations import Duration
from .model import Cookie, Declaration, Purpose, RetentionRule, RightOffer, Rights
from .policy import Policy, rule_categories

__all__ = ["RULES", "Change", "diff_declarations", "diff_policies"]

LAWS = {"in-dpdp": "India's DPDP Act", "eu-gdpr": "the GDPR", "us-ca-ccpa": "the CCPA"}
RIGHT_NAMES = {
    "access": "Access",
    "correction": "Correction",
    "erasure": "Erasure",
    "portability": "Portability",
    "restriction": "Restriction",
    "objection": "Objection",
    "opt_out_marketing": "Marketing opt-out",
    "withdraw_consent": "Consent withdrawal",
    "stop_tracking": "Stop-tracking",
    "nominate": "Nomination",
    "grievance": "Grievance",
}


def diff_declarations(old: Declaration, new: Declaration) -> list[Change]:
    """Every change from ``old`` to ``new``: material changes first, then minor ones, each in
    the order the declaration lists them."""
    walk = Walk(old, new, RULES, ITEM_CHECKS, fallback)
    root = Place("", None, "Declaration", "Declaration", "Declaration", old, new)
    compare(walk, root, old, new)
    return sorted(walk.changes, key=lambda change: not change.material)


def diff_policies(old: Policy, new: Policy) -> list[Change]:
    return diff_declarations(old.declaration, new.declaration)


# Rules that need more than one field ------------------------------------------------------------


def _consent_needed(walk: Walk, place: Place) -> None:
    """Whether a purpose needs consent follows from ``consent_required`` and the legal basis."""
    before, after = place.old.needs_consent, place.new.needs_consent
    if before != after:
        message = f"{place.label} {'now' if after else 'no longer'} needs people's consent"
        walk.add(place, "consent_required", not after, message)


def _basis_by_law(walk: Walk, place: Place, name: str, before: Any, after: Any) -> None:
    old: Purpose = place.old
    new: Purpose = place.new
    for law in dict.fromkeys([*before, *after]):
        if old.basis_under(law) != new.basis_under(law):
            message = (
                f"{place.label}: legal basis under {LAWS.get(law, law)} changed from "
                f"{words(old.basis_under(law))} to {words(new.basis_under(law))}"
            )
            walk.add(place, name, True, message)


def _cookie_category(walk: Walk, place: Place, name: str, before: Any, after: Any) -> None:
    # Into "essential" means set without asking; between consent categories means a consent
    # given for one kind of cookie now covers another. Only leaving "essential" is minor.
    note = " (set without asking for consent)" if after == "essential" else ""
    message = f"{place.label} moved from {words(before)} to {words(after)} cookies{note}"
    walk.add(place, name, before != "essential", message)


def _retention_kept_longer(walk: Walk, place: Place) -> bool:
    """A new or widened retention rule is material when it keeps a category that already had a
    limit longer than any rule kept it before (categories limited for the first time are not)."""
    rule: RetentionRule = place.item_new
    covered = rule_categories(walk.new, rule)
    if place.item_old is not None:
        covered -= rule_categories(walk.old, place.item_old)
    return walk.kept_longer(covered, rule.period)


def _right_label(offer: RightOffer) -> str:
    return f"{RIGHT_NAMES.get(offer.right, words(offer.right))} requests"


_OFFERS = Collection(
    "right",
    identity="right",
    added_material=False,
    removed_material=True,
    added_text=lambda offer: f"Right '{offer.right}' is now offered",
    removed_text=lambda offer: f"Right '{offer.right}' is no longer offered",
    label=_right_label,
)


# A right's effective deadlines: its own, or the shared ones under `rights`.
_EFFECTIVE_DEADLINES: dict[str, Callable[[Rights, RightOffer], Duration | None]] = {
    "acknowledge_within": lambda rights, offer: rights.acknowledge_for(offer.right),
    "complete_within": lambda rights, offer: rights.complete_for(offer.right),
    "extension": lambda rights, offer: offer.extension or rights.extension,
}


def _rights_offered(walk: Walk, place: Place, name: str, before: Any, after: Any) -> None:
    """Rights offered, then each right's effective deadlines where the right sets its own (a
    change of the shared deadlines is reported once, under ``rights``)."""
    keyed(_OFFERS)(walk, place, name, before, after)
    old_rights: Rights = place.old
    new_rights: Rights = place.new
    for offer in after:
        previous = old_rights.offer(offer.right)
        if previous is None:
            continue
        for field_name, effective in _EFFECTIVE_DEADLINES.items():
            own = getattr(previous, field_name) or getattr(offer, field_name)
            was, now = effective(old_rights, previous), effective(new_rights, offer)
            if own is not None and was != now:
                label = _right_label(offer)
                sub = Place(place.section, offer.right, "Right", label, label, previous, offer)
                RULES[("Rights", field_name)](walk, sub, field_name, was, now)


def _new_cookie_detail(cookie: Cookie) -> str:
    lasts = "for the session" if cookie.lifetime == "session" else cookie.lifetime_words
    return f" ({words(cookie.category)}, set by {cookie.provider}, lasts {lasts})"


def _new_purpose_detail(purpose: Purpose) -> str:
    return f", legal basis {words(purpose.legal_basis)}"


# The table ---------------------------------------------------------------------------------------

_contact = setting(False)  # contact details: minor

RULES: dict[tuple[str, str], Rule] = {
    ("Declaration", "troth"): setting(False, "declaration format version"),
    ("Declaration", "policy"): section("Policy"),
    ("Declaration", "organization"): section("Organization", label=lambda o: o.name),
    ("Declaration", "subjects"): keyed(Collection("data subject")),
    ("Declaration", "categories"): keyed(Collection("data category")),
    ("Declaration", "sources"): keyed(Collection("source")),
    ("Declaration", "purposes"): keyed(Collection("purpose", detail=_new_purpose_detail)),
    ("Declaration", "recipients"): keyed(
        Collection("recipient", detail=lambda r: f", in {r.country}" if r.country else "")
    ),
    ("Declaration", "events"): keyed(Collection("clock event", added_material=False)),
    ("Declaration", "retention"): keyed(
        Collection(
            "retention rule",
            added_material=_retention_kept_longer,
            # Minor: `troth check` refuses collected data that no rule covers, so a removal
            # never leaves data without a limit.
            detail=lambda rule: f", kept {rule.period.words()}",
        )
    ),
    ("Declaration", "rights"): section("Rights requests"),
    ("Declaration", "cookies"): section(
        "Cookies", empty=lambda c: c.model_copy(update={"categories": (), "cookies": ()})
    ),
    ("Declaration", "children"): section(
        "Children",
        added=lambda c: f"Rules for children's data added: age threshold {c.age_threshold}",
        removed="Rules for children's data removed (age threshold, parental consent)",
        added_material=False,
    ),
    ("Declaration", "transfers"): section(
        "Transfers",
        added=lambda t: f"Transfer rules added, home region {t.home_region}",
        removed="Transfer rules removed: the declaration no longer says where data may go",
        added_material=False,
        empty=lambda t: t.model_copy(update={"allowed": ()}),
    ),
    ("Declaration", "security"): section("Security"),
    # Who among staff may read what is an internal control, not a change in what is done with
    # the data or who receives it: minor, but listed so that reviewers see it.
    ("Declaration", "staff_roles"): keyed(Collection("staff role", added_material=False)),
    ("Declaration", "incidents"): section("Incidents"),
    ("Declaration", "changes"): section("Policy changes"),
    ("PolicyInfo", "version"): setting(False),
    ("PolicyInfo", "effective_date"): setting(False),
    ("PolicyInfo", "summary"): wording(),
    ("PolicyInfo", "language"): setting(False),
    ("Organization", "name"): wording(),
    ("Organization", "legal_name"): setting(True, "legal name (the company responsible)"),
    ("Organization", "role"): setting(True, show=words),
    ("Organization", "website"): _contact,
    ("Organization", "address"): _contact,
    ("Organization", "contact"): section("Organization contact"),
    ("Organization", "privacy_officer"): section(
        "Privacy officer",
        added="Privacy officer added",
        removed="Privacy officer removed",
        added_material=False,
    ),
    ("Organization", "grievance_officer"): section(
        "Grievance officer",
        added="Grievance officer added",
        removed="Grievance officer removed",
        added_material=False,
    ),
    ("Organization", "governing_law"): setting(True, "governing law"),
    ("Organization", "courts"): setting(True),
    ("Organization", "jurisdictions"): members(
        "{label} now follows {items}",
        "{label} no longer follows {items}",
        gained_material=False,
        lost_material=True,
        show=lambda law: LAWS.get(law, law),
    ),
    ("Organization", "never_sells"): promise("{label} {now} promises never to sell personal data"),
    **{("Contact", f): _contact for f in ("name", "title", "email", "phone", "address", "url")},
    ("DataSubject", "key"): derived,
    ("DataSubject", "name"): wording(),
    ("DataSubject", "description"): wording(),
    ("DataSubject", "child"): flag("{label}: {now} counted as children", True, True),
    ("DataCategory", "key"): derived,
    ("DataCategory", "name"): wording(),
    ("DataCategory", "description"): wording(),
    ("DataCategory", "sensitivity"): ranked(("low", "medium", "high", "special")),
    ("DataCategory", "identifier"): ranked(("none", "quasi", "direct"), "how identifying"),
    ("DataCategory", "technical"): flag("{label}: {now} counted as technical data", False, False),
    ("DataCategory", "forbidden"): promise("{label} is {now} forbidden"),
    ("DataCategory", "on_forbidden"): setting(False, "handling when found", show=words),
    ("DataCategory", "reason"): wording(),
    ("Source", "key"): derived,
    ("Source", "name"): wording(),
    ("Source", "kind"): setting(True, show=words),
    ("Source", "description"): wording(),
    ("Source", "categories"): members(
        "{label} now collects {items}", "{label} no longer collects {items}", names="categories"
    ),
    ("Source", "subjects"): members(
        "{label} now collects data about {items}",
        "{label} no longer collects data about {items}",
        names="subjects",
    ),
    ("Purpose", "key"): derived,
    ("Purpose", "name"): wording(),
    ("Purpose", "description"): wording(),
    ("Purpose", "data_use"): setting(True, "data use"),
    ("Purpose", "legal_basis"): setting(True, "legal basis", show=words),
    ("Purpose", "legal_basis_by_jurisdiction"): _basis_by_law,
    ("Purpose", "basis_note"): wording("note on the legal basis"),
    ("Purpose", "categories"): members(
        "{label} now uses {items}", "{label} no longer uses {items}", names="categories"
    ),
    ("Purpose", "subjects"): members(
        "{label} now covers {items}", "{label} no longer covers {items}", names="subjects"
    ),
    ("Purpose", "consent_required"): derived,  # see _consent_needed
    ("Purpose", "opt_out"): promise("{label}: people can {now} opt out with one click"),
    ("Purpose", "consent_expires_after"): duration("consent expiry"),
    ("Purpose", "anonymised_only"): promise("{label} {now} uses anonymised data only"),
    ("Recipient", "key"): derived,
    ("Recipient", "name"): wording(),
    ("Recipient", "kind"): setting(True, show=words),
    ("Recipient", "description"): wording(),
    ("Recipient", "categories"): members(
        "{label} now receives {items}", "{label} no longer receives {items}", names="categories"
    ),
    ("Recipient", "purposes"): members(
        "{label} now receives data for {items}",
        "{label} no longer receives data for {items}",
        names="purposes",
    ),
    ("Recipient", "country"): setting(True),
    ("Recipient", "transfer_mechanism"): setting(
        True, "transfer mechanism", show=words, added=False
    ),
    ("Recipient", "contract_date"): setting(False, "contract date"),
    ("Recipient", "review_date"): setting(False, "review date"),
    ("Recipient", "sale"): risk("{label} {now} buys personal data"),
    ("Recipient", "prior_notice"): duration(
        "notice before data goes to it", worse="shorter", none_means="zero"
    ),
    ("RetentionRule", "key"): derived,
    ("RetentionRule", "name"): wording(),
    ("RetentionRule", "applies_to"): section("Retention scope", inherit_label=True),
    ("RetentionRule", "period"): duration(
        "period", template="Retention of {name} {verb} from {old} to {new}"
    ),
    ("RetentionRule", "starts_at"): setting(True, "clock start", show=words),
    ("RetentionRule", "action"): ranked(("isolate", "anonymize", "delete"), "action at expiry"),
    ("RetentionRule", "legal_basis"): setting(False, "legal basis", show=words),
    ("RetentionRule", "reason"): wording(),
    ("RetentionRule", "per_client_override"): risk(
        "{label}: clients can {now} agree a different period"
    ),
    **{
        ("RetentionScope", f): members(
            "{label} now also applies to {items}",
            "{label} no longer applies to {items}",
            gained_material=_retention_kept_longer,
            names=f,
        )
        for f in ("categories", "purposes", "subjects")
    },
    ("StaffRole", "key"): derived,
    ("StaffRole", "name"): wording(),
    ("StaffRole", "description"): wording(),
    ("StaffRole", "purposes"): members(
        "{label} may now read for {items}",
        "{label} may no longer read for {items}",
        gained_material=False,
        lost_material=False,
        names="purposes",
    ),
    ("StaffRole", "categories"): members(
        "{label} may now read {items}",
        "{label} may no longer read {items}",
        gained_material=False,
        lost_material=False,
        names="categories",
    ),
    ("CustomEvent", "key"): derived,
    ("CustomEvent", "name"): wording(),
    ("CustomEvent", "description"): wording(),
    ("Rights", "acknowledge_within"): duration(
        "acknowledgement time", longer="slowed", shorter="sped up"
    ),
    ("Rights", "complete_within"): duration("answer time", longer="slowed", shorter="sped up"),
    ("Rights", "extension"): duration("extension", none_means="zero"),
    ("Rights", "business_days"): risk("{label}: deadlines are {now} counted in business days"),
    ("Rights", "how_to"): wording("how to ask"),
    ("Rights", "request_url"): _contact,
    ("Rights", "offered"): _rights_offered,
    ("RightOffer", "right"): derived,
    ("RightOffer", "acknowledge_within"): derived,  # see _rights_offered
    ("RightOffer", "complete_within"): derived,
    ("RightOffer", "extension"): derived,
    ("RightOffer", "note"): wording(),
    ("Cookies", "honour_global_privacy_control"): promise(
        "{label}: Global Privacy Control signals are {now} honoured"
    ),
    ("Cookies", "consent_expires_after"): duration("consent expiry"),
    ("Cookies", "categories"): keyed(
        Collection("cookie category", added_material=lambda w, p: p.new.key != "essential")
    ),
    ("Cookies", "cookies"): keyed(
        Collection(
            "cookie",
            identity="name",
            added_material=lambda w, p: p.new.category != "essential",
            detail=_new_cookie_detail,
            label=lambda c: f"Cookie {c.name}",
        )
    ),
    ("CookieCategory", "key"): derived,
    ("CookieCategory", "name"): wording(),
    ("CookieCategory", "description"): wording(),
    ("CookieCategory", "purposes"): members(
        "{label} now serves {items}", "{label} no longer serves {items}", names="purposes"
    ),
    ("Cookie", "name"): derived,
    ("Cookie", "category"): _cookie_category,
    ("Cookie", "provider"): setting(True),
    ("Cookie", "purpose"): wording(),
    ("Cookie", "lifetime"): duration("lifetime"),
    ("Cookie", "third_party"): risk("{label} is {now} set by a third party"),
    ("Children", "age_threshold"): threshold("age threshold"),
    ("Children", "parental_consent_method"): ranked(
        (None, "email_verification", "signed_form", "id_check"), "parental consent method"
    ),
    ("Children", "consent_window"): duration("time allowed to obtain a parent's consent"),
    ("Children", "on_found_without_consent"): ranked(
        ("isolate", "delete"), "action on a child's data found without consent"
    ),
    ("Children", "notify_parent"): promise("{label}: parents are {now} notified"),
    ("Transfers", "home_region"): setting(True, "home region"),
    ("Transfers", "allowed"): keyed(
        Collection(
            "transfer region",
            identity="region",
            added_text=lambda r: f"Transfers to {r.region} now allowed, under {words(r.mechanism)}",
            removed_text=lambda r: f"Transfers to {r.region} no longer allowed",
            label=lambda r: f"Transfers to {r.region}",
        )
    ),
    ("Transfers", "client_region_pinning"): promise(
        "{label}: clients can {now} keep their data in one region"
    ),
    ("TransferRoute", "region"): derived,
    ("TransferRoute", "mechanism"): setting(True, "mechanism", show=words),
    ("Security", "encryption_in_transit"): promise("{label}: data is {now} encrypted in transit"),
    ("Security", "encryption_at_rest"): promise("{label}: data is {now} encrypted at rest"),
    ("Security", "encrypted_backups"): promise("{label}: backups are {now} encrypted"),
    ("Security", "staff_mfa"): promise("{label}: staff {now} need a second factor to sign in"),
    ("Security", "audit_trail"): promise("{label}: an audit trail is {now} kept"),
    ("Security", "audit_report_every"): duration("time between audit reports"),
    ("Security", "measures"): statements("measure"),
    ("Incidents", "notify_authority_within"): duration("deadline to notify the authority"),
    ("Incidents", "notify_subjects"): promise("{label}: affected people are {now} told"),
    ("Incidents", "authority"): setting(False),
    ("Changes", "notify_by"): members(
        "{label}: people are now told by {items}",
        "{label}: people are no longer told by {items}",
        gained_material=False,
        lost_material=True,
    ),
    ("Changes", "notice_before"): duration("notice", worse="shorter", none_means="zero"),
    ("Changes", "fresh_consent_on_material_change"): promise(
        "{label}: fresh consent is {now} asked after a material change"
    ),
    ("Changes", "opt_out_offered"): promise(
        "{label}: an opt-out is {now} offered after a material change"
    ),
}

ITEM_CHECKS = {"Purpose": (_consent_needed,)}
