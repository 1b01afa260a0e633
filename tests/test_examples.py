"""The example declarations: each loads, each seed example keeps the promises its seed makes,
and the rendered policy of every example shows those promises.

Seed examples are the four real policies in /work/shared/seeds/ written as declarations
(docs/examples.md maps each promise to the part that carries it). New examples under examples/
are picked up by the globs below.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import pytest
from support import ROOT

from troth.declaration import DeclarationError, Duration, Policy, load_policy, read_declaration
from troth.declaration.model import Purpose, RetentionRule
from troth.declaration.render import render_html, render_markdown
from troth.declaration.taxonomy import is_under

EXAMPLES = ROOT / "examples"
DECLARATIONS = sorted({*EXAMPLES.glob("**/privacy.yaml"), *EXAMPLES.glob("**/history/*.yaml")})
CURRENT = sorted(EXAMPLES.glob("**/privacy.yaml"))
SEEDS = {
    "000": EXAMPLES / "seed-000-space-o" / "privacy.yaml",
    "001": EXAMPLES / "seed-001-space-o-2017" / "privacy.yaml",
    "002": EXAMPLES / "seed-002-ospyn" / "privacy.yaml",
    "003": EXAMPLES / "seed-003-spera-digital" / "privacy.yaml",
}
SEED_FILES = {
    "000": "000_6abedc92da246f0b.txt",
    "001": "001_29b361748c5558e1.txt",
    "002": "002_5d953c655fc032a0.txt",
    "003": "003_7430b612c1ad7840.txt",
}


def name(path: Path) -> str:
    return str(path.relative_to(EXAMPLES))


@cache
def policy(path: Path) -> Policy:
    return load_policy(path)


# -- (a) every example loads ---------------------------------------------------------------


def test_the_globs_find_every_seed_example_and_kestrel() -> None:
    assert set(SEEDS.values()) <= set(CURRENT)
    assert EXAMPLES / "kestrel" / "privacy.yaml" in CURRENT


@pytest.mark.parametrize("path", DECLARATIONS, ids=name)
def test_example_loads_without_errors(path: Path) -> None:
    loaded, problems = read_declaration(path.read_text(encoding="utf-8"), name(path))
    assert [str(p) for p in problems if p.severity == "error"] == []
    assert loaded is not None
    assert loaded.organization_name


# Each seed example keeps only the warnings that reflect a real weakness of its seed (the header
# comment of the file lists them). A new warning means the example or the checker changed:
# decide whether it is another weakness of the seed, or something to fix in the example.
WEAKNESSES = {
    "000": (
        "no privacy_officer or grievance_officer",
        "governing_law is not stated",
        "expects a named grievance officer",
        "'Independent vendors who work on part of your project' has no contract_date",
        "'Google Analytics (Google LLC)' has no contract_date",
        "declare prior_notice",
        "the right 'access'",
        "the right 'correction'",
        "the right 'grievance'",
        "the right 'nominate'",
    ),
    "001": (
        "a breach must be reported",
        "no privacy_officer or grievance_officer",
        "governing_law is not stated",
        "expects a named grievance officer",
        "purpose 'usage_analysis' rests on legitimate interest; people may object",
        "purpose 'usage_analysis': the DPDP Act has no 'legitimate interest' basis",
        "purpose 'company_news': the DPDP Act has no 'legitimate interest' basis",
        "the right 'access'",
        "the right 'correction'",
        "the right 'erasure'",
        "the right 'grievance'",
        "the right 'nominate'",
    ),
    "002": (
        "a breach must be reported",
        "governing_law is not stated",
        "expects a named grievance officer",
        "'Developers and contractors working for Ospyn' has no contract_date",
        "'Service providers (hosting, email delivery and payment gateway)' has no contract_date",
        "the right 'access'",
        "the right 'grievance'",
        "the right 'nominate'",
    ),
    "003": (
        "a breach must be reported",
        "no privacy_officer or grievance_officer",
        "expects a named grievance officer",
        "'Trusted third-party service providers' has no contract_date",
        "the right 'grievance'",
        "the right 'nominate'",
    ),
}


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_seed_example_warns_only_about_the_seeds_weaknesses(seed: str) -> None:
    path = SEEDS[seed]
    _, problems = read_declaration(path.read_text(encoding="utf-8"), name(path))
    warnings = [p.message for p in problems if p.severity == "warning"]
    unexplained = [w for w in warnings if not any(known in w for known in WEAKNESSES[seed])]
    assert unexplained == []
    gone = [known for known in WEAKNESSES[seed] if not any(known in w for w in warnings)]
    assert gone == [], "fixed in the example: update WEAKNESSES and the file's header comment"


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_seed_example_header_names_seed_file_and_company(seed: str) -> None:
    text = SEEDS[seed].read_text(encoding="utf-8")
    header = "\n".join(line for line in text.splitlines()[:8] if line.startswith("#"))
    assert SEED_FILES[seed] in header
    assert policy(SEEDS[seed]).organization_name in header


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_every_section_of_a_seed_example_names_its_promise(seed: str) -> None:
    lines = SEEDS[seed].read_text(encoding="utf-8").splitlines()
    unlabelled = []
    for index, line in enumerate(lines):
        match = re.match(r"^([a-z_]+):", line)
        if not match or match.group(1) == "troth":
            continue
        start = index
        while start > 0 and lines[start - 1].startswith("#"):
            start -= 1
        if not re.search(r"\bP\d+\b", "\n".join(lines[start : index + 1])):
            unlabelled.append(match.group(1))
    assert unlabelled == []


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_seed_example_collects_nothing_without_a_purpose(seed: str) -> None:
    # P2: "we collect only the information that we need" — every collected category is used.
    d = policy(SEEDS[seed]).declaration
    used = {c for p in d.purposes for c in p.categories}
    collected = {c for s in d.sources for c in s.categories}
    assert collected - used == set()
    assert {c.key for c in d.categories if not c.forbidden} - used == set()


# -- (b) each seed's promises, as facts about the loaded policy ----------------------------


@dataclass(frozen=True)
class Promise:
    seed: str
    number: str
    says: str  # a few words of the seed
    holds: Callable[[Policy], bool]

    def __str__(self) -> str:
        return f"{self.seed}-{self.number}-{re.sub(r'[^a-z0-9]+', '-', self.says.lower())}"


def purpose(p: Policy, key: str) -> Purpose:
    return p.purposes[key]


def rule(p: Policy, key: str) -> RetentionRule:
    return p.retention_rules[key]


def offered(p: Policy) -> set[str]:
    return {o.right for o in p.declaration.rights.offered}


def kinds(p: Policy, section: str) -> set[str]:
    return {item.kind for item in getattr(p.declaration, section)}


def using(p: Policy, category: str) -> set[str]:
    return {pu.key for pu in p.declaration.purposes if category in pu.categories}


def technical(p: Policy, *keys: str) -> bool:
    return all(p.categories[k].technical for k in keys)


def never_sells(p: Policy) -> bool:
    d = p.declaration
    return (
        d.organization.never_sells
        and not any(r.sale for r in d.recipients)
        and not any(is_under(pu.data_use, "marketing.advertising.third_party") for pu in d.purposes)
    )


def disclosed_to_authorities_by_law(p: Policy) -> bool:
    return any(
        r.kind == "authority"
        and any(p.purposes[k].legal_basis == "legal_obligation" for k in r.purposes)
        for r in p.declaration.recipients
    )


def marketing_can_be_refused(p: Policy) -> bool:
    marketing = [pu for pu in p.declaration.purposes if is_under(pu.data_use, "marketing")]
    return bool(marketing) and all(pu.opt_out for pu in marketing)


def non_essential_needs_consent(p: Policy) -> bool:
    roots = ("marketing", "analytics", "personalize", "functional")
    return all(
        pu.needs_consent
        for pu in p.declaration.purposes
        if any(is_under(pu.data_use, root) for root in roots)
    )


def optional_uses_can_be_refused(p: Policy) -> bool:
    roots = ("marketing", "analytics", "personalize", "functional", "sales")
    return all(
        pu.needs_consent or pu.opt_out
        for pu in p.declaration.purposes
        if any(is_under(pu.data_use, root) for root in roots)
    )


def cookie_choices_need_consent(p: Policy) -> bool:
    cookies = p.declaration.cookies
    assert cookies is not None
    optional = [c for c in cookies.categories if c.key != "essential"]
    return (
        cookies.honour_global_privacy_control
        and bool(optional)
        and all(p.purposes[k].needs_consent for c in optional for k in c.purposes)
    )


def legal_record(p: Policy, key: str) -> bool:
    r = rule(p, key)
    return r.legal_basis == "legal_obligation" and r.period >= Duration(years=7)


PROMISES = [
    # Seed 000: Space-O Technologies, the long policy.
    Promise("000", "P21", "never sold your information", never_sells),
    Promise(
        "000",
        "P24",
        "selling our business to a new buyer",
        lambda p: any(r.kind == "acquirer" and not r.sale for r in p.declaration.recipients),
    ),
    Promise("000", "P24", "government, in a court of law", disclosed_to_authorities_by_law),
    Promise(
        "000",
        "P9",
        "portfolios or case studies, with your consent",
        lambda p: (
            purpose(p, "portfolio").needs_consent
            and purpose(p, "portfolio").opt_out
            and "user.content.public" in purpose(p, "portfolio").categories
            and all(
                p.purposes[k].needs_consent
                for r in p.declaration.recipients
                if r.kind == "public"
                for k in r.purposes
            )
        ),
    ),
    Promise(
        "000",
        "P22",
        "group entities ... need-to-know basis",
        lambda p: (
            p.recipients["group_entities"].kind == "group_entity"
            and bool(p.recipients["group_entities"].categories)
            and bool(p.recipients["group_entities"].purposes)
        ),
    ),
    Promise(
        "000",
        "P23",
        "an independent vendor ... Google Analytics",
        lambda p: (
            p.recipients["vendors"].kind == "processor"
            and p.recipients["google_analytics"].kind == "processor"
            and p.recipients["google_analytics"].country == "US"
        ),
    ),
    Promise(
        "000",
        "P30",
        "via Google Analytics",
        lambda p: (
            p.declaration.transfers is not None
            and p.declaration.transfers.home_region == "IN"
            and p.recipients["google_analytics"].transfer_mechanism == "dpdp_permitted"
            and any(route.region == "US" for route in p.declaration.transfers.allowed)
        ),
    ),
    Promise(
        "000",
        "P1",
        "if a third party provides it to us",
        lambda p: (
            {"communication", "form", "signup", "automatic", "analytics", "other"}
            <= kinds(p, "sources")
        ),
    ),
    Promise(
        "000",
        "P4",
        "browser ... device ... Internet providers",
        lambda p: technical(
            p, "user.device.ip_address", "user.device.device_id", "user.device.internet_provider"
        ),
    ),
    Promise("000", "P2", "without your consent in the matter", non_essential_needs_consent),
    Promise(
        "000",
        "P7",
        "Session cookies ... Permanent cookies",
        lambda p: (
            cookie_choices_need_consent(p)
            and any(c.lifetime == "session" for c in p.declaration.cookies.cookies)
            and any(c.lifetime != "session" for c in p.declaration.cookies.cookies)
        ),
    ),
    Promise(
        "000",
        "P12",
        "delete all records of it",
        lambda p: "erasure" in offered(p) and legal_record(p, "financial_records"),
    ),
    Promise("000", "P13", "stop tracking your data", lambda p: "stop_tracking" in offered(p)),
    Promise(
        "000",
        "P17",
        "website user ... only for a short period",
        lambda p: (
            rule(p, "website_visitors").period <= Duration(days=90)
            and {"usage_analytics", "personalisation"}
            <= set(rule(p, "website_visitors").applies_to.purposes)
        ),
    ),
    Promise(
        "000",
        "P18",
        "backed up ... in a secured environment",
        lambda p: (
            rule(p, "project_archive").starts_at == "contract_ended"
            and rule(p, "project_archive").action == "isolate"
            and rule(p, "project_archive_deletion").action == "delete"
            and rule(p, "project_archive_deletion").period > rule(p, "project_archive").period
        ),
    ),
    Promise(
        "000",
        "P17",
        "future financial and legal purposes",
        lambda p: (
            legal_record(p, "financial_records")
            and rule(p, "financial_records").starts_at == "financial_year_closed"
        ),
    ),
    Promise(
        "000",
        "P28",
        "breach ... utmost seriousness",
        lambda p: (
            p.declaration.incidents.notify_authority_within is not None
            and p.declaration.incidents.notify_authority_within <= Duration(hours=72)
            and p.declaration.incidents.notify_subjects
        ),
    ),
    Promise(
        "000",
        "P26",
        "strong layers of security",
        lambda p: (
            p.declaration.security.encryption_at_rest and p.declaration.security.encrypted_backups
        ),
    ),
    Promise(
        "000",
        "P31",
        "last date of updation",
        lambda p: "site" in p.declaration.changes.notify_by,
    ),
    # Seed 001: Space-O Technologies, archived 2017-02-22.
    Promise(
        "001",
        "P4",
        "web servers collect and track your IP",
        lambda p: (
            technical(p, "user.device.ip_address")
            and any(
                s.kind == "automatic" and "user.device.ip_address" in s.categories
                for s in p.declaration.sources
            )
        ),
    ),
    Promise(
        "001",
        "P25",
        "do not use IP addresses ... to trace",
        lambda p: (
            using(p, "user.device.ip_address") == {"usage_analysis"}
            and purpose(p, "usage_analysis").anonymised_only
        ),
    ),
    Promise(
        "001",
        "P2",
        "used only by us to respond",
        lambda p: using(p, "user.name") == {"answer_inquiries", "process_orders", "company_news"},
    ),
    Promise(
        "001",
        "P6",
        "unsubscribe receiving future mailings",
        lambda p: marketing_can_be_refused(p) and "opt_out_marketing" in offered(p),
    ),
    Promise(
        "001",
        "P21",
        "used only by us",
        lambda p: never_sells(p) and p.declaration.recipients == (),
    ),
    Promise(
        "001",
        "P1",
        "solely by your own choice",
        lambda p: kinds(p, "sources") == {"automatic", "form"},
    ),
    Promise(
        "001",
        "P31",
        "archived on 2017-02-22",
        lambda p: p.effective_date == date(2017, 2, 22),
    ),
    # Seed 002: Ospyn Technologies.
    Promise(
        "002",
        "P3",
        "we don't store credit card numbers",
        lambda p: (
            p.categories["user.financial.credit_card"].forbidden
            and not using(p, "user.financial.credit_card")
            and not any(
                "user.financial.credit_card" in item.categories
                for item in (*p.declaration.sources, *p.declaration.recipients)
            )
        ),
    ),
    Promise("002", "P6", "by opting out later", marketing_can_be_refused),
    Promise(
        "002",
        "P6",
        "communicate with you about the products you're currently using",
        lambda p: (
            is_under(purpose(p, "service_messages").data_use, "essential")
            and not purpose(p, "service_messages").needs_consent
        ),
    ),
    Promise(
        "002",
        "P7",
        "completely disable third-party cookies",
        lambda p: (
            cookie_choices_need_consent(p)
            and bool(p.declaration.cookies.cookies)
            and not any(c.third_party for c in p.declaration.cookies.cookies)
            and "third_party" not in {c.category for c in p.declaration.cookies.cookies}
            and "third_party" not in {c.key for c in p.declaration.cookies.categories}
        ),
    ),
    Promise(
        "002",
        "P19",
        "After you terminate your account ... deleted",
        lambda p: any(
            r.starts_at == "account_closed"
            and r.action == "delete"
            and {"provide_services", "service_data"} <= set(r.applies_to.purposes)
            for r in p.declaration.retention
        ),
    ),
    Promise(
        "002",
        "P18",
        "delete, anonymize, or isolate",
        lambda p: {r.action for r in p.declaration.retention} == {"delete", "anonymize", "isolate"},
    ),
    Promise(
        "002",
        "P12",
        "isolate ... whichever is appropriate",
        lambda p: (
            rule(p, "closed_account_invoices").action == "isolate"
            and rule(p, "closed_account_invoices").legal_basis == "legal_obligation"
            and legal_record(p, "financial_records")
        ),
    ),
    Promise(
        "002",
        "P9",
        "review and approve the testimonial",
        lambda p: (
            purpose(p, "testimonials").needs_consent
            and purpose(p, "testimonials").opt_out
            and "user.content.public" in purpose(p, "testimonials").categories
        ),
    ),
    Promise(
        "002",
        "P16",
        "contact us at marcom@ospyn.com",
        lambda p: (
            p.declaration.organization.privacy_officer is not None
            and p.declaration.organization.privacy_officer.email == "marcom@ospyn.com"
        ),
    ),
    Promise(
        "002",
        "P33",
        "Ospyn is your data controller",
        lambda p: (
            p.declaration.organization.role == "controller"
            and "Ospyn Technologies" in (p.declaration.organization.legal_name or "")
        ),
    ),
    Promise(
        "002",
        "P1",
        "referral programs ... LinkedIn or Google ... social media",
        lambda p: (
            {
                "signup",
                "form",
                "event_registration",
                "support",
                "automatic",
                "analytics",
                "referral_partner",
                "single_sign_on",
                "public_social_media",
            }
            <= kinds(p, "sources")
        ),
    ),
    Promise(
        "002",
        "P4",
        "internet protocol address, browser type ... mobile network",
        lambda p: technical(
            p,
            "user.device.ip_address",
            "user.device.device_id",
            "user.device.network",
            "user.behavior.browsing_history",
            "user.telemetry",
        ),
    ),
    Promise(
        "002",
        "P22",
        "employees and contractors who have a legitimate need",
        lambda p: p.recipients["contractors"].kind == "processor",
    ),
    Promise(
        "002",
        "P23",
        "developers, service providers, domain registrars, and reselling partners",
        lambda p: (
            {"contractors", "service_providers", "domain_registrars", "reselling_partners"}
            <= set(p.recipients)
        ),
    ),
    Promise(
        "002",
        "P24",
        "comply with a legal obligation, prevent fraud",
        lambda p: (
            disclosed_to_authorities_by_law(p)
            and "account_security" in p.recipients["authorities"].purposes
        ),
    ),
    Promise("002", "P21", "never sell your information for advertising", never_sells),
    Promise(
        "002",
        "P5",
        "by not providing the information in the first place",
        lambda p: (
            "withdraw_consent" in offered(p)
            and any(pu.needs_consent for pu in p.declaration.purposes)
        ),
    ),
    Promise("002", "P2", "decline certain kinds of information use", optional_uses_can_be_refused),
    # Seed 003: Spera Digital.
    Promise(
        "003",
        "P33",
        "governed by the laws of India",
        lambda p: "India" in (p.declaration.organization.governing_law or ""),
    ),
    Promise(
        "003",
        "P33",
        "exclusively in the courts of Kolkata",
        lambda p: "Kolkata" in (p.declaration.organization.courts or ""),
    ),
    Promise(
        "003",
        "P10",
        "the right to access, correct, or delete",
        lambda p: {"access", "correction", "erasure"} <= offered(p),
    ),
    Promise(
        "003",
        "P6",
        "opt-out of receiving promotional communications",
        lambda p: (
            marketing_can_be_refused(p)
            and "opt_out_marketing" in offered(p)
            and not purpose(p, "service_notices").needs_consent
        ),
    ),
    Promise(
        "003",
        "P17",
        "or as otherwise agreed upon",
        lambda p: (
            rule(p, "client_data").per_client_override
            and rule(p, "client_data").starts_at == "contract_ended"
            and rule(p, "client_data").applies_to.purposes == ("client_services",)
        ),
    ),
    Promise(
        "003",
        "P17",
        "longer retention period is required",
        lambda p: legal_record(p, "financial_records"),
    ),
    Promise(
        "003",
        "P26",
        "This includes encryption",
        lambda p: (
            p.declaration.security.encryption_in_transit
            and p.declaration.security.encryption_at_rest
        ),
    ),
    Promise(
        "003",
        "P27",
        "access controls ... regular security audits",
        lambda p: (
            p.declaration.security.staff_mfa
            and p.declaration.security.audit_trail
            and p.declaration.security.audit_report_every is not None
            and p.declaration.security.audit_report_every <= Duration(years=1)
        ),
    ),
    Promise(
        "003",
        "P22",
        "restricted to authorized personnel",
        lambda p: any("authorised personnel" in m for m in p.declaration.security.measures),
    ),
    Promise("003", "P21", "do not sell, rent, or trade", never_sells),
    Promise(
        "003",
        "P23",
        "trusted third-party service providers",
        lambda p: p.recipients["service_providers"].kind == "processor",
    ),
    Promise("003", "P24", "when required by law", disclosed_to_authorities_by_law),
    Promise(
        "003",
        "P4",
        "IP addresses, device identifiers, browser types",
        lambda p: technical(
            p,
            "user.device.ip_address",
            "user.device.device_id",
            "user.behavior.browsing_history",
        ),
    ),
    Promise(
        "003",
        "P1",
        "data provided by our clients",
        lambda p: any(
            s.kind == "client" and s.subjects == ("customer.client_end_user",)
            for s in p.declaration.sources
        ),
    ),
    Promise("003", "P2", "How We Use Information", non_essential_needs_consent),
    Promise(
        "003",
        "P31",
        "updates will be posted on our website",
        lambda p: "site" in p.declaration.changes.notify_by,
    ),
]


@pytest.mark.parametrize("promise", PROMISES, ids=str)
def test_seed_example_keeps_its_seeds_promise(promise: Promise) -> None:
    assert promise.holds(policy(SEEDS[promise.seed])), f"{promise.number}: {promise.says}"


def test_every_seed_has_promises_in_the_table() -> None:
    assert {p.seed for p in PROMISES} == set(SEEDS)


# -- (c) the rendered policy shows the promises --------------------------------------------


def _words_in_order(key: str) -> re.Pattern[str]:
    # The right's key with underscores as spaces; one short word may sit between two of its
    # words, since the policy reads "Opt out of marketing" for opt_out_marketing.
    words = key.split("_")
    return re.compile(r"\b" + r"\W+(?:\w{1,4}\W+)?".join(map(re.escape, words)) + r"\b", re.I)


def _near_child(age: int) -> re.Pattern[str]:
    # The age threshold as a number, on a line that speaks of children.
    return re.compile(rf"child.*\b{age}\b|\b{age}\b.*child", re.I)


def facts(p: Policy) -> dict[str, list[str | re.Pattern[str]]]:
    """What the rendered policy must show, by kind; kinds with nothing to show are left out."""
    d = p.declaration
    org = d.organization
    found: dict[str, list[str | re.Pattern[str]]] = {
        "organization": [org.name],
        "version": [p.version, "Last updated"],
        "purposes": [pu.name for pu in d.purposes],
        "recipients": [r.name for r in d.recipients],
        "retention": [r.name for r in d.retention],
        "cookies": [c.name for c in d.cookies.cookies] if d.cookies else [],
        "rights": [_words_in_order(o.right) for o in d.rights.offered],
        "law": [text for text in (org.governing_law, org.courts) if text],
        "contacts": [
            person.email
            for person in (org.privacy_officer, org.grievance_officer)
            if person and person.email
        ],
        "never_sells": [re.compile(r"never sell", re.I)] if org.never_sells else [],
        "forbidden": [c.name for c in d.categories if c.forbidden],
        "children": [_near_child(d.children.age_threshold)] if d.children else [],
    }
    return {kind: needles for kind, needles in found.items() if needles}


def _facts_or_none(path: Path) -> dict[str, list[str | re.Pattern[str]]]:
    try:
        return facts(policy(path))
    except DeclarationError:
        return {}  # test_example_loads_without_errors reports it


RENDER_CASES = [
    pytest.param(path, kind, id=f"{path.parent.name}-{kind}")
    for path in CURRENT
    for kind in _facts_or_none(path)
]


def _missing(text: str, needles: list[str | re.Pattern[str]]) -> list[str]:
    lines = text.splitlines()
    missing = []
    for needle in needles:
        if isinstance(needle, re.Pattern):
            if not any(needle.search(line) for line in lines):
                missing.append(needle.pattern)
        elif needle not in text:
            missing.append(needle)
    return missing


def _html_text(document: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", document))


def _retention_rows(p: Policy, rows: list[str]) -> list[str]:
    """Rules whose name and period in words do not appear together in one table row."""
    return [
        f"{r.name}: {r.period.words()}"
        for r in p.declaration.retention
        if not any(r.name in row and r.period.words() in row for row in rows)
    ]


@pytest.mark.parametrize(("path", "kind"), RENDER_CASES)
def test_markdown_shows_promise(path: Path, kind: str) -> None:
    p = policy(path)
    text = render_markdown(p)
    assert _missing(text, facts(p)[kind]) == []
    if kind == "retention":
        table_lines = [line for line in text.splitlines() if line.startswith("|")]
        assert _retention_rows(p, table_lines) == []


@pytest.mark.parametrize(("path", "kind"), RENDER_CASES)
def test_html_shows_promise(path: Path, kind: str) -> None:
    p = policy(path)
    document = render_html(p)
    text = _html_text(document)
    assert _missing(text, facts(p)[kind]) == []
    if kind == "retention":
        rows = [_html_text(row) for row in re.findall(r"<tr>.*?</tr>", document, re.S)]
        assert _retention_rows(p, rows) == []
