"""Alembic environment: runs on the connection :func:`troth.store.upgrade` hands over."""

from __future__ import annotations

import importlib

from alembic import context

from troth.store.base import Base

# Only migrations (and autogenerate) need every table in one metadata; importing the domain
# packages' models here keeps troth.store itself free of upward imports.
TABLE_MODULES = (
    "troth.publishing.models",
    "troth.audit.models",
    "troth.subjects.models",
    "troth.consent.models",
    "troth.apikeys.models",
    "troth.vault.models",
    "troth.notify.models",
    "troth.publications.models",
    "troth.staff.models",
    "troth.jobs.models",
    "troth.rights.models",
    "troth.retention.models",
)
for module in TABLE_MODULES:
    importlib.import_module(module)

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "troth migrations run through troth.store.upgrade(url) or troth.store.alembic_config()"
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
