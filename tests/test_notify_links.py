"""Signed links: what they carry, and the distinct refusals of altered, expired and misused ones."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from troth.notify import ExpiredLink, TamperedLink, WrongPurpose, sign_link, verify_link
from troth.subjects import Keyring, MasterKey

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=14)
PAYLOAD = {"publication": "2f1c9b3e-8a51-4a4e-9f1d-6f2b7f3c1d22", "revision": 3}
KEYRING = Keyring(MasterKey.generate())


def test_a_link_carries_its_payload_until_it_expires() -> None:
    token = sign_link(KEYRING, "publication.review", PAYLOAD, LATER)
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", token), "not URL-safe"
    assert verify_link(KEYRING, token, "publication.review", NOW) == PAYLOAD
    assert verify_link(KEYRING, token, "publication.review", LATER - timedelta(seconds=1))
    with pytest.raises(ExpiredLink) as expired:
        verify_link(KEYRING, token, "publication.review", LATER)
    assert expired.value.expired_at == LATER


def test_a_link_for_one_purpose_is_refused_for_another() -> None:
    token = sign_link(KEYRING, "publication.review", PAYLOAD, LATER)
    with pytest.raises(WrongPurpose) as wrong:
        verify_link(KEYRING, token, "publication.withdraw", NOW)
    assert (wrong.value.expected, wrong.value.found) == (
        "publication.withdraw",
        "publication.review",
    )


def test_a_link_signed_under_another_master_key_is_tampered() -> None:
    token = sign_link(Keyring(MasterKey.generate()), "publication.review", PAYLOAD, LATER)
    with pytest.raises(TamperedLink, match="not made by this site"):
        verify_link(KEYRING, token, "publication.review", NOW)


def test_a_link_signed_before_a_rotation_verifies_while_the_old_key_is_loaded() -> None:
    token = sign_link(KEYRING, "publication.review", PAYLOAD, LATER)
    rotated = Keyring(MasterKey.generate(), previous=[KEYRING.current])
    assert verify_link(rotated, token, "publication.review", NOW) == PAYLOAD


def test_a_changed_expiry_or_payload_is_tampered() -> None:
    token = sign_link(KEYRING, "publication.review", PAYLOAD, NOW + timedelta(seconds=1))
    body, signature = token.split(".")
    # Re-sign nothing; swap in the body of a longer-lived token for other ids.
    other = sign_link(KEYRING, "publication.review", {"publication": "x", "revision": 9}, LATER)
    with pytest.raises(TamperedLink):
        verify_link(KEYRING, f"{other.split('.')[0]}.{signature}", "publication.review", NOW)
    assert verify_link(KEYRING, f"{body}.{signature}", "publication.review", NOW) == PAYLOAD


@given(position=st.integers(min_value=0), replacement=st.sampled_from("AbZ09_-"))
def test_any_changed_character_is_refused(position: int, replacement: str) -> None:
    token = sign_link(KEYRING, "publication.review", PAYLOAD, LATER)
    index = position % len(token)
    if token[index] in (replacement, "."):
        return
    changed = token[:index] + replacement + token[index + 1 :]
    with pytest.raises(TamperedLink):
        verify_link(KEYRING, changed, "publication.review", NOW)


def test_another_spelling_of_the_same_signature_bytes_is_refused() -> None:
    # A 32-byte signature is 43 base64 characters; the last one carries two unused bits, so
    # four characters decode to the same bytes. Only the one troth wrote is accepted.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    token = sign_link(KEYRING, "publication.review", PAYLOAD, LATER)
    last = alphabet.index(token[-1])
    twins = [alphabet[(last & ~3) | low] for low in range(4) if (last & ~3) | low != last]
    assert len(twins) == 3
    for twin in twins:
        with pytest.raises(TamperedLink):
            verify_link(KEYRING, token[:-1] + twin, "publication.review", NOW)
    assert verify_link(KEYRING, token, "publication.review", NOW) == PAYLOAD


@pytest.mark.parametrize(
    "token", ["", "abc", "a.b.c", "not base64!.x", "é.é", "a" * 3000 + ".b", "..."]
)
def test_malformed_tokens_are_tampered(token: str) -> None:
    with pytest.raises(TamperedLink):
        verify_link(KEYRING, token, "publication.review", NOW)


@pytest.mark.parametrize(
    ("purpose", "payload", "message"),
    [
        ("Publication Review", PAYLOAD, "lower-case label"),
        ("publication.review", {"email": "ada@example.com"}, "looks like an email"),
        ("publication.review", {"Bad-Key": "x"}, "lower-case name"),
        ("publication.review", {"flag": True}, "only ids"),
        ("publication.review", {"nested": {"a": 1}}, "only ids"),
    ],
)
def test_what_a_link_may_carry_is_checked(
    purpose: str, payload: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        sign_link(KEYRING, purpose, payload, LATER)  # type: ignore[arg-type]


def test_a_naive_expiry_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        sign_link(KEYRING, "publication.review", PAYLOAD, datetime(2026, 12, 1))
