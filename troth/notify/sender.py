"""The address troth's mail comes from: ``TROTH_MAIL_FROM``, else the declaration's contact.

The declaration's ``organization.contact.email`` (then the privacy officer's) is the address
people already know the company by, with the organization's name as the display name. Set
``TROTH_MAIL_FROM`` (``"Kestrel Privacy <privacy@kestrel.example>"`` or a bare address) when mail
must come from another address, such as one the SMTP server is allowed to send as.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from email.headerregistry import Address
from email.utils import formataddr, parseaddr

from troth.declaration import Policy

MAIL_FROM_ENV = "TROTH_MAIL_FROM"


class SenderError(ValueError):
    """No usable sender address; the message says where one can be given."""


def mail_from(policy: Policy | None, environ: Mapping[str, str] | None = None) -> str:
    """The ``From`` header for troth's mail (``policy`` is needed only without the variable)."""
    env = os.environ if environ is None else environ
    configured = env.get(MAIL_FROM_ENV, "").strip()
    if configured:
        name, address = parseaddr(configured)
        if not _is_address(address):
            raise SenderError(
                f"{MAIL_FROM_ENV} is not an email address; write it as "
                "'Name <address@example.com>' or 'address@example.com'"
            )
        return formataddr((name, address)) if name else address
    if policy is None:
        raise SenderError(f"no sender address: set {MAIL_FROM_ENV} or give the declaration")
    organization = policy.declaration.organization
    for contact in (organization.contact, organization.privacy_officer):
        if contact is not None and contact.email and _is_address(contact.email):
            return formataddr((policy.organization_name, contact.email))
    raise SenderError(
        f"no sender address: the declaration's organization.contact has no email; "
        f"give one there or set {MAIL_FROM_ENV}"
    )


def sender_domain(sender: str) -> str:
    """The domain of the sender address, for Message-IDs."""
    return parseaddr(sender)[1].rpartition("@")[2] or "troth.invalid"


def _is_address(text: str) -> bool:
    local, at, domain = text.partition("@")
    if not (local and at and "." in domain):
        return False
    try:
        Address(addr_spec=text)
    except (ValueError, IndexError):
        return False
    return True
