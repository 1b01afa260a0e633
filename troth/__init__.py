"""troth keeps the promises a privacy policy makes.

In-process, the decision is two calls, and collecting personal data one more::

    import troth

    troth.connect("privacy.yaml", "postgresql+psycopg://troth@db/troth")
    if troth.allows(subject_id, "newsletter"):
        ...
    troth.collect(
        ("email", "ana@example.com"),
        [("user.name", "Ana Ruiz"), ("user.contact.email", "ana@example.com")],
        source="contact_form",
        purpose="answer_inquiries",
    )

``connect`` loads the declaration, opens the database, starts a decision cache that follows
other processes' writes (see docs/consent.md) and loads the master key; ``allows`` answers from
memory; ``collect`` stores a submission in the vault (see docs/vault.md).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from troth.consent import Decision, DecisionCache
    from troth.declaration import Policy
    from troth.subjects import Keyring
    from troth.vault import Collected, FieldInput

__version__ = "0.1.0"
__all__ = ["allows", "collect", "connect", "disconnect"]


@dataclass(frozen=True)
class _Connection:
    decisions: DecisionCache
    policy: Policy
    sessions: sessionmaker[Session]
    keyring: Keyring | None


_default: _Connection | None = None
_lock = threading.Lock()


def connect(
    policy: Policy | str | Path,
    db_url: str,
    *,
    key_file: str | Path | None = None,
    keyring: Keyring | None = None,
) -> DecisionCache:
    """Make ``troth.allows`` and ``troth.collect`` work for ``policy`` and the database at
    ``db_url``.

    ``policy`` is a loaded :class:`~troth.declaration.Policy` or the path of a declaration.
    The master key (needed by ``collect`` only) is ``keyring`` if given, else read as
    ``troth serve`` reads it: ``TROTH_MASTER_KEY``, or ``key_file`` (default
    ``var/master.key``). A ``key_file`` named here must load; without one, a process that only
    asks ``allows`` needs no key. Returns the decision cache. Connecting again replaces it.
    """
    global _default
    from troth.consent import DecisionCache
    from troth.declaration import load_policy
    from troth.store import make_engine, make_sessionmaker
    from troth.subjects import DEFAULT_KEY_FILE, ENV_VAR, Keyring, load_master_key

    loaded = policy if not isinstance(policy, str | Path) else load_policy(policy)
    if keyring is None:
        path = Path(key_file) if key_file is not None else DEFAULT_KEY_FILE
        if key_file is not None or ENV_VAR in os.environ or path.exists():
            keyring = Keyring(load_master_key(path))
    sessions = make_sessionmaker(make_engine(db_url))
    cache = DecisionCache(loaded, sessions).start()
    with _lock:
        previous, _default = _default, _Connection(cache, loaded, sessions, keyring)
    if previous is not None:
        previous.decisions.close()
    return cache


def disconnect() -> None:
    """Stop the cache ``connect`` started."""
    global _default
    with _lock:
        previous, _default = _default, None
    if previous is not None:
        previous.decisions.close()


def allows(subject_id: str, purpose: str) -> Decision:
    """May ``subject_id``'s data be used for ``purpose``? A Decision, truthy when allowed."""
    connection = _default
    if connection is None:
        raise RuntimeError("call troth.connect(declaration, db_url) before troth.allows")
    return connection.decisions.allows(subject_id, purpose)


def collect(
    identity: tuple[str, str] | Mapping[str, str],
    fields: Sequence[FieldInput | Mapping[str, object] | tuple[str, str]],
    *,
    source: str,
    purpose: str,
    collection_point: str | None = None,
    actor_id: str = "in-process",
    parent_email: str | None = None,
    base_url: str | None = None,
) -> Collected:
    """Store one submission for the subject of ``identity`` (``(kind, value)``), committed.

    ``fields`` are ``(category, value)`` pairs (or ``{"category", "value"}``). Raises
    :class:`troth.vault.CollectionRefused` naming each field at fault; nothing is stored then.
    The audit event names ``actor_id`` as a system actor. A child's submission needs
    ``parent_email`` and ``base_url`` (where people reach the site, for the parent's consent
    link): it is held until the parent consents (docs/children.md). See docs/vault.md.
    """
    from datetime import UTC, datetime

    from troth.audit import Actor
    from troth.store import write_scope
    from troth.vault import collect as collect_submission

    connection = _default
    if connection is None:
        raise RuntimeError("call troth.connect(declaration, db_url) before troth.collect")
    if connection.keyring is None:
        raise RuntimeError(
            "troth.collect needs the master key: set TROTH_MASTER_KEY, or pass key_file= to "
            "troth.connect"
        )
    with write_scope(connection.sessions) as session:
        return collect_submission(
            session,
            connection.policy,
            connection.keyring,
            identity=identity,
            fields=fields,
            source=source,
            purpose=purpose,
            collection_point=collection_point,
            now=datetime.now(UTC),
            actor=Actor.system(actor_id),
            parent_email=parent_email,
            base_url=base_url,
        )
