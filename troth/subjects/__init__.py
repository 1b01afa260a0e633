"""Data subjects: their identities, normalised and indexed, and the keys that protect their data.

Identity values are personal data: troth stores them only encrypted under the subject's own
data key, and finds them through a keyed HMAC index (see docs/security.md).
"""

from .identities import IdentityError, IdentityKind, new_browser_id, normalise
from .keys import (
    DEFAULT_KEY_FILE,
    ENV_VAR,
    DataKey,
    KeyMaterialError,
    Keyring,
    KeyringError,
    MasterKey,
    TamperedError,
    UnknownMasterKey,
    create_key_file,
    decrypt,
    encrypt,
    load_master_key,
    new_data_key,
    read_key_file,
    rewrap,
    wrapped_key_id,
)

__all__ = [
    "DEFAULT_KEY_FILE",
    "ENV_VAR",
    "DataKey",
    "IdentityError",
    "IdentityKind",
    "KeyMaterialError",
    "Keyring",
    "KeyringError",
    "MasterKey",
    "TamperedError",
    "UnknownMasterKey",
    "create_key_file",
    "decrypt",
    "encrypt",
    "load_master_key",
    "new_browser_id",
    "new_data_key",
    "normalise",
    "read_key_file",
    "rewrap",
    "wrapped_key_id",
]
