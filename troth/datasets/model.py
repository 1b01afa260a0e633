"""A dataset file: where personal data lives in one of the company's own databases.

The file is a Fides dataset (``dataset:`` with collections, fields, ``data_categories`` and
``fides_meta`` for identities, references, primary keys and data types), read with the
``fideslang`` models, so a file written for Fides loads unchanged. troth's own additions sit under
a ``troth`` key, which Fides ignores::

    collections:
      - name: orders
        troth: {timestamp: created_at}          # the column the retention clock starts from
        fields:
          - name: billing_name
            data_categories: [user.name]
            troth: {mask: fixed, value: "erased", retention: financial_records}

Field masks: ``nullify`` (the default), ``fixed`` (with ``value``), ``hash`` (a keyed hash, for
text columns) and ``delete_row`` (erasing the field deletes the row). ``retention`` names the
declaration's retention rule the field falls under; with ``timestamp`` (on the field or its
collection) erasure keeps the field while that rule holds it.

Loading checks what needs neither the declaration nor the database: the Fides schema, troth's
keys, and that references name collections and fields of the same dataset. Every problem is
reported at once as ``FILE:LINE:COL: error: message`` (:class:`DatasetError`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any, Literal

from fideslang.models import Dataset as FidesDataset
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from troth.declaration.loader import Positions, validation_findings, yaml_problem
from troth.declaration.model import Key
from troth.declaration.problems import Finding, Path, Problem, dotted
from troth.declaration.taxonomy import is_under

MaskName = Literal["nullify", "fixed", "hash", "delete_row"]
Scalar = str | int | float | bool
# The identity types troth can query by, as Fides names them, with the troth identity kind each
# is read from (troth.subjects.IdentityKind).
IDENTITY_KINDS = {"email": "email", "phone_number": "phone", "external_id": "external_id"}


def fides_identities(found: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """A person's identities, given as (troth identity kind, value), under the names dataset
    files query by (``email``, ``phone_number``, ``external_id``); other kinds are left out."""
    names = {kind: name for name, kind in IDENTITY_KINDS.items()}
    result: dict[str, list[str]] = {}
    for kind, value in found:
        name = names.get(kind)
        if name is not None:
            result.setdefault(name, []).append(value)
    return result


class DatasetError(Exception):
    """A dataset file has at least one error; ``problems`` holds all of them (and warnings)."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__("\n".join(str(p) for p in errors) or "invalid dataset")


class _TrothField(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mask: MaskName = "nullify"
    value: Scalar | None = None
    retention: Key | None = None
    timestamp: str | None = None

    @model_validator(mode="after")
    def _fixed_has_value(self) -> _TrothField:
        if self.mask == "fixed" and self.value is None:
            raise ValueError("mask 'fixed' needs a 'value' to write in place of the data")
        if self.mask != "fixed" and self.value is not None:
            raise ValueError(f"'value' is only for mask 'fixed', not '{self.mask}'")
        return self


class _TrothCollection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timestamp: str | None = None


@dataclass(frozen=True)
class Field:
    name: str
    categories: tuple[str, ...]
    identity: str | None
    primary_key: bool
    data_type: str | None
    length: int | None
    read_only: bool
    mask: MaskName
    value: Scalar | None
    retention: str | None
    timestamp: str | None
    references: tuple[tuple[str, str, str | None], ...]
    path: Path

    @property
    def personal(self) -> bool:
        """A field holds personal data when any of its categories is under ``user``."""
        return any(is_under(c, "user") for c in self.categories)


@dataclass(frozen=True)
class Edge:
    """Rows of ``target`` are reached from rows of ``source``: target.tfield = source.sfield."""

    source: str
    source_field: str
    target: str
    target_field: str


@dataclass(frozen=True)
class Collection:
    name: str
    fields: tuple[Field, ...]
    timestamp: str | None
    path: Path

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def primary_key(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.primary_key)

    @property
    def identities(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.identity)

    @property
    def personal(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.personal)

    @property
    def deletes_rows(self) -> bool:
        return any(f.mask == "delete_row" for f in self.personal)


@dataclass(frozen=True)
class Dataset:
    key: str
    name: str
    collections: tuple[Collection, ...]
    edges: tuple[Edge, ...]
    file: str
    positions: Positions = field(repr=False, compare=False)
    path: Path = ()

    def collection(self, name: str) -> Collection:
        found = next((c for c in self.collections if c.name == name), None)
        if found is None:
            raise KeyError(name)
        return found

    def where(self, path: Path) -> tuple[int, int]:
        """Line and column of a part of this dataset in its file (``path`` from the file's top,
        as a Collection's or Field's ``path`` is)."""
        return self.positions.locate(path)

    def problem(self, path: Path, severity: Literal["error", "warning"], message: str) -> Problem:
        line, col = self.where(path)
        return Problem(self.file, line, col, severity, message)


def _field(raw: Any, troth_raw: Any, path: Path, findings: list[Finding]) -> Field | None:
    meta = raw.fides_meta
    try:
        extra = _TrothField.model_validate(troth_raw or {})
    except ValidationError as exc:
        for finding, _ in validation_findings(exc, troth_raw):
            findings.append(Finding((*path, "troth", *finding.path), "error", finding.message))
        return None
    if raw.fields:
        findings.append(
            Finding(
                path,
                "error",
                f"field {raw.name}: nested fields describe document databases; a SQL dataset "
                "lists each column as a field of its own",
            )
        )
        return None
    return Field(
        name=raw.name,
        categories=tuple(raw.data_categories or ()),
        identity=meta.identity if meta else None,
        primary_key=bool(meta and meta.primary_key),
        data_type=meta.data_type if meta else None,
        length=meta.length if meta else None,
        read_only=bool(meta and meta.read_only),
        mask=extra.mask,
        value=extra.value,
        retention=extra.retention,
        timestamp=extra.timestamp,
        references=tuple(
            (r.dataset, r.field, r.direction.value if r.direction else None)
            for r in ((meta.references or []) if meta else [])
        ),
        path=path,
    )


def _edges(dataset_key: str, collections: list[Collection], findings: list[Finding]) -> list[Edge]:
    columns = {(c.name, f.name) for c in collections for f in c.fields}
    edges: list[Edge] = []
    for collection in collections:
        for fld in collection.fields:
            for ri, (other_dataset, other, direction) in enumerate(fld.references):
                path = (*fld.path, "fides_meta", "references", ri)
                here = f"{collection.name}.{fld.name}"
                if other_dataset != dataset_key:
                    findings.append(
                        Finding(
                            path,
                            "error",
                            f"{here}: a reference to another dataset ({other_dataset}) cannot be "
                            "followed; each dataset is one database, and troth follows references "
                            "inside it",
                        )
                    )
                    continue
                other_collection, _, other_field = other.partition(".")
                if (other_collection, other_field) not in columns:
                    findings.append(
                        Finding(
                            path,
                            "error",
                            f"{here}: the reference names {other}, which is not a field of "
                            f"dataset {dataset_key}",
                        )
                    )
                    continue
                # "from": data flows from the named field to this one; "to": the other way;
                # no direction: either way.
                if direction in ("from", None):
                    edges.append(Edge(other_collection, other_field, collection.name, fld.name))
                if direction in ("to", None):
                    edges.append(Edge(collection.name, fld.name, other_collection, other_field))
    return edges


def _dataset(
    data: dict[str, Any], base: Path, filename: str, positions: Positions, findings: list[Finding]
) -> Dataset | None:
    start = len(findings)
    try:
        fides = FidesDataset.model_validate(data)
    except ValidationError as exc:
        for finding, _ in validation_findings(exc, data):
            findings.append(Finding((*base, *finding.path), "error", finding.message))
        return None
    # fideslang sorts collections and fields by name; troth keeps the file's order and positions.
    by_name = {c.name: c for c in fides.collections}
    collections: list[Collection] = []
    seen: set[str] = set()
    for ci, raw_collection in enumerate(data.get("collections") or []):
        cpath = (*base, "collections", ci)
        collection = by_name[raw_collection["name"]]
        if collection.name in seen:
            findings.append(
                Finding(
                    cpath,
                    "error",
                    f"collection {collection.name} appears twice in dataset {fides.fides_key}",
                )
            )
            continue
        seen.add(collection.name)
        try:
            extra = _TrothCollection.model_validate(raw_collection.get("troth") or {})
        except ValidationError as exc:
            for finding, _ in validation_findings(exc, raw_collection.get("troth")):
                findings.append(Finding((*cpath, "troth", *finding.path), "error", finding.message))
            continue
        fields_by_name = {f.name: f for f in collection.fields}
        fields = []
        names: set[str] = set()
        for fi, raw_field in enumerate(raw_collection.get("fields") or []):
            fpath = (*cpath, "fields", fi)
            name = raw_field["name"]
            if name in names:
                findings.append(
                    Finding(fpath, "error", f"{collection.name}: field {name} appears twice")
                )
                continue
            names.add(name)
            built = _field(fields_by_name[name], raw_field.get("troth"), fpath, findings)
            if built is not None:
                fields.append(built)
        collections.append(Collection(collection.name, tuple(fields), extra.timestamp, cpath))
    edges = _edges(fides.fides_key, collections, findings)
    if len(findings) > start:
        return None
    return Dataset(
        key=fides.fides_key,
        name=fides.name or fides.fides_key,
        collections=tuple(collections),
        edges=tuple(edges),
        file=filename,
        positions=positions,
        path=base,
    )


def read_datasets(text: str, filename: str = "dataset.yaml") -> list[Dataset]:
    """Parse a dataset file (``dataset:`` with a list, as Fides writes it, or one dataset)."""
    try:
        document = YAML(typ="rt").load(text)
    except YAMLError as exc:
        raise DatasetError([yaml_problem(filename, exc)]) from None
    positions = Positions()
    data = positions.record(document, ())
    entries: list[tuple[Any, Path]]
    if isinstance(data, dict) and isinstance(data.get("dataset"), list):
        entries = [(item, ("dataset", i)) for i, item in enumerate(data["dataset"])]
    elif isinstance(data, dict) and isinstance(data.get("dataset"), dict):
        entries = [(data["dataset"], ("dataset",))]
    elif isinstance(data, dict) and "dataset" not in data:
        entries = [(data, ())]
    else:
        raise DatasetError(
            [Problem(filename, 1, 1, "error", "a dataset file is a YAML mapping with 'dataset:'")]
        )
    findings: list[Finding] = []
    datasets: list[Dataset] = []
    for item, path in entries:
        if not isinstance(item, dict):
            findings.append(Finding(path, "error", f"{dotted(path)}: a dataset is a mapping"))
            continue
        built = _dataset(item, path, filename, positions, findings)
        if built is not None:
            datasets.append(built)
    keys = [d.key for d in datasets]
    for duplicate in sorted({k for k in keys if keys.count(k) > 1}):
        findings.append(Finding((), "error", f"dataset {duplicate} appears twice in the file"))
    if findings:
        problems = []
        for finding in findings:
            line, col = positions.locate(finding.path)
            problems.append(Problem(filename, line, col, finding.severity, finding.message))
        raise DatasetError(sorted(problems, key=lambda p: (p.line, p.column)))
    if not datasets:
        raise DatasetError([Problem(filename, 1, 1, "error", "the file declares no dataset")])
    return datasets


def load_datasets(path: str | FsPath) -> list[Dataset]:
    """Read a dataset file; raises :class:`DatasetError` listing every problem."""
    file = FsPath(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(
            [Problem(str(file), 1, 1, "error", f"cannot read file: {exc.strerror}")]
        ) from None
    except UnicodeDecodeError:
        raise DatasetError(
            [Problem(str(file), 1, 1, "error", "the file is not UTF-8 text")]
        ) from None
    return read_datasets(text, str(file))
