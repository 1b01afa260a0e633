"""The declaration: a company's privacy practice as data (``privacy.yaml``).

Every field here is documented in docs/declaration.md (a test keeps the two in step). Models are
frozen and use tuples, so a loaded declaration cannot be changed in place: a change is a new
version.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from .durations import Duration

# A key of the declaration (a purpose, a category, a staff role, ...); other parts of troth that
# accept a key from outside check it against the same pattern.
KEY_PATTERN = r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)*"
KEY_MAX_LENGTH = 200
Key = Annotated[
    str,
    StringConstraints(pattern=f"^{KEY_PATTERN}$", max_length=KEY_MAX_LENGTH),
]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Region = Annotated[str, StringConstraints(pattern=r"^([A-Z]{2}|EU|EEA|WORLD)$")]

LegalBasis = Literal[
    "consent",
    "contract",
    "legal_obligation",
    "legitimate_interest",
    "legitimate_use",
    "vital_interest",
    "public_task",
]
Jurisdiction = Literal["in-dpdp", "eu-gdpr", "us-ca-ccpa"]
RightKind = Literal[
    "access",
    "correction",
    "erasure",
    "portability",
    "restriction",
    "objection",
    "opt_out_marketing",
    "withdraw_consent",
    "stop_tracking",
    "nominate",
    "grievance",
]
BUILTIN_EVENTS = (
    "collected",
    "last_activity",
    "project_completed",
    "contract_ended",
    "account_closed",
)


class Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contact(Part):
    name: str | None = None
    title: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    url: str | None = None

    @model_validator(mode="after")
    def _reachable(self) -> Contact:
        if not (self.email or self.phone or self.address or self.url):
            raise ValueError("a contact needs at least one of email, phone, address or url")
        return self


class Organization(Part):
    name: str
    legal_name: str | None = None
    role: Literal["controller", "processor", "joint_controller"] = "controller"
    website: str | None = None
    address: str | None = None
    contact: Contact
    privacy_officer: Contact | None = None
    grievance_officer: Contact | None = None
    governing_law: str | None = None
    courts: str | None = None
    jurisdictions: tuple[Jurisdiction, ...] = ()
    never_sells: bool = True


class PolicyInfo(Part):
    version: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    effective_date: date
    summary: str | None = None
    language: str = "en"

    @field_validator("version", mode="before")
    @classmethod
    def _quoted(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, float):
            raise ValueError(f'write the version in quotes (e.g. "{value}") to keep it as text')
        return value


class DataSubject(Part):
    key: Key
    name: str
    description: str | None = None
    child: bool = False


class DataCategory(Part):
    key: Key
    name: str
    description: str | None = None
    sensitivity: Literal["low", "medium", "high", "special"] = "medium"
    identifier: Literal["direct", "quasi", "none"] = "none"
    technical: bool = False
    forbidden: bool = False
    on_forbidden: Literal["reject", "strip"] = "reject"
    reason: str | None = None


SourceKind = Literal[
    "form",
    "signup",
    "event_registration",
    "support",
    "automatic",
    "cookies",
    "analytics",
    "referral_partner",
    "single_sign_on",
    "public_social_media",
    "client",
    "communication",
    "other",
]


class Source(Part):
    key: Key
    name: str
    kind: SourceKind
    description: str | None = None
    categories: tuple[Key, ...]
    subjects: tuple[Key, ...] = ()


class Purpose(Part):
    key: Key
    name: str
    description: str | None = None
    data_use: Key
    legal_basis: LegalBasis
    legal_basis_by_jurisdiction: dict[Jurisdiction, LegalBasis] = Field(default_factory=dict)
    basis_note: str | None = None
    categories: tuple[Key, ...]
    subjects: tuple[Key, ...] = ()
    consent_required: bool | None = None
    opt_out: bool = False
    consent_expires_after: Duration | None = None
    anonymised_only: bool = False

    def basis_under(self, jurisdiction: str) -> str:
        """The legal basis relied on under one law (e.g. legitimate use in India, legitimate
        interest in the EU)."""
        return self.legal_basis_by_jurisdiction.get(jurisdiction, self.legal_basis)  # type: ignore[call-overload]

    @property
    def needs_consent(self) -> bool:
        if self.consent_required is not None:
            return self.consent_required
        return self.legal_basis == "consent"


RecipientKind = Literal[
    "processor",
    "group_entity",
    "authority",
    "acquirer",
    "public",
    "independent_controller",
]
TransferMechanism = Literal[
    "none_needed",
    "adequacy",
    "standard_contractual_clauses",
    "binding_corporate_rules",
    "consent",
    "contract_necessity",
    "dpdp_permitted",
]


class Recipient(Part):
    key: Key
    name: str
    kind: RecipientKind
    description: str | None = None
    categories: tuple[Key, ...] = ()
    purposes: tuple[Key, ...] = ()
    country: Country | None = None
    transfer_mechanism: TransferMechanism | None = None
    contract_date: date | None = None
    review_date: date | None = None
    sale: bool = False
    prior_notice: Duration | None = None


class RetentionScope(Part):
    categories: tuple[Key, ...] = ()
    purposes: tuple[Key, ...] = ()
    subjects: tuple[Key, ...] = ()

    @model_validator(mode="after")
    def _not_empty(self) -> RetentionScope:
        if not (self.categories or self.purposes or self.subjects):
            raise ValueError("say which data the rule covers: categories, purposes or subjects")
        return self


class RetentionRule(Part):
    key: Key
    name: str
    applies_to: RetentionScope
    period: Duration
    starts_at: Key = "collected"
    action: Literal["delete", "anonymize", "isolate"] = "delete"
    legal_basis: LegalBasis | None = None
    reason: str | None = None
    per_client_override: bool = False


class CustomEvent(Part):
    key: Key
    name: str
    description: str | None = None


class RightOffer(Part):
    right: RightKind
    acknowledge_within: Duration | None = None
    complete_within: Duration | None = None
    extension: Duration | None = None
    note: str | None = None


class Rights(Part):
    acknowledge_within: Duration = Duration(hours=72)
    complete_within: Duration = Duration(days=30)
    extension: Duration | None = None
    business_days: bool = False
    how_to: str | None = None
    request_url: str | None = None
    offered: tuple[RightOffer, ...]

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: object) -> object:
        # `offered: [access, erasure]` is shorthand for `[{right: access}, {right: erasure}]`.
        if isinstance(data, dict) and isinstance(data.get("offered"), list):
            data = dict(data)
            data["offered"] = [{"right": o} if isinstance(o, str) else o for o in data["offered"]]
        return data

    def offer(self, right: str) -> RightOffer | None:
        return next((o for o in self.offered if o.right == right), None)

    def complete_for(self, right: str) -> Duration:
        offer = self.offer(right)
        return (offer.complete_within if offer else None) or self.complete_within

    def acknowledge_for(self, right: str) -> Duration:
        offer = self.offer(right)
        return (offer.acknowledge_within if offer else None) or self.acknowledge_within


CookieCategoryKey = Literal["essential", "functional", "analytics", "marketing", "third_party"]


class CookieCategory(Part):
    key: CookieCategoryKey
    name: str
    description: str | None = None
    purposes: tuple[Key, ...] = ()


class Cookie(Part):
    name: str
    category: CookieCategoryKey
    provider: str
    purpose: str
    lifetime: Literal["session"] | Duration
    third_party: bool = False

    @property
    def lifetime_words(self) -> str:
        return "session" if self.lifetime == "session" else self.lifetime.words()


class Cookies(Part):
    honour_global_privacy_control: bool = True
    consent_expires_after: Duration | None = None
    categories: tuple[CookieCategory, ...] = ()
    cookies: tuple[Cookie, ...] = ()


class Children(Part):
    age_threshold: Annotated[int, Field(ge=1, le=21)]
    parental_consent_method: Literal["email_verification", "signed_form", "id_check"] | None = None
    consent_window: Duration = Duration(days=7)
    on_found_without_consent: Literal["delete", "isolate"] = "delete"
    notify_parent: bool = True


class TransferRoute(Part):
    region: Region
    mechanism: TransferMechanism


class Transfers(Part):
    home_region: Region
    allowed: tuple[TransferRoute, ...] = ()
    client_region_pinning: bool = False


class Security(Part):
    encryption_in_transit: bool = True
    encryption_at_rest: bool = True
    encrypted_backups: bool = False
    staff_mfa: bool = True
    audit_trail: bool = True
    audit_report_every: Duration | None = None
    measures: tuple[str, ...] = ()


class StaffRole(Part):
    """A group of staff (or contractors, or group entities) and what they may read, and why.

    A read of a subject's data names one of ``purposes``; it covers the categories that purpose
    uses, narrowed to ``categories`` when those are given (P22, need to know)."""

    key: Key
    name: str
    description: str | None = None
    purposes: Annotated[tuple[Key, ...], Field(min_length=1)]
    categories: tuple[Key, ...] = ()


class Incidents(Part):
    notify_authority_within: Duration | None = None
    notify_subjects: bool = True
    authority: str | None = None


class Changes(Part):
    notify_by: tuple[Literal["email", "site", "banner"], ...] = ("site",)
    notice_before: Duration | None = None
    fresh_consent_on_material_change: bool = False
    opt_out_offered: bool = False


class Declaration(Part):
    troth: Literal[1] = 1
    policy: PolicyInfo
    organization: Organization
    subjects: tuple[DataSubject, ...]
    categories: tuple[DataCategory, ...]
    sources: tuple[Source, ...] = ()
    purposes: tuple[Purpose, ...]
    recipients: tuple[Recipient, ...] = ()
    events: tuple[CustomEvent, ...] = ()
    retention: tuple[RetentionRule, ...] = ()
    rights: Rights
    cookies: Cookies | None = None
    children: Children | None = None
    transfers: Transfers | None = None
    security: Security = Security()
    staff_roles: tuple[StaffRole, ...] = ()
    incidents: Incidents = Incidents()
    changes: Changes = Changes()
