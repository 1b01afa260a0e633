"""Loading a declaration: YAML positions, every problem at once, never a traceback."""

from __future__ import annotations

from datetime import date

import pytest
from support import KESTREL, dump, item, kestrel_data, read

from troth.declaration import DeclarationError, Duration, load_policy


def test_kestrel_example_loads_clean() -> None:
    policy, problems = read(KESTREL.read_text())
    assert policy is not None
    assert problems == []
    assert policy.version == "3.0"
    assert policy.effective_date == date(2026, 9, 1)
    assert len(policy.content_hash) == 64


def test_content_hash_ignores_comments_and_layout_but_not_content() -> None:
    text = KESTREL.read_text()
    first, _ = read(text)
    reformatted, _ = read("# a new comment\n" + text.replace("  # P16", "  # privacy contact"))
    data = kestrel_data()
    data["organization"]["name"] = "Kestrel Software Ltd"
    changed, _ = read(dump(data))
    assert first and reformatted and changed
    assert first.content_hash == reformatted.content_hash
    assert first.content_hash != changed.content_hash


def test_policy_is_immutable() -> None:
    policy = load_policy(KESTREL)
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises ValidationError on frozen models
        policy.declaration.organization.name = "Someone else"  # type: ignore[misc]
    assert isinstance(policy.declaration.purposes, tuple)


def test_malformed_yaml_reports_position() -> None:
    policy, problems = read("policy:\n  version: '1'\n  effective_date: [2026\n")
    assert policy is None
    assert len(problems) == 1
    assert problems[0].severity == "error"
    assert problems[0].line == 4
    assert str(problems[0]).startswith("privacy.yaml:4:")
    assert "malformed YAML" in problems[0].message


def test_duplicate_mapping_key_is_an_error() -> None:
    _, problems = read("policy:\n  version: '1'\n  version: '2'\n")
    assert problems[0].line == 3
    assert "duplicate key" in problems[0].message


def test_top_level_must_be_a_mapping() -> None:
    _, problems = read("- just\n- a list\n")
    assert [p.message for p in problems] == ["a declaration is a YAML mapping (key: value)"]


def test_all_shape_errors_reported_at_once_with_positions() -> None:
    data = kestrel_data()
    data["organization"]["colour"] = "teal"
    item(data, "purposes", "billing")["legal_basis"] = "because"
    item(data, "retention", "financial_records")["period"] = "seven years"
    del data["rights"]["offered"]
    text = dump(data)
    lines = text.splitlines()
    policy, problems = read(text)
    assert policy is None
    by_message = {p.message: p for p in problems}
    assert len(problems) == 4, problems

    unknown = by_message[
        "organization: unknown key 'colour' (check the spelling; see docs/declaration.md)"
    ]
    assert lines[unknown.line - 1].strip().startswith("colour:")

    basis = next(p for p in problems if "legal_basis" in p.message)
    assert basis.message.startswith("purposes[2].legal_basis: expected 'consent'")
    assert "legal_basis: because" in lines[basis.line - 1]

    period = next(p for p in problems if "period" in p.message)
    assert "not an ISO-8601 duration" in period.message
    assert "seven years" in lines[period.line - 1]

    missing = next(p for p in problems if "missing" in p.message)
    assert missing.message == "rights: missing required field 'offered'"
    assert lines[missing.line - 1].startswith("rights:")


def test_unquoted_version_gets_a_helpful_message() -> None:
    data = kestrel_data()
    data["policy"]["version"] = 3.1
    _, problems = read(dump(data))
    assert problems[0].message == (
        'policy.version: write the version in quotes (e.g. "3.1") to keep it as text'
    )


def test_load_policy_raises_with_all_problems(tmp_path) -> None:
    path = tmp_path / "privacy.yaml"
    data = kestrel_data()
    data["organization"]["never_sells"] = "sometimes"
    data["policy"]["effective_date"] = "soon"
    path.write_text(dump(data))
    with pytest.raises(DeclarationError) as caught:
        load_policy(path)
    assert len(caught.value.problems) == 2
    assert all(str(p).startswith(f"{path}:") for p in caught.value.problems)


def test_unreadable_file_is_a_problem_not_a_traceback(tmp_path) -> None:
    with pytest.raises(DeclarationError) as caught:
        load_policy(tmp_path / "missing.yaml")
    assert "cannot read file" in caught.value.problems[0].message
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DeclarationError) as caught:
        load_policy(binary)
    assert "not UTF-8" in caught.value.problems[0].message


@pytest.mark.parametrize(
    ("text", "words", "iso"),
    [
        ("P7Y", "7 years", "P7Y"),
        ("P1Y", "1 year", "P1Y"),
        ("PT72H", "72 hours", "PT72H"),
        ("P1M2D", "1 month and 2 days", "P1M2D"),
        ("P2W", "2 weeks", "P2W"),
    ],
)
def test_durations_parse_and_read_aloud(text: str, words: str, iso: str) -> None:
    duration = Duration.parse(text)
    assert duration.words() == words
    assert duration.iso() == iso


@pytest.mark.parametrize("bad", ["P", "7Y", "PT", "P1.5Y", "1 year", "P-1D", ""])
def test_bad_durations_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="ISO-8601"):
        Duration.parse(bad)


def test_duration_calendar_arithmetic_and_order() -> None:
    assert Duration.parse("P1M").add_to(date(2025, 1, 31)) == date(2025, 2, 28)
    assert Duration.parse("P1Y").add_to(date(2024, 2, 29)) == date(2025, 2, 28)
    assert Duration.parse("P7Y") > Duration.parse("P5Y")
    assert Duration.parse("P1M") < Duration.parse("P31D")
    assert Duration.parse("PT72H") <= Duration.parse("P3D")


def test_shape_and_promise_errors_are_reported_together() -> None:
    data = kestrel_data()
    data["organization"]["colour"] = "teal"  # unknown key: removed, the rest still checked
    item(data, "purposes", "billing")["legal_basis"] = "because"  # invalid item: set aside
    item(data, "recipients", "postmark")["sale"] = True  # broken promise (P21)
    item(data, "purposes", "newsletter")["categories"].append("user.contact.address")
    item(data, "retention", "analytics")["period"] = "soon"
    text = dump(data)
    lines = text.splitlines()
    policy, problems = read(text)
    assert policy is None
    found = [p.message for p in problems]
    assert len(found) == 5, found
    assert any("unknown key 'colour'" in m for m in found)
    assert any(m.startswith("purposes[2].legal_basis") for m in found)
    assert any(m.startswith("retention[1].period") for m in found)
    sale = next(p for p in problems if "buying personal data" in p.message)
    assert "sale: true" in lines[sale.line - 1]
    ref = next(p for p in problems if "user.contact.address" in p.message)
    assert "user.contact.address" in lines[ref.line - 1]
    # nothing is reported about what was set aside: the financial-records rule still names
    # the invalid 'billing' purpose, and the dropped analytics rule leaves no false gap
    assert not any("'billing'" in m and "not declared" in m for m in found)
    assert not any("no retention rule covers it" in m for m in found)


def test_a_missing_required_section_reports_only_the_shape() -> None:
    data = kestrel_data()
    del data["organization"]
    item(data, "recipients", "postmark")["sale"] = True
    _, problems = read(dump(data))
    assert [p.message for p in problems] == ["(top level): missing required field 'organization'"]
