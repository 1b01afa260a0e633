"""Staff passwords: the policy a new one must meet, and argon2id hashes of them.

argon2id is memory-hard, so a stolen table of hashes costs an attacker as much memory per guess
as it costs troth per sign-in. Only the hash is stored; it carries its own salt and parameters,
so hashes made under older parameters still verify and are upgraded at the next sign-in.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 1024  # hashing a megabyte per attempt would be a cheap way to load the server
MIN_DISTINCT = 5

# Passwords long enough to pass the length rule that are still among the first an attacker tries.
COMMON_PASSWORDS = frozenset(
    {
        "123456789012",
        "1234567890123",
        "12345678901234",
        "123456123456",
        "111111111111",
        "000000000000",
        "password1234",
        "password12345",
        "password123456",
        "passwordpassword",
        "password1234!",
        "qwertyuiop12",
        "qwertyuiop123",
        "qwertyuiopasdf",
        "qwerty123456",
        "1qaz2wsx3edc",
        "1q2w3e4r5t6y",
        "abc123abc123",
        "abcdefghijkl",
        "abcd1234abcd",
        "iloveyou1234",
        "letmein12345",
        "welcome12345",
        "welcome123456",
        "changeme1234",
        "administrator",
        "administrator1",
        "admin1234567",
        "adminadmin123",
        "football1234",
        "baseball1234",
        "sunshine1234",
        "princess1234",
        "monkey123456",
        "dragon123456",
        "trustno1trustno1",
        "correcthorsebatterystaple",
        "privacy12345",
        "troth1234567",
        "summer2026!!",
        "winter2026!!",
    }
)

_hasher = PasswordHasher()  # argon2id, the library's current recommended parameters
# Verified when no account has the address given, so that a wrong address costs what a wrong
# password does and timing does not tell them apart.
_NO_SUCH_ACCOUNT_HASH = _hasher.hash("no account has this address")


class WeakPassword(ValueError):
    """A new password that the policy refuses; the message says why, never the password."""


def check_password_policy(password: str) -> None:
    """Raise :class:`WeakPassword` unless ``password`` may be used for a staff account."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(
            f"a password needs at least {MIN_LENGTH} characters, this one has {len(password)}"
        )
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"a password has at most {MAX_LENGTH} characters")
    if password.lower() in COMMON_PASSWORDS:
        raise WeakPassword("this password is among the most common ones; choose another")
    if len(set(password.lower())) < MIN_DISTINCT:
        raise WeakPassword(
            f"a password needs at least {MIN_DISTINCT} different characters; choose another"
        )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` is the one ``stored_hash`` was made from; None never matches.

    None (no account) is verified against a fixed hash, at the same cost as a real one.
    """
    if len(password) > MAX_LENGTH:
        return False
    try:
        matched = _hasher.verify(stored_hash or _NO_SUCH_ACCOUNT_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return matched and stored_hash is not None


def needs_rehash(stored_hash: str) -> bool:
    """Whether the hash was made with other parameters than troth's current ones."""
    return _hasher.check_needs_rehash(stored_hash)
