"""troth keeps the promises a privacy policy makes.

In-process, the decision is two calls::

    import troth

    troth.connect("privacy.yaml", "postgresql+psycopg://troth@db/troth")
    if troth.allows(subject_id, "newsletter"):
        ...

``connect`` loads the declaration, opens the database and starts a decision cache that follows
other processes' writes (see docs/consent.md); ``allows`` answers from memory.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from troth.consent import Decision, DecisionCache
    from troth.declaration import Policy

__version__ = "0.1.0"
__all__ = ["allows", "connect", "disconnect"]

_default: DecisionCache | None = None
_lock = threading.Lock()


def connect(policy: Policy | str | Path, db_url: str) -> DecisionCache:
    """Make ``troth.allows`` answer for ``policy`` from the ledger in ``db_url``.

    ``policy`` is a loaded :class:`~troth.declaration.Policy` or the path of a declaration.
    Returns the decision cache (also usable directly). Connecting again replaces it.
    """
    global _default
    from troth.consent import DecisionCache
    from troth.declaration import load_policy
    from troth.store import make_engine, make_sessionmaker

    loaded = policy if not isinstance(policy, str | Path) else load_policy(policy)
    cache = DecisionCache(loaded, make_sessionmaker(make_engine(db_url))).start()
    with _lock:
        previous, _default = _default, cache
    if previous is not None:
        previous.close()
    return cache


def disconnect() -> None:
    """Stop the cache ``connect`` started."""
    global _default
    with _lock:
        previous, _default = _default, None
    if previous is not None:
        previous.close()


def allows(subject_id: str, purpose: str) -> Decision:
    """May ``subject_id``'s data be used for ``purpose``? A Decision, truthy when allowed."""
    cache = _default
    if cache is None:
        raise RuntimeError("call troth.connect(declaration, db_url) before troth.allows")
    return cache.allows(subject_id, purpose)
