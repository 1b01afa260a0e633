"""Data keys, wrapping under the master key, rotation, the identity index, tamper detection."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from troth.subjects import (
    DataKey,
    Keyring,
    MasterKey,
    TamperedError,
    UnknownMasterKey,
    decrypt,
    encrypt,
    new_data_key,
    normalise,
    rewrap,
    wrapped_key_id,
)
from troth.subjects.keys import FORMAT_V1, NONCE_BYTES, TAG_BYTES

MASTER = MasterKey(bytes(range(32)), source="test")
OTHER = MasterKey(bytes(range(1, 33)), source="other")


def flipped(blob: bytes, position: int) -> bytes:
    return blob[:position] + bytes([blob[position] ^ 0x01]) + blob[position + 1 :]


@given(plaintext=st.binary(max_size=300), associated=st.binary(max_size=40))
def test_encrypt_decrypt_round_trip(plaintext: bytes, associated: bytes) -> None:
    key = new_data_key()
    blob = encrypt(key, plaintext, associated)
    assert blob[0] == FORMAT_V1
    assert len(blob) == 1 + NONCE_BYTES + len(plaintext) + TAG_BYTES
    assert decrypt(key, blob, associated) == plaintext


def test_nonces_are_fresh_for_every_encryption() -> None:
    key = new_data_key()
    blobs = {encrypt(key, b"same", b"ad") for _ in range(50)}
    assert len(blobs) == 50
    assert len({blob[1 : 1 + NONCE_BYTES] for blob in blobs}) == 50


PLAINTEXT = b"ana@example.com"
ASSOCIATED = b"subject:42/identity:email"


def sections(blob: bytes) -> dict[str, range]:
    end_nonce = 1 + NONCE_BYTES
    return {
        "version": range(0, 1),
        "nonce": range(1, end_nonce),
        "ciphertext": range(end_nonce, len(blob) - TAG_BYTES),
        "tag": range(len(blob) - TAG_BYTES, len(blob)),
    }


@pytest.mark.parametrize("part", ["version", "nonce", "ciphertext", "tag"])
def test_a_flipped_byte_anywhere_is_detected(part: str) -> None:
    key = new_data_key()
    blob = encrypt(key, PLAINTEXT, ASSOCIATED)
    for position in sections(blob)[part]:
        with pytest.raises(TamperedError):
            decrypt(key, flipped(blob, position), ASSOCIATED)


def test_other_associated_data_key_or_truncation_is_detected() -> None:
    key = new_data_key()
    blob = encrypt(key, PLAINTEXT, ASSOCIATED)
    with pytest.raises(TamperedError, match="integrity check"):
        decrypt(key, blob, b"subject:43/identity:email")
    for position in range(len(ASSOCIATED)):
        with pytest.raises(TamperedError):
            decrypt(key, blob, flipped(ASSOCIATED, position))
    with pytest.raises(TamperedError, match="another subject's key"):
        decrypt(new_data_key(), blob, ASSOCIATED)
    with pytest.raises(TamperedError, match="too short"):
        decrypt(key, blob[:20], ASSOCIATED)
    with pytest.raises(TamperedError, match="unknown format version 2"):
        decrypt(key, bytes([2]) + blob[1:], ASSOCIATED)
    with pytest.raises(TamperedError):
        decrypt(key, blob[:-1], ASSOCIATED)


def test_wrap_unwrap_and_tamper() -> None:
    key = new_data_key()
    blob = MASTER.wrap(key)
    assert MASTER.unwrap(blob) == key
    assert key.material not in blob
    assert wrapped_key_id(blob) == MASTER.key_id
    assert MASTER.wrap(key) != blob  # fresh nonce every time
    for position in [0, *range(9, len(blob))]:  # version, nonce, wrapped key, tag
        with pytest.raises(TamperedError):
            MASTER.unwrap(flipped(blob, position))
    for position in range(1, 9):  # the key id names a key that is not this one
        with pytest.raises(UnknownMasterKey):
            MASTER.unwrap(flipped(blob, position))
    with pytest.raises(TamperedError, match="expected 69"):
        MASTER.unwrap(blob[:-1])


def test_a_key_unwraps_only_under_its_master_key() -> None:
    blob = MASTER.wrap(new_data_key())
    with pytest.raises(UnknownMasterKey, match=MASTER.key_id) as caught:
        OTHER.unwrap(blob)
    assert caught.value.key_id == MASTER.key_id
    # The same key id but other material (a forged id) fails authentication, not silently.
    forged = blob[:1] + bytes.fromhex(OTHER.key_id) + blob[9:]
    with pytest.raises(TamperedError):
        OTHER.unwrap(forged)


def test_key_ids_and_reprs_reveal_no_material() -> None:
    secret = bytes(range(32))
    assert MASTER.key_id == MasterKey(secret).key_id  # deterministic: env or file, same id
    assert MASTER.key_id != OTHER.key_id
    assert len(MASTER.key_id) == 16
    assert secret.hex()[:16] not in repr(MASTER)
    assert MASTER.key_id in repr(MASTER)
    key = new_data_key()
    assert key.material.hex() not in repr(key) and str(key.material) not in repr(key)
    with pytest.raises(ValueError, match="32 bytes, got 16"):
        DataKey(b"x" * 16)


def test_rotation_rewraps_every_key_once() -> None:
    keys = [new_data_key() for _ in range(5)]
    old_blobs = [MASTER.wrap(key) for key in keys]
    new_blobs = [rewrap(blob, MASTER, OTHER) for blob in old_blobs]
    assert [OTHER.unwrap(blob) for blob in new_blobs] == keys
    assert all(wrapped_key_id(blob) == OTHER.key_id for blob in new_blobs)
    # Re-running a rotation leaves finished rows as they are.
    assert [rewrap(blob, MASTER, OTHER) for blob in new_blobs] == new_blobs
    with pytest.raises(UnknownMasterKey):
        MASTER.unwrap(new_blobs[0])


def test_a_keyring_reads_old_and_new_during_rotation() -> None:
    ring = Keyring(OTHER, previous=[MASTER])
    key = new_data_key()
    old_blob = MASTER.wrap(key)
    assert ring.unwrap(old_blob) == key
    assert ring.needs_rewrap(old_blob)
    new_blob = ring.wrap(key)
    assert wrapped_key_id(new_blob) == OTHER.key_id and not ring.needs_rewrap(new_blob)
    assert rewrap(old_blob, ring, ring.current) != old_blob
    third = MasterKey(bytes(32), source="third")
    with pytest.raises(UnknownMasterKey):
        ring.unwrap(third.wrap(key))
    email = normalise("email", "ana@example.com")
    assert ring.index("email", email) == OTHER.index("email", email)
    assert ring.indexes("email", email) == [
        OTHER.index("email", email),
        MASTER.index("email", email),
    ]


# --- the identity index ---------------------------------------------------------------------


@given(st.emails(), st.emails())
def test_index_equal_for_equal_values_and_different_otherwise(a: str, b: str) -> None:
    first, second = normalise("email", a), normalise("email", b)
    assert MASTER.index("email", first) == MASTER.index("email", normalise("email", a.upper()))
    assert (MASTER.index("email", first) == MASTER.index("email", second)) == (first == second)


def test_index_shape_and_separation() -> None:
    value = normalise("external_id", "ana@example.com")
    digest = MASTER.index("external_id", value)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert digest != MASTER.index("email", value)  # kinds never collide
    assert digest != OTHER.index("external_id", value)  # a key per deployment
    assert value not in digest


def test_index_refuses_an_unnormalised_value() -> None:
    with pytest.raises(ValueError, match="email: index\\(\\) needs a normalised value"):
        MASTER.index("email", "Ana@Example.com")
    with pytest.raises(ValueError, match="phone"):
        MASTER.index("phone", "98765 43210")


def test_the_index_key_is_not_the_wrapping_key() -> None:
    """HKDF gives each purpose its own key: the index reveals nothing that unwraps."""
    import hashlib
    import hmac

    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    secret = bytes(range(32))
    value = "ana@example.com"
    message = b"email\x00" + value.encode()
    assert MASTER.index("email", value) != hmac.new(secret, message, hashlib.sha256).hexdigest()
    blob = MASTER.wrap(new_data_key())
    with pytest.raises(InvalidTag):
        AESGCM(secret).decrypt(blob[9:21], blob[21:], blob[:9] + b"troth data key")
