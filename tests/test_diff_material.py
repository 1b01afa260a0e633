"""`troth diff`: one case per material rule (what widens processing or weakens a promise)."""

from __future__ import annotations

import pytest
from diff_support import Case, Edit, cookie, diff, set_offer
from support import item

WEBINARS = {
    "key": "webinars",
    "name": "Invite you to our webinars",
    "data_use": "marketing.communications.email",
    "legal_basis": "consent",
    "categories": ["user.name", "user.contact.email"],
    "subjects": ["prospect"],
}

IP_ARCHIVE = {
    "key": "ip_archive",
    "name": "IP address archive",
    "applies_to": {"categories": ["user.device.ip_address"]},
    "period": "P5Y",
}

MATERIAL: dict[str, Case] = {
    "new purpose": (
        None,
        lambda d: d["purposes"].append(WEBINARS),
        ["New purpose: Invite you to our webinars (webinars), legal basis consent"],
    ),
    "new category": (
        None,
        lambda d: d["categories"].append({"key": "user.location", "name": "Location"}),
        ["New data category: Location (user.location)"],
    ),
    "new recipient": (
        None,
        lambda d: d["recipients"].append(
            {"key": "hubspot", "name": "HubSpot", "kind": "processor", "country": "US"}
        ),
        ["New recipient: HubSpot (hubspot), in US"],
    ),
    "longer retention": (
        None,
        lambda d: item(d, "retention", "financial_records").update(period="P10Y"),
        ["Retention of Financial records lengthened from 7 years to 10 years"],
    ),
    "right removed": (
        None,
        lambda d: d["rights"]["offered"].remove("portability"),
        ["Right 'portability' is no longer offered"],
    ),
    "right slower to complete": (
        None,
        lambda d: set_offer(d, "erasure", complete_within="P45D"),
        ["Erasure requests: answer time slowed from 30 days to 45 days"],
    ),
    "rights slower to acknowledge": (
        None,
        lambda d: d["rights"].update(acknowledge_within="P5D"),
        ["Rights requests: acknowledgement time slowed from 72 hours to 5 days"],
    ),
    "right gains a longer extension": (
        lambda d: set_offer(d, "access", extension="P30D"),
        lambda d: set_offer(d, "access", extension="P60D"),
        ["Access requests: extension lengthened from 30 days to 60 days"],
    ),
    "new transfer region": (
        None,
        lambda d: d["transfers"]["allowed"].append({"region": "SG", "mechanism": "consent"}),
        ["Transfers to SG now allowed, under consent"],
    ),
    "lower child age": (
        None,
        lambda d: d["children"].update(age_threshold=13),
        ["Children: age threshold lowered from 18 to 13"],
    ),
    "purpose gains a category": (
        None,
        lambda d: item(d, "purposes", "newsletter")["categories"].append("user.job_title"),
        ["Purpose Send news about our services, events and offers now uses Job title"],
    ),
    "purpose gains subjects": (
        None,
        lambda d: item(d, "purposes", "security")["subjects"].append("job_applicant"),
        ["Purpose Keep our services secure and prevent fraud now covers Job applicants"],
    ),
    "purpose changes legal basis": (
        None,
        lambda d: item(d, "purposes", "billing").update(legal_basis="contract"),
        [
            "Purpose Invoice and collect payment: legal basis changed from legal obligation to "
            "contract"
        ],
    ),
    "purpose changes legal basis under one law": (
        None,
        lambda d: item(d, "purposes", "security").update(legal_basis_by_jurisdiction={}),
        [
            "Purpose Keep our services secure and prevent fraud: legal basis under the GDPR "
            "changed from legitimate interest to legitimate use"
        ],
    ),
    "recipient gains a category": (
        None,
        lambda d: item(d, "recipients", "postmark")["categories"].append(
            "user.contact.phone_number"
        ),
        ["Recipient Postmark now receives Phone number"],
    ),
    "recipient gains a purpose": (
        None,
        lambda d: item(d, "recipients", "postmark")["purposes"].append("answer_inquiries"),
        ["Recipient Postmark now receives data for Answer your enquiries"],
    ),
    "recipient moves country": (
        None,
        lambda d: item(d, "recipients", "postmark").update(country="IE"),
        ["Recipient Postmark: country changed from US to IE"],
    ),
    "recipient loses its transfer mechanism": (
        None,
        lambda d: item(d, "recipients", "postmark").pop("transfer_mechanism"),
        ["Recipient Postmark: transfer mechanism removed (was standard contractual clauses)"],
    ),
    "recipient buys data": (
        None,
        lambda d: item(d, "recipients", "acquirer").update(sale=True),
        ["Recipient A buyer of our business now buys personal data"],
    ),
    "new source": (
        None,
        lambda d: d["sources"].append(
            {
                "key": "trade_fairs",
                "name": "Trade fair badge scans",
                "kind": "other",
                "categories": ["user.name"],
            }
        ),
        ["New source: Trade fair badge scans (trade_fairs)"],
    ),
    "category no longer forbidden": (
        None,
        lambda d: item(d, "categories", "user.financial.credit_card").update(forbidden=False),
        ["Data category Payment card numbers is no longer forbidden"],
    ),
    "never sells turns false": (
        None,
        lambda d: d["organization"].update(never_sells=False),
        ["Kestrel Software no longer promises never to sell personal data"],
    ),
    "new cookie outside essential": (
        None,
        lambda d: d["cookies"]["cookies"].append(
            {
                "name": "_ga",
                "category": "analytics",
                "provider": "Google",
                "purpose": "Counts visits",
                "lifetime": "P2Y",
            }
        ),
        ["New cookie: _ga (analytics, set by Google, lasts 2 years)"],
    ),
    "longer cookie lifetime": (
        None,
        lambda d: cookie(d, "pm_track").update(lifetime="P1Y"),
        ["Cookie pm_track: lifetime lengthened from 30 days to 1 year"],
    ),
    "cookie becomes essential": (
        None,
        lambda d: cookie(d, "plausible_id").update(category="essential"),
        [
            "Cookie plausible_id moved from analytics to essential cookies (set without asking "
            "for consent)"
        ],
    ),
    "purpose no longer needs consent": (
        lambda d: item(d, "purposes", "security").update(consent_required=True),
        lambda d: None,
        ["Purpose Keep our services secure and prevent fraud no longer needs people's consent"],
    ),
    "GPC no longer honoured": (
        None,
        lambda d: d["cookies"].update(honour_global_privacy_control=False),
        ["Cookies: Global Privacy Control signals are no longer honoured"],
    ),
    "parental consent method removed": (
        None,
        lambda d: d["children"].pop("parental_consent_method"),
        ["Children: parental consent method removed (was email verification)"],
    ),
    "children rules removed": (
        None,
        lambda d: d.pop("children"),
        ["Rules for children's data removed (age threshold, parental consent)"],
    ),
    "weaker retention action": (
        None,
        lambda d: item(d, "retention", "inquiries").update(action="isolate"),
        [
            "Retention rule Enquiries that did not become projects: action at expiry changed from "
            "delete to isolate"
        ],
    ),
    "retention rule widened so data is kept longer": (
        None,
        lambda d: item(d, "retention", "financial_records")["applies_to"].update(
            categories=["user.device.ip_address"]
        ),
        ["Retention rule Financial records now also applies to IP address"],
    ),
    "new retention rule keeps data longer": (
        None,
        lambda d: d["retention"].append(IP_ARCHIVE),
        ["New retention rule: IP address archive (ip_archive), kept 5 years"],
    ),
    "new data subject": (
        None,
        lambda d: d["subjects"].append({"key": "supplier", "name": "Suppliers"}),
        ["New data subject: Suppliers (supplier)"],
    ),
    "jurisdiction dropped": (
        None,
        lambda d: d["organization"].update(jurisdictions=["in-dpdp", "eu-gdpr"]),
        ["Kestrel Software no longer follows the CCPA"],
    ),
    "security promise dropped": (
        None,
        lambda d: d["security"].update(staff_mfa=False),
        ["Security: staff no longer need a second factor to sign in"],
    ),
    "security measure dropped": (
        None,
        lambda d: d["security"]["measures"].pop(),
        [
            "Security: measure no longer stated: 'Staff see personal data only for a stated "
            "purpose, and every read is logged.'"
        ],
    ),
    "change notices no longer by email": (
        None,
        lambda d: d["changes"].update(notify_by=["site"]),
        ["Policy changes: people are no longer told by email"],
    ),
}


@pytest.mark.parametrize(("old_edit", "new_edit", "expected"), MATERIAL.values(), ids=MATERIAL)
def test_material_rule(old_edit: Edit | None, new_edit: Edit, expected: list[str]) -> None:
    assert diff(old_edit, new_edit) == [("material", message) for message in expected]
