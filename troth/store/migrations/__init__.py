"""Alembic migrations for troth's tables; run them with :func:`troth.store.upgrade`."""
