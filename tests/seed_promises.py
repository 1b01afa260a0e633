"""Each seed's promises, as facts about its example's loaded policy (seed, P-number, words)."""

from __future__ import annotations

from datetime import date

from promise_facts import (
    Promise,
    cookie_choices_need_consent,
    disclosed_to_authorities_by_law,
    kinds,
    legal_record,
    marketing_can_be_refused,
    never_sells,
    non_essential_needs_consent,
    offered,
    optional_uses_can_be_refused,
    purpose,
    rule,
    technical,
    using,
)

from troth.declaration import Duration
from troth.declaration.taxonomy import is_under

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
