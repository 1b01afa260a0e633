"""The ``troth`` command: thin adapters over the declaration and the domain services.

Each module registers its commands on the one Typer ``app``; importing them here builds it.
"""

from . import (  # noqa: F401  (they register commands)
    apikeys,
    audit,
    children,
    clients,
    datasets,
    declaration,
    events,
    keys,
    mail,
    retention,
    serving,
    staff,
    worker,
)
from .app import DEFAULT_DB, DEFAULT_DECLARATION, app

__all__ = ["DEFAULT_DB", "DEFAULT_DECLARATION", "app"]
