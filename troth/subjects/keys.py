"""Key material: the master key, per-subject data keys, and the keyed index of identities.

The master key (32 random bytes) never encrypts anything itself. HKDF derives from it one subkey
per purpose, so that one secret never serves two: a key that wraps (encrypts) each subject's data
key, a key for the HMAC index of identities, a key for outgoing mail that has no subject (whose
address cannot go under a subject's data key), a key that signs links sent by email, a key for
the keyed hashes of email verification (codes, addresses, client addresses), a key that seals the
address a verification was started for, and a public key id recorded in every wrapped key so
that rotation knows which master key a row is under.
Staff accounts get keys of their own: one that indexes their email addresses, one that
seals their addresses and TOTP secrets, and one that signs console session cookies (see
docs/security.md).

Blob formats (all AES-256-GCM, random 96-bit nonces, the header authenticated with the data):

- encrypted value: ``0x01 | nonce (12) | ciphertext | tag (16)``
- wrapped data key: ``0x01 | master key id (8) | nonce (12) | wrapped key (32) | tag (16)``
- sealed staff secret: ``0x01 | master key id (8) | nonce (12) | ciphertext | tag (16)``
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .identities import IdentityKind, normalise

ENV_VAR = "TROTH_MASTER_KEY"
DEFAULT_KEY_FILE = Path("var/master.key")
KEY_BYTES = 32
KEY_ID_BYTES = 8
NONCE_BYTES = 12
TAG_BYTES = 16
FORMAT_V1 = 1

_WRAP_INFO = b"troth/v1 wrap subject data keys"
_INDEX_INFO = b"troth/v1 identity index"
_KEY_ID_INFO = b"troth/v1 master key id"
_OUTBOX_INFO = b"troth/v1 outbox messages without a subject"
_LINK_INFO = b"troth/v1 signed links"
_VERIFICATION_INFO = b"troth/v1 email verification hashes"
_VERIFICATION_SEAL_INFO = b"troth/v1 email verification addresses"
_STAFF_INDEX_INFO = b"troth/v1 staff email index"
_STAFF_SEAL_INFO = b"troth/v1 staff secrets"
_STAFF_COOKIE_INFO = b"troth/v1 staff session cookies"
_DATASET_HASH_INFO = b"troth/v1 dataset keyed hashes"
_ISOLATION_SEAL_INFO = b"troth/v1 isolated company data"
_WRAP_LABEL = b"troth data key"
_WRAPPED_SIZE = 1 + KEY_ID_BYTES + NONCE_BYTES + KEY_BYTES + TAG_BYTES


class KeyringError(Exception):
    """Base of the errors below; never carries key material or personal data."""


class KeyMaterialError(KeyringError):
    """A master key that cannot be loaded or created: missing, malformed, or unsafe."""


class TamperedError(KeyringError):
    """An encrypted value or wrapped key failed its integrity check."""


class UnknownMasterKey(KeyringError):
    """A wrapped key was wrapped under a master key that is not loaded."""

    def __init__(self, key_id: str) -> None:
        super().__init__(
            f"this data key was wrapped under master key {key_id}, which is not loaded; "
            "load that key (as the current or a previous key) to read it"
        )
        self.key_id = key_id


@dataclass(frozen=True)
class DataKey:
    """One subject's AES-256-GCM key. Destroying its wrapped form erases the subject's data."""

    material: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.material) != KEY_BYTES:
            raise ValueError(f"a data key is {KEY_BYTES} bytes, got {len(self.material)}")


def new_data_key() -> DataKey:
    return DataKey(AESGCM.generate_key(bit_length=256))


def encrypt(data_key: DataKey, plaintext: bytes, associated_data: bytes) -> bytes:
    """Encrypt under a subject's data key.

    ``associated_data`` is authenticated, not stored: give what the value belongs to (subject id,
    field) so that a ciphertext moved to another row fails to decrypt there.
    """
    header = bytes([FORMAT_V1])
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(data_key.material).encrypt(nonce, plaintext, header + associated_data)
    return header + nonce + sealed


def decrypt(data_key: DataKey, blob: bytes, associated_data: bytes) -> bytes:
    """The plaintext, or TamperedError if blob, key or associated data do not match."""
    if len(blob) < 1 + NONCE_BYTES + TAG_BYTES:
        raise TamperedError("not a troth encrypted value: too short")
    if blob[0] != FORMAT_V1:
        raise TamperedError(f"not a troth encrypted value: unknown format version {blob[0]}")
    header, nonce, sealed = blob[:1], blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(data_key.material).decrypt(nonce, sealed, header + associated_data)
    except InvalidTag:
        raise TamperedError(
            "encrypted value failed its integrity check: it was altered, or is read with "
            "another subject's key or other associated data than it was written with"
        ) from None


def _derive(secret: bytes, info: bytes, length: int = KEY_BYTES) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(secret)


class MasterKey:
    """The master secret and the purpose keys derived from it; its repr never shows them."""

    def __init__(self, secret: bytes, *, source: str = "master key") -> None:
        if len(secret) != KEY_BYTES:
            raise KeyMaterialError(
                f"{source}: a master key is exactly {KEY_BYTES} bytes, got {len(secret)}"
            )
        self.source = source
        self._id = _derive(secret, _KEY_ID_INFO, KEY_ID_BYTES)
        self._wrap = AESGCM(_derive(secret, _WRAP_INFO))
        self._index_key = _derive(secret, _INDEX_INFO)
        self._outbox_key = DataKey(_derive(secret, _OUTBOX_INFO))
        self._link_key = _derive(secret, _LINK_INFO)
        self._verification_key = _derive(secret, _VERIFICATION_INFO)
        self._verification_seal = DataKey(_derive(secret, _VERIFICATION_SEAL_INFO))
        self._staff_index_key = _derive(secret, _STAFF_INDEX_INFO)
        self._staff_seal = AESGCM(_derive(secret, _STAFF_SEAL_INFO))
        self._staff_cookie_key = _derive(secret, _STAFF_COOKIE_INFO)
        self._dataset_hash_key = _derive(secret, _DATASET_HASH_INFO)
        self._isolation_seal = AESGCM(_derive(secret, _ISOLATION_SEAL_INFO))

    @classmethod
    def generate(cls, *, source: str = "new master key") -> MasterKey:
        return cls(os.urandom(KEY_BYTES), source=source)

    @classmethod
    def from_base64(cls, text: str, *, source: str) -> MasterKey:
        """Parse base64 of 32 bytes (``openssl rand -base64 32``); errors name only the source."""
        cleaned = text.strip()
        if not cleaned:
            raise KeyMaterialError(f"{source}: is empty; expected base64 of {KEY_BYTES} bytes")
        try:
            secret = base64.b64decode(cleaned, validate=True)
        except (binascii.Error, ValueError):
            raise KeyMaterialError(
                f"{source}: not valid base64; expected base64 of {KEY_BYTES} random bytes "
                "(44 characters, e.g. from `troth keys create` or `openssl rand -base64 32`)"
            ) from None
        if len(secret) != KEY_BYTES:
            raise KeyMaterialError(
                f"{source}: decodes to {len(secret)} bytes; a master key is exactly "
                f"{KEY_BYTES} bytes (44 base64 characters)"
            )
        return cls(secret, source=source)

    @property
    def key_id(self) -> str:
        """A public name for this key (16 hex digits), derived one-way from it."""
        return self._id.hex()

    def __repr__(self) -> str:
        return f"MasterKey(key_id={self.key_id!r}, source={self.source!r})"

    def wrap(self, data_key: DataKey) -> bytes:
        header = bytes([FORMAT_V1]) + self._id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._wrap.encrypt(nonce, data_key.material, header + _WRAP_LABEL)
        return header + nonce + sealed

    def unwrap(self, blob: bytes) -> DataKey:
        key_id = wrapped_key_id(blob)
        if key_id != self.key_id:
            raise UnknownMasterKey(key_id)
        header_end = 1 + KEY_ID_BYTES
        header, nonce = blob[:header_end], blob[header_end : header_end + NONCE_BYTES]
        try:
            material = self._wrap.decrypt(
                nonce, blob[header_end + NONCE_BYTES :], header + _WRAP_LABEL
            )
        except InvalidTag:
            raise TamperedError(
                f"wrapped data key under master key {key_id} failed its integrity check: "
                "it was altered"
            ) from None
        return DataKey(material)

    def outbox_key(self) -> DataKey:
        """The key that encrypts an outgoing message which belongs to no subject."""
        return self._outbox_key

    def link_key(self) -> bytes:
        """The HMAC-SHA256 key that signs links sent by email (troth.notify.links)."""
        return self._link_key

    def verification_hash(self, label: str, value: str) -> str:
        """HMAC-SHA256 (hex) of ``value`` for email verification: ``label`` keeps a code, an
        address and a client address apart, so one can never stand for another."""
        message = label.encode("ascii") + b"\x00" + value.encode("utf-8")
        return hmac.new(self._verification_key, message, hashlib.sha256).hexdigest()

    def verification_seal(self) -> DataKey:
        """The key that encrypts the address a verification was started for."""
        return self._verification_seal

    def index(self, kind: IdentityKind | str, normalised_value: str) -> str:
        """HMAC-SHA256 of a normalised identity, hex: equal identities, equal index values."""
        parsed = IdentityKind(kind)
        if normalise(parsed, normalised_value) != normalised_value:
            # A lookup with an unnormalised value would silently find no one.
            raise ValueError(f"{parsed}: index() needs a normalised value; call normalise() first")
        message = parsed.value.encode("ascii") + b"\x00" + normalised_value.encode("utf-8")
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()

    def staff_index(self, normalised_email: str) -> str:
        """HMAC-SHA256 of a staff member's normalised email address, hex.

        A key of its own, so that a staff address and a subject's equal address give unrelated
        index values: one table cannot be joined to the other through them.
        """
        return hmac.new(
            self._staff_index_key, normalised_email.encode("utf-8"), hashlib.sha256
        ).hexdigest()

    def _seal(self, aead: AESGCM, plaintext: bytes, associated_data: bytes) -> bytes:
        header = bytes([FORMAT_V1]) + self._id
        nonce = os.urandom(NONCE_BYTES)
        return header + nonce + aead.encrypt(nonce, plaintext, header + associated_data)

    def _open(self, aead: AESGCM, blob: bytes, associated_data: bytes, what: str) -> bytes:
        key_id = sealed_key_id(blob)
        if key_id != self.key_id:
            raise UnknownMasterKey(key_id)
        header_end = 1 + KEY_ID_BYTES
        header, nonce = blob[:header_end], blob[header_end : header_end + NONCE_BYTES]
        try:
            return aead.decrypt(nonce, blob[header_end + NONCE_BYTES :], header + associated_data)
        except InvalidTag:
            raise TamperedError(
                f"{what} failed its integrity check: it was altered, or moved to another place"
            ) from None

    def seal_staff(self, plaintext: bytes, associated_data: bytes) -> bytes:
        """Encrypt a staff account's secret (its address, its TOTP secret) under this key."""
        return self._seal(self._staff_seal, plaintext, associated_data)

    def open_staff(self, blob: bytes, associated_data: bytes) -> bytes:
        return self._open(self._staff_seal, blob, associated_data, "sealed staff secret")

    def seal_isolated(self, plaintext: bytes, associated_data: bytes) -> bytes:
        """Encrypt values a retention rule isolated from a company database's row (they are kept
        in that database, readable through troth alone)."""
        return self._seal(self._isolation_seal, plaintext, associated_data)

    def open_isolated(self, blob: bytes, associated_data: bytes) -> bytes:
        return self._open(self._isolation_seal, blob, associated_data, "isolated company data")

    def sign_staff_cookie(self, value: str) -> str:
        """HMAC-SHA256 of a console session cookie's value, hex."""
        return hmac.new(self._staff_cookie_key, value.encode("ascii"), hashlib.sha256).hexdigest()

    def dataset_hash_key(self) -> bytes:
        """The key of the keyed hash that erasure writes over a company database's column
        (troth.datasets, mask ``hash``)."""
        return self._dataset_hash_key


def sealed_key_id(blob: bytes) -> str:
    """The id of the master key a sealed value (a staff secret, isolated company data) was
    sealed under."""
    if len(blob) < 1 + KEY_ID_BYTES + NONCE_BYTES + TAG_BYTES:
        raise TamperedError("not a troth sealed value: too short")
    if blob[0] != FORMAT_V1:
        raise TamperedError(f"not a troth sealed value: unknown format version {blob[0]}")
    return blob[1 : 1 + KEY_ID_BYTES].hex()


def wrapped_key_id(blob: bytes) -> str:
    """The id of the master key a wrapped data key was wrapped under."""
    if len(blob) != _WRAPPED_SIZE:
        raise TamperedError(
            f"not a troth wrapped data key: {len(blob)} bytes, expected {_WRAPPED_SIZE}"
        )
    if blob[0] != FORMAT_V1:
        raise TamperedError(f"not a troth wrapped data key: unknown format version {blob[0]}")
    return blob[1 : 1 + KEY_ID_BYTES].hex()


class Keyring:
    """The current master key (wraps and indexes) and previous ones (still read during rotation)."""

    def __init__(self, current: MasterKey, previous: Iterable[MasterKey] = ()) -> None:
        self.current = current
        self.keys = {current.key_id: current}
        for key in previous:
            self.keys.setdefault(key.key_id, key)

    def wrap(self, data_key: DataKey) -> bytes:
        return self.current.wrap(data_key)

    def unwrap(self, blob: bytes) -> DataKey:
        key_id = wrapped_key_id(blob)
        if key_id not in self.keys:
            raise UnknownMasterKey(key_id)
        return self.keys[key_id].unwrap(blob)

    def needs_rewrap(self, blob: bytes) -> bool:
        return wrapped_key_id(blob) != self.current.key_id

    def index(self, kind: IdentityKind | str, normalised_value: str) -> str:
        return self.current.index(kind, normalised_value)

    def outbox_keys(self) -> list[DataKey]:
        """The subjectless outbox key under every loaded master key, current first."""
        return [key.outbox_key() for key in self.keys.values()]

    def link_keys(self) -> list[bytes]:
        """The link-signing key under every loaded master key, current first: a link signed
        before a rotation still verifies while the previous key is loaded."""
        return [key.link_key() for key in self.keys.values()]

    def verification_hashes(self, label: str, value: str) -> list[str]:
        """The verification hash under every loaded key, current first: a code sent just before
        a rotation still checks while the previous key is loaded."""
        return [key.verification_hash(label, value) for key in self.keys.values()]

    def indexes(self, kind: IdentityKind | str, normalised_value: str) -> list[str]:
        """The index value under every loaded key, current first: lookups during a rotation."""
        return [key.index(kind, normalised_value) for key in self.keys.values()]

    def staff_index(self, normalised_email: str) -> str:
        return self.current.staff_index(normalised_email)

    def staff_indexes(self, normalised_email: str) -> list[str]:
        """A staff address's index value under every loaded key, current first."""
        return [key.staff_index(normalised_email) for key in self.keys.values()]

    def seal_staff(self, plaintext: bytes, associated_data: bytes) -> bytes:
        return self.current.seal_staff(plaintext, associated_data)

    def open_staff(self, blob: bytes, associated_data: bytes) -> bytes:
        key_id = sealed_key_id(blob)
        if key_id not in self.keys:
            raise UnknownMasterKey(key_id)
        return self.keys[key_id].open_staff(blob, associated_data)

    def seal_isolated(self, plaintext: bytes, associated_data: bytes) -> bytes:
        return self.current.seal_isolated(plaintext, associated_data)

    def open_isolated(self, blob: bytes, associated_data: bytes) -> bytes:
        key_id = sealed_key_id(blob)
        if key_id not in self.keys:
            raise UnknownMasterKey(key_id)
        return self.keys[key_id].open_isolated(blob, associated_data)

    def sign_staff_cookie(self, value: str) -> str:
        return self.current.sign_staff_cookie(value)

    def staff_cookie_signed(self, value: str, signature: str) -> bool:
        """Whether ``signature`` signs ``value`` under any loaded key, in constant time."""
        matches = False
        for key in self.keys.values():
            matches |= hmac.compare_digest(key.sign_staff_cookie(value), signature)
        return matches


def rewrap(blob: bytes, old: MasterKey | Keyring, new: MasterKey) -> bytes:
    """The data key in ``blob`` wrapped under ``new``; a blob already under ``new`` is returned
    as it is, so that re-running a half-done rotation finishes it and changes nothing twice."""
    if wrapped_key_id(blob) == new.key_id:
        return blob
    return new.wrap(old.unwrap(blob))


def load_master_key(
    path: Path = DEFAULT_KEY_FILE, environ: Mapping[str, str] | None = None
) -> MasterKey:
    """The master key from ``TROTH_MASTER_KEY`` if that is set, else from the key file."""
    env = os.environ if environ is None else environ
    if ENV_VAR in env:
        return MasterKey.from_base64(env[ENV_VAR], source=ENV_VAR)
    return read_key_file(path)


def read_key_file(path: Path) -> MasterKey:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyMaterialError(
            f"{path}: no such key file; create one with `troth keys create --file {path}` "
            f"or set {ENV_VAR}"
        ) from None
    except OSError as exc:
        raise KeyMaterialError(f"{path}: cannot read key file: {exc.strerror}") from None
    if os.name == "posix" and stat.S_IMODE(mode) & 0o077:
        raise KeyMaterialError(
            f"{path}: key file is readable or writable by other users (mode "
            f"{stat.S_IMODE(mode):04o}); run `chmod 600 {path}`"
        )
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not ASCII text"
        raise KeyMaterialError(f"{path}: cannot read key file: {reason}") from None
    return MasterKey.from_base64(text, source=str(path))


def create_key_file(path: Path = DEFAULT_KEY_FILE) -> MasterKey:
    """Write a new random master key to ``path``, mode 0600; never overwrites an existing file.

    The key is written to a temporary file and hard-linked into place, so ``path`` appears whole
    or not at all, and the link fails rather than replace a key written meanwhile.
    """
    if path.exists() or path.is_symlink():
        raise KeyMaterialError(
            f"{path}: already exists; troth never overwrites a master key "
            "(every data key wrapped under it would become unreadable)"
        )
    secret = os.urandom(KEY_BYTES)
    key = MasterKey(secret, source=str(path))
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    temporary = directory / f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            os.fchmod(handle.fileno(), 0o600)  # whatever the umask
            handle.write(base64.b64encode(secret).decode("ascii") + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            raise KeyMaterialError(
                f"{path}: already exists; troth never overwrites a master key"
            ) from None
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_directory(directory)
    return key


def _fsync_directory(directory: Path) -> None:
    """Make the new directory entry durable, so a crash cannot lose a key already reported."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory; the file itself is synced
    finally:
        os.close(fd)
