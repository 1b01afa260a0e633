"""The compiled, immutable policy every other part of troth takes as an argument."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from .model import (
    DataCategory,
    DataSubject,
    Declaration,
    Purpose,
    Recipient,
    RetentionRule,
    Source,
    StaffRole,
)
from .taxonomy import is_under


@dataclass(frozen=True)
class Policy:
    declaration: Declaration
    content_hash: str
    source_text: str = field(repr=False, compare=False)

    @classmethod
    def build(cls, declaration: Declaration, source_text: str = "") -> Policy:
        # Defaults are left out so that a later troth adding an optional field does not change
        # the hash of an unchanged declaration (which would read as an unversioned change).
        canonical = json.dumps(
            declaration.model_dump(mode="json", exclude_defaults=True),
            sort_keys=True,
            separators=(",", ":"),
        )
        digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        return cls(declaration=declaration, content_hash=digest, source_text=source_text)

    @property
    def version(self) -> str:
        return self.declaration.policy.version

    @property
    def effective_date(self) -> date:
        return self.declaration.policy.effective_date

    @property
    def organization_name(self) -> str:
        return self.declaration.organization.name

    @cached_property
    def categories(self) -> dict[str, DataCategory]:
        return {c.key: c for c in self.declaration.categories}

    @cached_property
    def subjects(self) -> dict[str, DataSubject]:
        return {s.key: s for s in self.declaration.subjects}

    @cached_property
    def purposes(self) -> dict[str, Purpose]:
        return {p.key: p for p in self.declaration.purposes}

    @cached_property
    def recipients(self) -> dict[str, Recipient]:
        return {r.key: r for r in self.declaration.recipients}

    @cached_property
    def retention_rules(self) -> dict[str, RetentionRule]:
        return {r.key: r for r in self.declaration.retention}

    @cached_property
    def staff_roles(self) -> dict[str, StaffRole]:
        return {r.key: r for r in self.declaration.staff_roles}

    def readable_categories(self, role: str, purpose: str) -> frozenset[str]:
        """The categories a member of staff role ``role`` may read for ``purpose`` (P22): those
        the purpose uses, narrowed to the role's own ``categories`` when it lists any. Empty when
        the role or purpose is unknown, or the role may not name that purpose."""
        staff_role = self.staff_roles.get(role)
        declared = self.purposes.get(purpose)
        if staff_role is None or declared is None or purpose not in staff_role.purposes:
            return frozenset()
        used = set(declared.categories)
        if staff_role.categories:
            used &= set(staff_role.categories)
        return frozenset(used)


def rule_categories(decl: Declaration, rule: RetentionRule) -> set[str]:
    """Every category a retention rule covers, directly or through its purposes or subjects."""
    covered = set(rule.applies_to.categories)
    for purpose in decl.purposes:
        if purpose.key in rule.applies_to.purposes:
            covered.update(purpose.categories)
    if rule.applies_to.subjects:
        wanted = rule.applies_to.subjects
        users: tuple[Purpose | Source, ...] = (*decl.purposes, *decl.sources)
        for item in users:
            # a rule for `customer` also covers `customer.end_user`
            if any(is_under(s, w) for s in item.subjects for w in wanted):
                covered.update(item.categories)
    return covered
