"""Staff passwords: the policy refuses short, common and repetitive ones; argon2id hashes."""

from __future__ import annotations

import pytest

from troth.staff import WeakPassword, check_password_policy, hash_password, password_matches
from troth.staff.passwords import COMMON_PASSWORDS, MIN_LENGTH, needs_rehash


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("", "at least 12 characters, this one has 0"),
        ("eleven char", "at least 12 characters, this one has 11"),
        ("Password1234", "most common"),
        ("QWERTYUIOP123", "most common"),
        ("abababababababab", "different characters"),
        ("x" * 1025, "at most 1024"),
    ],
)
def test_the_policy_refuses_weak_passwords_and_says_why(password: str, reason: str) -> None:
    with pytest.raises(WeakPassword, match=reason) as refused:
        check_password_policy(password)
    if password:
        assert password not in str(refused.value)


def test_every_common_password_is_long_enough_to_need_the_list() -> None:
    # A shorter one would be refused by length anyway and would only make the list look longer.
    assert all(len(password) >= MIN_LENGTH for password in COMMON_PASSWORDS)
    for password in COMMON_PASSWORDS:
        with pytest.raises(WeakPassword):
            check_password_policy(password)


def test_the_policy_accepts_a_long_uncommon_password() -> None:
    check_password_policy("twelve chars")
    check_password_policy("paper lantern over the quiet harbour")


def test_hashes_are_argon2id_salted_and_verify_only_their_password() -> None:
    first, second = hash_password("paper lantern"), hash_password("paper lantern")
    assert first.startswith("$argon2id$")
    assert first != second  # a fresh salt each time
    assert "paper lantern" not in first
    assert password_matches(first, "paper lantern")
    assert password_matches(second, "paper lantern")
    assert not password_matches(first, "paper lanterns")
    assert not password_matches(first, "")
    assert not needs_rehash(first)


def test_no_hash_and_a_broken_hash_never_match() -> None:
    assert not password_matches(None, "no account has this address")
    assert not password_matches(None, "anything at all")
    assert not password_matches("not a hash", "anything at all")


def test_an_old_hash_is_flagged_for_rehashing() -> None:
    from argon2 import PasswordHasher

    weaker = PasswordHasher(time_cost=1, memory_cost=8 * 1024).hash("paper lantern")
    assert password_matches(weaker, "paper lantern")
    assert needs_rehash(weaker)
