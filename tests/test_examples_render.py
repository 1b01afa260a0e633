"""The rendered policy of every example shows the promises its declaration makes."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from examples_support import CURRENT, policy

from troth.declaration import DeclarationError, Policy
from troth.declaration.render import render_html, render_markdown

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
