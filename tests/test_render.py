"""The published policy is generated entirely from the declaration, in Markdown and HTML."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from support import KESTREL, dump, item, kestrel_data, read

from troth.declaration import load_policy
from troth.declaration.render import render, render_html, render_html_fragment, render_markdown


@pytest.fixture(scope="module")
def kestrel_md() -> str:
    return render_markdown(load_policy(KESTREL))


def table_line(markdown: str, *needles: str) -> str:
    """The one Markdown table row containing every needle."""
    rows = [
        line
        for line in markdown.splitlines()
        if line.startswith("|") and all(n in line for n in needles)
    ]
    assert len(rows) == 1, (needles, rows)
    return rows[0]


def test_sections_in_reading_order(kestrel_md: str) -> None:
    headings = re.findall(r"^## (.+)$", kestrel_md, flags=re.M)
    assert headings == [
        "Who we are",
        "What we collect and where it comes from",
        "Why we use it and on what legal basis",
        "Who receives it",
        "How long we keep it",
        "Your rights and how fast we answer",
        "Cookies",
        "Children",
        "International transfers",
        "Security",
        "Data breaches",
        "Changes to this policy",
        "Contact us",
    ]


def test_version_and_last_updated_shown(kestrel_md: str) -> None:
    assert "**Version 3.0** · Last updated 1 September 2026" in kestrel_md


def test_retention_table_states_periods_and_clocks(kestrel_md: str) -> None:
    row = table_line(kestrel_md, "**Financial records**")
    assert "| 7 years |" in row
    assert "deleted" in row
    assert "Income-tax and GST law" in row
    project = table_line(kestrel_md, "**Client project data**")
    assert "| 5 years |" in project and "the project is completed" in project
    assert "archived, readable only by authorised auditors" in project
    client_apps = table_line(kestrel_md, "**Data in client applications**")
    assert "as agreed in the client's contract" in client_apps
    jobs = table_line(kestrel_md, "**Job applications**")
    assert "the recruitment process ends" in jobs  # a custom clock event, by its name


def test_purposes_show_legal_basis_and_choice(kestrel_md: str) -> None:
    newsletter = table_line(kestrel_md, "**Send news about our services, events and offers**")
    assert "Your consent" in newsletter
    assert "withdraw at any time" in newsletter and "2 years" in newsletter
    inquiries = table_line(kestrel_md, "**Answer your enquiries**")
    assert "legitimate use" in inquiries and "legitimate interests in the EU" in inquiries
    research = table_line(kestrel_md, "**Aggregate statistics")
    assert "no one can be singled out" in research


def test_never_sell_forbidden_data_and_recipients(kestrel_md: str) -> None:
    assert "**We never sell, rent or trade your personal data**" in kestrel_md
    assert "- **Payment card numbers**. Card payments are handled" in kestrel_md
    postmark = table_line(kestrel_md, "| Postmark |")
    assert "the United States (US), under standard contractual clauses" in postmark
    buyer = table_line(kestrel_md, "| A buyer of our business |")
    assert "we tell you 30 days before" in buyer


def test_rights_cookies_children_contact(kestrel_md: str) -> None:
    assert "acknowledge every request within 72 hours and complete it within 30 days" in kestrel_md
    assert "| Portability |" in kestrel_md
    cookie = table_line(kestrel_md, "`plausible_id`")
    assert "Plausible Analytics (third party)" in cookie and "| 1 year |" in cookie
    assert "Until you close your browser" in table_line(kestrel_md, "`troth_session`")
    assert "Global Privacy Control" in kestrel_md
    assert "children under 18 without verifiable consent" in kestrel_md
    assert "Grievance officer: Arjun Deshpande" in kestrel_md
    assert "governed by the laws of India; disputes go to the courts of Pune" in kestrel_md


def test_text_follows_the_declaration() -> None:
    data = kestrel_data()
    item(data, "retention", "financial_records")["period"] = "P10Y"
    data["organization"]["never_sells"] = False
    del data["cookies"]
    del data["children"]
    data["subjects"] = [s for s in data["subjects"] if not s.get("child")]
    for key in ("sources", "purposes"):
        for entry in data[key]:
            entry["subjects"] = [s for s in entry.get("subjects", []) if s != "customer.child"]
    data["purposes"] = [p for p in data["purposes"] if p["key"] != "child_accounts"]
    data["retention"][5]["applies_to"]["purposes"] = ["operate_client_apps"]
    policy, problems = read(dump(data))
    assert policy is not None, problems
    text = render_markdown(policy)
    assert "| 10 years |" in table_line(text, "**Financial records**")
    assert "We never sell, rent or trade" not in text
    assert "## Cookies" not in text
    assert "## Children" not in text


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)

    def handle_data(self, data) -> None:
        self.text.append(data)


def test_html_says_what_the_markdown_says() -> None:
    policy = load_policy(KESTREL)
    page = render_html(policy)
    assert page.startswith("<!doctype html>")
    assert f'<meta name="troth-content-hash" content="{policy.content_hash}">' in page
    parser = _Collector()
    parser.feed(page)
    assert parser.tags.count("table") == 6
    assert parser.tags.count("h2") == 13
    assert "Privacy policy of Kestrel Software" in "".join(parser.text)
    assert render_html_fragment(policy) in page
    assert render(policy, "md") == render_markdown(policy)


def test_declared_text_is_escaped_in_html() -> None:
    data = kestrel_data()
    data["organization"]["name"] = "Kestrel <script>alert(1)</script> | Co"
    policy, problems = read(dump(data))
    assert policy is not None, problems
    page = render_html(policy)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
