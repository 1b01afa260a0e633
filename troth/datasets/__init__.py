"""The company's own databases: dataset files, and rights requests run inside them as set-based
SQL (see docs/datasets.md)."""

from .connections import Connected, ConnectionConfigError, connect_datasets, env_name
from .graph import Traversal, traverse
from .hashing import is_keyed_hash, keyed_hash
from .model import (
    IDENTITY_KINDS,
    Collection,
    Dataset,
    DatasetError,
    Edge,
    Field,
    fides_identities,
    load_datasets,
    read_datasets,
)
from .run import Erasure, KeptField, Target, jsonable

__all__ = [
    "IDENTITY_KINDS",
    "Collection",
    "Connected",
    "ConnectionConfigError",
    "Dataset",
    "DatasetError",
    "Edge",
    "Erasure",
    "Field",
    "KeptField",
    "Target",
    "Traversal",
    "connect_datasets",
    "env_name",
    "fides_identities",
    "is_keyed_hash",
    "jsonable",
    "keyed_hash",
    "load_datasets",
    "read_datasets",
    "traverse",
]
