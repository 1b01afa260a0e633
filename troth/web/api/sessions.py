"""The database session and the master key a route works with, as FastAPI dependencies.

``Writing`` and ``Reading`` use ``scope="function"``: the transaction ends (committed, or rolled
back by an error) before the answer is sent, so a 2xx means the change is stored, and decision
caches have already dropped what it changed. A commit that fails is answered as an error, not
after a success was sent. ``Writing`` opens a writing transaction (on SQLite it holds the write
lock from its start, see :func:`troth.store.write_scope`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from troth.store import write_scope
from troth.subjects import Keyring

from ..site import Site, site


def _writing(request: Request) -> Iterator[Session]:
    with write_scope(site(request).sessions) as session:
        yield session


def _reading(request: Request) -> Iterator[Session]:
    with site(request).sessions() as session:
        yield session


Writing = Annotated[Session, Depends(_writing, scope="function")]
Reading = Annotated[Session, Depends(_reading, scope="function")]


def keyring_for(s: Site, needed_for: str) -> Keyring:
    """The site's master keyring, or 503 saying what cannot be done without one."""
    if s.keyring is None:
        raise HTTPException(status_code=503, detail=f"no master key is configured, so {needed_for}")
    return s.keyring
