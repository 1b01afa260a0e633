"""The privacy team's accounts: roles, passwords, a TOTP second factor, sessions and lockout.

Owns the ``staff_accounts`` and ``staff_sessions`` tables. The console (troth.web.console) and
the ``troth staff`` commands are thin adapters over these functions. See docs/console.md.
"""

from .accounts import (
    StaffAccountExists,
    StaffAccountNotFound,
    create_account,
    disable_account,
    email_of,
    find_account,
    list_accounts,
    normalised_email,
    totp_secret_of,
)
from .models import StaffAccount, StaffSession
from .passwords import WeakPassword, check_password_policy, hash_password, password_matches
from .roles import ROLE_NAMES, Role, UnknownRole, parse_role
from .sessions import (
    ABSOLUTE_LIFETIME,
    HALF_SESSION_LIFETIME,
    IDLE_TIMEOUT,
    SignedIn,
    current_session,
    sign_out,
)
from .signin import (
    LOCKOUT_DURATION,
    LOCKOUT_WINDOW,
    MAX_FAILURES,
    Opened,
    is_locked,
    needs_enrolment,
    sign_in_with_code,
    sign_in_with_password,
)
from .totp import code_at, matching_step, provisioning_uri, step_at

__all__ = [
    "ABSOLUTE_LIFETIME",
    "HALF_SESSION_LIFETIME",
    "IDLE_TIMEOUT",
    "LOCKOUT_DURATION",
    "LOCKOUT_WINDOW",
    "MAX_FAILURES",
    "ROLE_NAMES",
    "Opened",
    "Role",
    "SignedIn",
    "StaffAccount",
    "StaffAccountExists",
    "StaffAccountNotFound",
    "StaffSession",
    "UnknownRole",
    "WeakPassword",
    "check_password_policy",
    "code_at",
    "create_account",
    "current_session",
    "disable_account",
    "email_of",
    "find_account",
    "hash_password",
    "is_locked",
    "list_accounts",
    "matching_step",
    "needs_enrolment",
    "normalised_email",
    "parse_role",
    "password_matches",
    "provisioning_uri",
    "sign_in_with_code",
    "sign_in_with_password",
    "sign_out",
    "step_at",
    "totp_secret_of",
]
