"""API keys: how servers authenticate to troth's JSON API, each key limited to its scopes.

Owns the ``api_keys`` table. A key is shown once, when it is created; troth keeps only the hash
of its secret. Creating and revoking a key write their audit events (``apikey.created``,
``apikey.revoked``) in the same transaction. See docs/api.md.
"""

from .cache import DEFAULT_TTL, NOT_CACHED, KeyCache, NotCached
from .keys import (
    KEY_PREFIX,
    ApiKeyNotFound,
    AuthenticatedKey,
    authenticate,
    create_key,
    get_key,
    list_keys,
    parse_key,
    revoke_key,
)
from .models import ApiKey
from .scopes import SCOPES, UnknownScope, checked_scopes

__all__ = [
    "DEFAULT_TTL",
    "KEY_PREFIX",
    "NOT_CACHED",
    "SCOPES",
    "ApiKey",
    "ApiKeyNotFound",
    "AuthenticatedKey",
    "KeyCache",
    "NotCached",
    "UnknownScope",
    "authenticate",
    "checked_scopes",
    "create_key",
    "get_key",
    "list_keys",
    "parse_key",
    "revoke_key",
]
