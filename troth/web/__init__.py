"""The web app (FastAPI): a thin adapter over the domain services."""

from .app import create_app

__all__ = ["create_app"]
