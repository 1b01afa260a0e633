"""Staff roles (P22): references are checked, and a role reads what its purposes use."""

from __future__ import annotations

import pytest
from support import dump, item, kestrel_data, read

from troth.declaration import Policy
from troth.declaration.diff import diff_declarations


def _errors(data) -> list[str]:
    _policy, problems = read(dump(data))
    return [p.message for p in problems if p.severity == "error"]


def test_kestrel_declares_its_roles(kestrel_policy: Policy) -> None:
    assert list(kestrel_policy.staff_roles) == ["sales", "delivery", "finance", "privacy_team"]


def test_a_role_reads_what_the_named_purpose_uses_narrowed_to_its_categories(
    kestrel_policy: Policy,
) -> None:
    sales = kestrel_policy.readable_categories("sales", "answer_inquiries")
    assert sales == {
        "user.name",
        "user.contact.email",
        "user.contact.phone_number",
        "user.contact.organization",
    }
    # The purpose also uses the enquiry's text, which the sales role does not list.
    assert "user.content.private" in kestrel_policy.purposes["answer_inquiries"].categories
    assert "user.content.private" not in sales
    # Without its own list, a role reads every category of the purpose it names.
    assert kestrel_policy.readable_categories("finance", "billing") == set(
        kestrel_policy.purposes["billing"].categories
    )


@pytest.mark.parametrize(
    ("role", "purpose"),
    [("sales", "billing"), ("finance", "newsletter"), ("nobody", "billing"), ("sales", "nope")],
)
def test_a_purpose_outside_the_role_or_an_unknown_name_reads_nothing(
    kestrel_policy: Policy, role: str, purpose: str
) -> None:
    assert kestrel_policy.readable_categories(role, purpose) == frozenset()


def test_a_role_naming_an_undeclared_purpose_or_category_is_an_error() -> None:
    data = kestrel_data()
    item(data, "staff_roles", "sales")["purposes"].append("cold_calling")
    item(data, "staff_roles", "sales")["categories"].append("user.contact.fax")
    errors = _errors(data)
    assert (
        "staff role 'sales' refers to purpose 'cold_calling', which is not declared under purposes"
        in errors
    )
    assert any("staff role 'sales' refers to category 'user.contact.fax'" in e for e in errors)


def test_a_role_listing_a_category_none_of_its_purposes_uses_is_an_error() -> None:
    data = kestrel_data()
    item(data, "staff_roles", "sales")["categories"].append("user.financial")
    [error] = _errors(data)
    assert error.startswith("staff role 'sales' lists category 'user.financial'")
    assert "could never be read" in error


def test_a_role_needs_a_purpose_and_a_unique_key() -> None:
    data = kestrel_data()
    item(data, "staff_roles", "finance")["purposes"] = []
    assert _errors(data)
    data = kestrel_data()
    data["staff_roles"].append({"key": "sales", "name": "Second sales", "purposes": ["billing"]})
    assert any("staff_roles: key 'sales' is declared twice" in e for e in _errors(data))


def test_widening_a_role_is_listed_as_a_minor_change() -> None:
    old = kestrel_data()
    new = kestrel_data()
    item(new, "staff_roles", "sales")["purposes"].append("billing")
    before, _ = read(dump(old))
    after, _ = read(dump(new))
    assert before is not None and after is not None
    changes = diff_declarations(before.declaration, after.declaration)
    [change] = changes
    assert not change.material
    assert change.message == "Staff role Sales team may now read for Invoice and collect payment"
