"""Every declaration field has a diff rule, and every rule is in docs/diff.md."""

from __future__ import annotations

import typing

from pydantic import BaseModel
from support import ROOT

from troth.declaration.diff import RULES
from troth.declaration.diff_rules import derived
from troth.declaration.model import Declaration

# Where each model sits in privacy.yaml, as docs/diff.md writes it.
YAML_PATHS = {
    "Declaration": "",
    "PolicyInfo": "policy.",
    "Organization": "organization.",
    "DataSubject": "subjects[].",
    "DataCategory": "categories[].",
    "Source": "sources[].",
    "Purpose": "purposes[].",
    "Recipient": "recipients[].",
    "RetentionRule": "retention[].",
    "RetentionScope": "retention[].applies_to.",
    "CustomEvent": "events[].",
    "Rights": "rights.",
    "RightOffer": "rights.offered[].",
    "Cookies": "cookies.",
    "CookieCategory": "cookies.categories[].",
    "Cookie": "cookies.cookies[].",
    "Children": "children.",
    "Transfers": "transfers.",
    "TransferRoute": "transfers.allowed[].",
    "Security": "security.",
    "StaffRole": "staff_roles[].",
    "Incidents": "incidents.",
    "Changes": "changes.",
}
IDENTITIES = ("key", "name", "right", "region")  # how items are matched, not compared


def models(root: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """Every model reachable from ``root`` through its fields."""
    found: dict[str, type[BaseModel]] = {}
    pending: list[object] = [root]
    while pending:
        kind = pending.pop()
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            if kind.__name__ not in found:
                found[kind.__name__] = kind
                pending.extend(f.annotation for f in kind.model_fields.values())
        else:
            pending.extend(typing.get_args(kind))
    return found


def test_every_field_of_every_model_has_a_rule() -> None:
    fields = {(name, f) for name, model in models(Declaration).items() for f in model.model_fields}
    assert sorted(fields - set(RULES)) == []
    assert sorted(set(RULES) - fields) == []


def test_every_rule_is_documented() -> None:
    docs = (ROOT / "docs" / "diff.md").read_text(encoding="utf-8")
    undocumented = []
    for model, field in RULES:
        if RULES[(model, field)] is derived and field in IDENTITIES:
            continue
        # Contact details have one row: `organization.contact` (and the officers' rows).
        path = "organization.contact" if model == "Contact" else YAML_PATHS[model] + field
        if f"`{path}`" not in docs:
            undocumented.append(path)
    assert undocumented == []
