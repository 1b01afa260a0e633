"""Plain-language words for the declaration's terms, as the published policy uses them."""

from __future__ import annotations

from datetime import date

from ..durations import Duration

LEGAL_BASIS = {
    "consent": "your consent",
    "contract": "a contract with you (or steps before one)",
    "legal_obligation": "a legal obligation",
    "legitimate_interest": "our legitimate interests",
    "legitimate_use": "a legitimate use the law allows",
    "vital_interest": "protecting someone's vital interests",
    "public_task": "a task in the public interest",
}

JURISDICTION_NAMES = {"in-dpdp": "India", "eu-gdpr": "the EU", "us-ca-ccpa": "California"}

RIGHTS = {
    "access": ("Access", "See the personal data we hold about you and get a copy of it."),
    "correction": ("Correction", "Have inaccurate or out-of-date data corrected or updated."),
    "erasure": ("Erasure", "Have your data erased, except what the law requires us to keep."),
    "portability": ("Portability", "Receive your data in a machine-readable format."),
    "restriction": ("Restriction", "Ask us to limit how we use your data."),
    "objection": ("Objection", "Object to a use of your data based on our interests."),
    "opt_out_marketing": (
        "Opt out of marketing",
        "Stop marketing messages with one click; service messages continue.",
    ),
    "withdraw_consent": (
        "Withdraw consent",
        "Withdraw any consent you gave, as easily as you gave it.",
    ),
    "stop_tracking": ("Stop tracking", "Ask us to stop collecting data about your visits."),
    "nominate": ("Nominate", "Name someone to exercise your rights for you."),
    "grievance": ("Grievance", "Complain to our grievance officer and get an answer."),
}

CLOCK_EVENTS = {
    "collected": "when it is collected",
    "last_activity": "your last activity",
    "project_completed": "the project is completed",
    "contract_ended": "the contract ends",
    "account_closed": "the account is closed",
}

RETENTION_ACTIONS = {
    "delete": "deleted",
    "anonymize": "anonymised (no longer linked to you)",
    "isolate": "archived, readable only by authorised auditors",
}

RECIPIENT_KINDS = {
    "processor": "Service provider acting on our instructions",
    "group_entity": "Company in our group, on a need-to-know basis",
    "authority": "Courts and authorities, only when the law requires it",
    "acquirer": "Buyer of our business, if it is sold or merged",
    "public": "Published, only with your approval",
    "independent_controller": "Independent organisation",
}

TRANSFER_MECHANISMS = {
    "none_needed": "no safeguard needed",
    "adequacy": "an adequacy decision",
    "standard_contractual_clauses": "standard contractual clauses",
    "binding_corporate_rules": "binding corporate rules",
    "consent": "your explicit consent",
    "contract_necessity": "necessity for a contract with you",
    "dpdp_permitted": "a transfer the DPDP Act permits",
}

SOURCE_KINDS = {
    "form": "a form you fill in",
    "signup": "when you sign up",
    "event_registration": "when you register for an event",
    "support": "support conversations",
    "automatic": "collected automatically",
    "cookies": "cookies and similar technologies",
    "analytics": "analytics tools",
    "referral_partner": "from referral or reselling partners",
    "single_sign_on": "from a sign-in provider you choose",
    "public_social_media": "public social media",
    "client": "from our clients, on their instructions",
    "communication": "our communications with you",
    "other": "other sources",
}

PARENTAL_CONSENT = {
    "email_verification": "a verified email from the parent or guardian",
    "signed_form": "a form signed by the parent or guardian",
    "id_check": "a check of the parent's or guardian's identity",
}

COOKIE_CATEGORIES = {
    "essential": "Strictly necessary",
    "functional": "Functional",
    "analytics": "Analytics",
    "marketing": "Marketing",
    "third_party": "Third-party",
}


def long_date(value: date) -> str:
    return f"{value.day} {value.strftime('%B')} {value.year}"


def join(items: list[str], last: str = "and") -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {last} " + items[-1]


def cell(text: object) -> str:
    """Make text safe for one Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


REGIONS = {
    "EU": "the European Union",
    "EEA": "the European Economic Area",
    "WORLD": "any country",
    "AE": "the United Arab Emirates",
    "AU": "Australia",
    "BR": "Brazil",
    "CA": "Canada",
    "CH": "Switzerland",
    "DE": "Germany",
    "ES": "Spain",
    "FR": "France",
    "GB": "the United Kingdom",
    "IE": "Ireland",
    "IN": "India",
    "IT": "Italy",
    "JP": "Japan",
    "NL": "the Netherlands",
    "SE": "Sweden",
    "SG": "Singapore",
    "US": "the United States",
    "ZA": "South Africa",
}


def region(code: str) -> str:
    """A region's name for a reader, with its code (``IN`` -> "India (IN)")."""
    name = REGIONS.get(code)
    return f"{name} ({code})" if name and code not in ("EU", "EEA", "WORLD") else (name or code)


def every(duration: Duration) -> str:
    """``P1Y`` -> "every year", ``P6M`` -> "every 6 months"."""
    text = duration.words()
    return "every " + (text[2:] if text.startswith("1 ") and "," not in text else text)
