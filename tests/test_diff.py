"""`troth diff`: minor changes, ordering, the generic walk, removals (a property), the command."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from diff_support import KESTREL, PURPOSE_KEYS, Case, Edit, declaration, diff, without_purposes
from hypothesis import given, settings
from hypothesis import strategies as st
from support import dump, item, kestrel_data
from typer.testing import CliRunner

from troth.cli import app
from troth.declaration.diff import Change, diff_declarations, diff_policies
from troth.declaration.model import Declaration
from troth.declaration.policy import Policy

MINOR: dict[str, Case] = {
    "purpose removed": (
        None,
        lambda d: without_purposes(d, {"testimonials"}),
        [
            "Purpose removed: Publish testimonials and case studies you reviewed and approved "
            "(testimonials)",
            "Retention rule removed: Published testimonials (testimonials)",
        ],
    ),
    "category removed with its uses": (
        None,
        lambda d: (
            d["categories"].remove(item(d, "categories", "user.workplace")),
            item(d, "sources", "careers_form")["categories"].remove("user.workplace"),
            item(d, "purposes", "recruitment")["categories"].remove("user.workplace"),
        ),
        [
            "Data category removed: CV, work history and references (user.workplace)",
            "Source Our careers page no longer collects CV, work history and references",
            "Purpose Consider you for a job no longer uses CV, work history and references",
        ],
    ),
    "recipient removed": (
        None,
        lambda d: d["recipients"].remove(item(d, "recipients", "acquirer")),
        ["Recipient removed: A buyer of our business (acquirer)"],
    ),
    "source removed": (
        None,
        lambda d: d["sources"].remove(item(d, "sources", "referral_partners")),
        ["Source removed: Referral and reselling partners (referral_partners)"],
    ),
    "purpose renamed": (
        None,
        lambda d: item(d, "purposes", "newsletter").update(name="Send our newsletter"),
        [
            "Purpose newsletter renamed from 'Send news about our services, events and offers' to "
            "'Send our newsletter'"
        ],
    ),
    "summary reworded": (
        None,
        lambda d: d["policy"].update(summary="We collect only what we need. " * 3),
        ["Policy: summary reworded"],
    ),
    "description added": (
        None,
        lambda d: item(d, "categories", "user.name").update(description="Your full name"),
        ["Data category Name: description added"],
    ),
    "contact details": (
        None,
        lambda d: d["organization"]["privacy_officer"].update(email="dpo@kestrel.example"),
        ["Privacy officer: email changed from privacy@kestrel.example to dpo@kestrel.example"],
    ),
    "shorter retention": (
        None,
        lambda d: item(d, "retention", "financial_records").update(period="P5Y"),
        ["Retention of Financial records shortened from 7 years to 5 years"],
    ),
    "retention rule widened without keeping longer": (
        None,
        lambda d: item(d, "retention", "inquiries")["applies_to"].update(
            categories=["user.device.ip_address"]
        ),
        ["Retention rule Enquiries that did not become projects now also applies to IP address"],
    ),
    "new retention rule keeps data no longer than before": (
        None,
        lambda d: d["retention"].append(
            {
                "key": "ip_logs",
                "name": "IP logs",
                "period": "P30D",
                "applies_to": {"categories": ["user.device.ip_address"]},
            }
        ),
        ["New retention rule: IP logs (ip_logs), kept 30 days"],
    ),
    "faster deadline": (
        None,
        lambda d: d["rights"].update(complete_within="P15D"),
        ["Rights requests: answer time sped up from 30 days to 15 days"],
    ),
    "new right offered": (
        lambda d: d["rights"]["offered"].remove("portability"),
        lambda d: None,
        ["Right 'portability' is now offered"],
    ),
    "version and effective date": (
        None,
        lambda d: d["policy"].update(version="3.1", effective_date="2026-10-01"),
        [
            "Policy: version changed from 3.0 to 3.1",
            "Policy: effective date changed from 2026-09-01 to 2026-10-01",
        ],
    ),
    "new essential cookie": (
        None,
        lambda d: d["cookies"]["cookies"].append(
            {
                "name": "csrf",
                "category": "essential",
                "provider": "Kestrel Software",
                "purpose": "Stops forged forms",
                "lifetime": "session",
            }
        ),
        ["New cookie: csrf (essential, set by Kestrel Software, lasts for the session)"],
    ),
    "stronger promise": (
        lambda d: d["security"].update(encrypted_backups=False),
        lambda d: None,
        ["Security: backups are now encrypted"],
    ),
    "security measure reworded": (
        None,
        lambda d: d["security"]["measures"].__setitem__(
            1, "Staff see personal data only for a stated purpose; every read is logged."
        ),
        [
            "Security: measure reworded: 'Staff see personal data only for a stated purpose; every "
            "read is logged.'"
        ],
    ),
    "purpose now needs consent": (
        None,
        lambda d: item(d, "purposes", "security").update(consent_required=True),
        ["Purpose Keep our services secure and prevent fraud now needs people's consent"],
    ),
    "recipient review date": (
        None,
        lambda d: item(d, "recipients", "aws").update(review_date="2028-04-01"),
        [
            "Recipient Amazon Web Services (Mumbai region): review date changed from 2027-04-01 to "
            "2028-04-01"
        ],
    ),
}


@pytest.mark.parametrize(("old_edit", "new_edit", "expected"), MINOR.values(), ids=MINOR)
def test_minor_rule(old_edit: Edit | None, new_edit: Edit, expected: list[str]) -> None:
    assert diff(old_edit, new_edit) == [("minor", message) for message in expected]


def test_identical_declarations_have_no_changes() -> None:
    assert diff_declarations(declaration(), declaration()) == []


def test_reordering_items_is_no_change() -> None:
    def reorder(data: Any) -> None:
        data["purposes"].reverse()
        item(data, "purposes", "newsletter")["categories"].reverse()
        data["rights"]["offered"].reverse()

    assert diff(None, reorder) == []


def test_material_changes_come_first_then_minor_each_in_document_order() -> None:
    def edit(data: Any) -> None:
        data["policy"]["version"] = "4.0"
        item(data, "purposes", "billing")["name"] = "Invoices"
        item(data, "recipients", "postmark")["country"] = "IE"
        data["categories"].append({"key": "user.location", "name": "Location"})

    changes = diff_declarations(declaration(), declaration(edit))
    assert [(c.kind, c.section, c.key) for c in changes] == [
        ("material", "categories", "user.location"),
        ("material", "recipients", "postmark"),
        ("minor", "policy", "version"),
        ("minor", "purposes", "billing"),
    ]


def test_a_change_names_its_section_and_key_and_kind() -> None:
    def edit(data: Any) -> None:
        data["cookies"]["honour_global_privacy_control"] = False

    (change,) = diff_declarations(declaration(), declaration(edit))
    assert change == Change(
        True,
        "cookies",
        "honour_global_privacy_control",
        "Cookies: Global Privacy Control signals are no longer honoured",
    )
    assert change.kind == "material"
    assert Change(False, "policy", "version", "x").kind == "minor"


def test_diff_policies_compares_their_declarations() -> None:
    old = Policy.build(declaration())
    new = Policy.build(declaration(lambda d: d["children"].update(age_threshold=16)))
    assert [c.message for c in diff_policies(old, new)] == [
        "Children: age threshold lowered from 18 to 16"
    ]


class _FutureDeclaration(Declaration):
    """The model as it might grow: a field no rule knows about yet."""

    dpo_registered: bool = False


def test_a_field_without_a_rule_is_still_compared_and_counts_as_material() -> None:
    old = _FutureDeclaration.model_validate(copy.deepcopy(KESTREL))
    new = _FutureDeclaration.model_validate({**copy.deepcopy(KESTREL), "dpo_registered": True})
    assert [(c.kind, c.section, c.message) for c in diff_declarations(old, new)] == [
        ("material", "dpo_registered", "Declaration: dpo registered changed from no to yes")
    ]


@settings(max_examples=40, deadline=None)
@given(removed=st.sets(st.sampled_from(PURPOSE_KEYS), min_size=1))
def test_removing_purposes_is_never_material_and_adding_them_back_is(removed: set[str]) -> None:
    full = declaration()
    fewer = declaration(lambda d: without_purposes(d, removed))
    forward = diff_declarations(full, fewer)
    assert [c.message for c in forward if c.material] == []
    assert {c.key for c in forward if c.message.startswith("Purpose removed: ")} == removed
    back = diff_declarations(fewer, full)
    new_purposes = [c.key for c in back if c.material and c.message.startswith("New purpose: ")]
    assert sorted(new_purposes) == sorted(removed)


# The command --------------------------------------------------------------------------------------

runner = CliRunner()


def write(tmp_path: Path, name: str, edit: Edit | None = None) -> str:
    data = kestrel_data()
    if edit is not None:
        edit(data)
    path = tmp_path / name
    path.write_text(dump(data), encoding="utf-8")
    return str(path)


def test_cli_no_changes_exits_0(tmp_path: Path) -> None:
    old, new = write(tmp_path, "old.yaml"), write(tmp_path, "new.yaml")
    result = runner.invoke(app, ["diff", old, new])
    assert result.exit_code == 0
    assert result.stdout == "no changes\n"


def test_cli_minor_only_exits_1(tmp_path: Path) -> None:
    old = write(tmp_path, "old.yaml")
    new = write(tmp_path, "new.yaml", lambda d: d["policy"].update(version="3.1"))
    result = runner.invoke(app, ["diff", old, new])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "minor: Policy: version changed from 3.0 to 3.1",
        "0 material, 1 minor change between version 3.0 and 3.1",
    ]


def test_cli_material_exits_2_and_lists_material_first(tmp_path: Path) -> None:
    def edit(data: Any) -> None:
        data["policy"]["version"] = "4.0"
        item(data, "retention", "financial_records")["period"] = "P10Y"

    old, new = write(tmp_path, "old.yaml"), write(tmp_path, "new.yaml", edit)
    result = runner.invoke(app, ["diff", old, new])
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        "material: Retention of Financial records lengthened from 7 years to 10 years",
        "minor: Policy: version changed from 3.0 to 4.0",
        "1 material, 1 minor changes between version 3.0 and 4.0",
    ]


def test_cli_json_lists_every_change(tmp_path: Path) -> None:
    old = write(tmp_path, "old.yaml")
    new = write(tmp_path, "new.yaml", lambda d: d["rights"]["offered"].remove("portability"))
    result = runner.invoke(app, ["diff", old, new, "--format", "json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout) == [
        {
            "kind": "material",
            "section": "rights",
            "key": "portability",
            "message": "Right 'portability' is no longer offered",
        }
    ]


def test_cli_invalid_declaration_exits_3_with_file_line_col(tmp_path: Path) -> None:
    old = write(tmp_path, "old.yaml")
    new = write(tmp_path, "new.yaml", lambda d: item(d, "purposes", "billing").update(basis="x"))
    result = runner.invoke(app, ["diff", old, new])
    assert result.exit_code == 3
    assert result.stdout == ""
    (line,) = [line for line in result.stderr.splitlines() if ": error: " in line]
    file, line_no, column, _message = line.split(":", 3)
    assert (file, int(line_no) > 0, int(column) > 0) == (new, True, True)
    assert "unknown key 'basis'" in line
    assert "Traceback" not in result.output


def test_cli_unreadable_file_and_usage_mistakes_exit_3(tmp_path: Path) -> None:
    old = write(tmp_path, "old.yaml")
    missing = runner.invoke(app, ["diff", old, str(tmp_path / "missing.yaml")])
    assert missing.exit_code == 3
    assert "cannot read file" in missing.stderr
    assert runner.invoke(app, ["diff", old]).exit_code == 3
    assert runner.invoke(app, ["diff", old, old, "--format", "xml"]).exit_code == 3
