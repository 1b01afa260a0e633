"""The master key's staff subkeys: sealing addresses and TOTP secrets, indexing, cookie signing."""

from __future__ import annotations

import pytest

from troth.subjects import IdentityKind, Keyring, MasterKey, TamperedError, UnknownMasterKey

AAD = b"staff email\x00account-1"


def test_sealed_secrets_open_only_with_their_key_and_associated_data() -> None:
    key = MasterKey.generate()
    blob = key.seal_staff(b"ada@example.org", AAD)
    assert b"ada@example.org" not in blob
    assert blob[1:9].hex() == key.key_id  # the sealing key is named in the blob
    assert key.open_staff(blob, AAD) == b"ada@example.org"
    assert key.seal_staff(b"ada@example.org", AAD) != blob  # a fresh nonce each time
    with pytest.raises(TamperedError):
        key.open_staff(blob, b"staff email\x00account-2")  # moved to another account
    altered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(TamperedError):
        key.open_staff(altered, AAD)
    with pytest.raises(UnknownMasterKey):
        MasterKey.generate().open_staff(blob, AAD)
    with pytest.raises(TamperedError, match="too short"):
        key.open_staff(b"\x01", AAD)


def test_a_keyring_opens_secrets_sealed_under_a_previous_key() -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    blob = Keyring(old).seal_staff(b"secret", AAD)
    rotating = Keyring(new, previous=[old])
    assert rotating.open_staff(blob, AAD) == b"secret"
    assert rotating.seal_staff(b"secret", AAD)[1:9].hex() == new.key_id
    with pytest.raises(UnknownMasterKey):
        Keyring(new).open_staff(blob, AAD)


def test_each_staff_purpose_has_its_own_subkey() -> None:
    key = MasterKey.generate()
    address = "ada@example.org"
    values = {
        key.staff_index(address),
        key.index(IdentityKind.email, address),
        key.sign_staff_cookie(address),
    }
    assert len(values) == 3
    assert key.staff_index(address) == key.staff_index(address)
    assert MasterKey.generate().staff_index(address) != key.staff_index(address)


def test_cookie_signatures_verify_under_any_loaded_key() -> None:
    old, new = MasterKey.generate(), MasterKey.generate()
    signature = old.sign_staff_cookie("token")
    assert Keyring(new, previous=[old]).staff_cookie_signed("token", signature)
    assert not Keyring(new).staff_cookie_signed("token", signature)
    assert not Keyring(old).staff_cookie_signed("other", signature)
