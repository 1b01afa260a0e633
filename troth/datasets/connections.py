"""Which company databases a worker runs requests over, and how it reaches them.

Dataset files say where personal data lives; they never say how to connect. Each dataset's
connection string comes from the environment, ``TROTH_DATASET_<KEY>_URL`` (the dataset's
``fides_key`` upper-cased, other characters as ``_``), or from a secrets file::

    datasets:
      portal: postgresql+psycopg://troth@db.internal/portal

The environment wins over the file. A missing connection is an error at start, naming the
variable to set; the URL itself is never printed, logged or stored (errors show it with the
password hidden at most). Each dataset is bound to its database on first use, so a database that
is down when the worker starts fails the requests that need it (they are retried), not the worker.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from troth.declaration import Policy

from .model import Dataset, DatasetError, load_datasets
from .run import Target

ENV_PREFIX = "TROTH_DATASET_"
SECRETS_ENV = "TROTH_SECRETS_FILE"


class ConnectionConfigError(ValueError):
    """A dataset without a usable connection string; the message never contains the URL."""


def env_name(key: str) -> str:
    return ENV_PREFIX + re.sub(r"[^A-Z0-9]", "_", key.upper()) + "_URL"


def read_secrets(path: Path) -> dict[str, str]:
    """The ``datasets:`` mapping of a secrets file (YAML)."""
    try:
        document = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConnectionConfigError(
            f"{path}: cannot read the secrets file: {exc.strerror}"
        ) from None
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConnectionConfigError(f"{where}: the secrets file is not valid YAML") from None
    urls = (document or {}).get("datasets") if isinstance(document, dict) else None
    if urls is None:
        return {}
    if not isinstance(urls, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in urls.items()
    ):
        raise ConnectionConfigError(
            f"{path}: 'datasets' must map each dataset key to a connection string"
        )
    return dict(urls)


def dataset_url(key: str, *, environ: Mapping[str, str], secrets: Mapping[str, str]) -> str:
    url = environ.get(env_name(key)) or secrets.get(key)
    if not url:
        raise ConnectionConfigError(
            f"dataset {key}: no connection string; set {env_name(key)} or add "
            f"'datasets: {{{key}: ...}}' to the secrets file ({SECRETS_ENV})"
        )
    try:
        make_url(url)
    except ArgumentError:
        raise ConnectionConfigError(
            f"dataset {key}: the connection string is not a database URL "
            "(e.g. postgresql+psycopg://user@host/db)"
        ) from None
    return url


def dataset_files(paths: Sequence[Path]) -> list[Path]:
    """Each path as given, or the ``*.yaml`` and ``*.yml`` files in it when it is a folder."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
        else:
            files.append(path)
    return files


class Connected:
    """The datasets a worker serves, each bound to its database on first use."""

    def __init__(
        self, datasets: Sequence[Dataset], urls: Mapping[str, str], policy: Policy | None
    ) -> None:
        self.datasets = {d.key: d for d in datasets}
        self._urls = dict(urls)
        self._policy = policy
        self._targets: dict[str, Target] = {}
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()

    @property
    def keys(self) -> list[str]:
        return list(self.datasets)

    def target(self, key: str) -> Target:
        with self._lock:
            if key not in self._targets:
                engine = self._engines.get(key) or create_engine(
                    self._urls[key], pool_pre_ping=True
                )
                self._engines[key] = engine
                self._targets[key] = Target(self.datasets[key], engine, policy=self._policy)
            return self._targets[key]

    def engine(self, key: str) -> Engine:
        return self.target(key).engine

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()


def connect_datasets(
    paths: Sequence[Path],
    *,
    policy: Policy | None,
    secrets_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Connected:
    """Load the dataset files at ``paths`` and find each one's connection string. Raises
    :class:`DatasetError` for a bad file, :class:`ConnectionConfigError` for a missing URL."""
    env = os.environ if environ is None else environ
    secrets_path = secrets_file or (Path(env[SECRETS_ENV]) if env.get(SECRETS_ENV) else None)
    secrets = read_secrets(secrets_path) if secrets_path is not None else {}
    datasets: list[Dataset] = []
    for file in dataset_files(paths):
        datasets += load_datasets(file)
    keys = [d.key for d in datasets]
    for key in sorted({k for k in keys if keys.count(k) > 1}):
        first = next(d for d in datasets if d.key == key)
        raise DatasetError([first.problem((), "error", f"dataset {key} is loaded twice")])
    urls = {d.key: dataset_url(d.key, environ=env, secrets=secrets) for d in datasets}
    return Connected(datasets, urls, policy)
