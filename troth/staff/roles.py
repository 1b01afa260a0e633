"""The console's roles: what each member of the privacy team may open."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A staff account's role. Pages name the roles they admit; there is no hierarchy."""

    admin = "admin"
    privacy_officer = "privacy_officer"
    agent = "agent"
    auditor = "auditor"


ROLE_NAMES = {
    Role.admin: "Administrator",
    Role.privacy_officer: "Privacy officer",
    Role.agent: "Agent",
    Role.auditor: "Auditor",
}


class UnknownRole(ValueError):
    def __init__(self, role: str) -> None:
        self.role = role
        super().__init__(f"unknown role {role!r}; the roles are {', '.join(Role)}")


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise UnknownRole(text) from None
