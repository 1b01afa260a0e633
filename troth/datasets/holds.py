"""Legal holds as a retention sweep over a company database sees them (P19).

A hold suspends deletion and anonymization until it is lifted; the next sweep after that acts.
The vault keeps the holds themselves (who placed them, why, until when); a sweep is handed what is
in force now, as :class:`Holds`:

- ``categories``: a field is held when one of its categories is under a held category, or a held
  category is under one of its categories (a field declared ``user.contact`` may hold the e-mail
  address a hold on ``user.contact.email`` protects).
- ``datasets``: ``"portal"`` holds the whole dataset, ``"portal.orders"`` one collection.
- ``identities``: holds on subjects, by identity type as dataset files name them (``email``,
  ``phone_number``, ``external_id``) with their values. Every row the subject's identities reach
  (the rows an access request would return, found by the same traversal) is left alone. A row
  whose identifying columns were already removed by an earlier sweep can no longer be found.
- ``clients``: not used here. A dataset file declares no client column, so a hold on a client
  cannot pick rows of a company database; it applies to the vault only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from troth.declaration.taxonomy import is_under

from .model import Collection, Dataset, Field
from .reach import PrimaryKeys
from .run import Target


@dataclass(frozen=True)
class Holds:
    """The legal holds in force when a sweep runs."""

    categories: frozenset[str] = frozenset()
    datasets: frozenset[str] = frozenset()
    identities: dict[str, list[Any]] = field(default_factory=dict)
    clients: frozenset[str] = frozenset()

    def holds_collection(self, dataset: Dataset, collection: Collection) -> bool:
        return dataset.key in self.datasets or f"{dataset.key}.{collection.name}" in self.datasets

    def holds_field(self, f: Field) -> bool:
        return any(
            is_under(category, held) or is_under(held, category)
            for category in f.categories
            for held in self.categories
        )

    def held_rows(self, target: Target) -> PrimaryKeys:
        """Primary keys, per collection, of the rows the held subjects' identities reach."""
        wanted = {
            kind: [v for v in values if v is not None] for kind, values in self.identities.items()
        }
        if not any(wanted.values()):
            return {}
        with target.engine.connect() as conn:
            found = target.access(conn, wanted)
        keys: PrimaryKeys = {}
        for name, rows in found.items():
            pk = target.dataset.collection(name).primary_key
            if pk and rows:
                keys[name] = sorted(tuple(row[c] for c in pk) for row in rows)
        return keys


NO_HOLDS = Holds()
