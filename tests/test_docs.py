"""docs/declaration.md documents every part of the declaration model, and nothing that is gone.

The model is walked from ``Declaration`` through every field annotation (inside ``tuple[...]``,
``X | None``, ``dict[...]`` and ``Annotated[...]``), collecting every pydantic model class. Each
class needs a section whose heading ends in `` — ClassName``, and within it (up to the next
``### `` or ``## `` heading) a row ``| `field` | type | default | meaning |`` for every field.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from ruamel.yaml import YAML

from troth.declaration import read_declaration
from troth.declaration.model import Declaration
from troth.declaration.profiles import PROFILES

DOC = Path(__file__).resolve().parent.parent / "docs" / "declaration.md"
DOC_NAME = "docs/declaration.md"
CLASS_HEADING = re.compile(r"^### .* — (?P<name>[A-Z][A-Za-z0-9_]*)\s*$")
FIELD_ROW = re.compile(r"^\| `(?P<field>[^`]+)` \|")
TABLE_HEADER = "| Field | Type | Default | Meaning |"
PROFILE_SECTION = "## Jurisdiction profiles"


# -- the model --------------------------------------------------------------------------------


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    """Every BaseModel subclass named by a type annotation, however deeply nested."""
    if (
        typing.get_origin(annotation) is None
        and isinstance(annotation, type)
        and issubclass(annotation, BaseModel)
    ):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def _literal_values(annotation: Any) -> list[Any]:
    """Every value a ``Literal[...]`` inside the annotation allows."""
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    values: list[Any] = []
    for arg in typing.get_args(annotation):
        values += [v for v in _literal_values(arg) if v not in values]
    return values


@cache
def models() -> dict[str, type[BaseModel]]:
    """Every model class reachable from Declaration, by class name."""
    found: dict[str, type[BaseModel]] = {}
    todo: list[type[BaseModel]] = [Declaration]
    while todo:
        cls = todo.pop()
        if found.get(cls.__name__) is cls:
            continue
        assert cls.__name__ not in found, (
            f"two model classes are both called {cls.__name__}; the doc cannot tell them apart"
        )
        found[cls.__name__] = cls
        for info in cls.model_fields.values():
            todo.extend(_models_in(info.annotation))
    return found


MODEL_NAMES = sorted(models())


def fields_of(name: str) -> dict[str, FieldInfo]:
    return dict(models()[name].model_fields)


# -- the document -----------------------------------------------------------------------------


@dataclass
class Section:
    heading: str
    line: int
    rows: dict[str, list[str]] = field(default_factory=dict)  # field -> its cells
    duplicates: list[str] = field(default_factory=list)
    has_table_header: bool = False


@dataclass
class Doc:
    text: str
    sections: dict[str, Section]  # class name -> its section
    duplicate_headings: list[str]
    yaml_blocks: list[tuple[int, str]]  # (line, text) of every ```yaml block


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


@cache
def doc() -> Doc:
    assert DOC.exists(), f"{DOC_NAME} is missing"
    text = DOC.read_text(encoding="utf-8")
    sections: dict[str, Section] = {}
    duplicate_headings: list[str] = []
    yaml_blocks: list[tuple[int, str]] = []
    current: Section | None = None
    fence: list[str] | None = None
    fence_start, fence_is_yaml = 0, False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("```"):
            if fence is None:
                fence, fence_start = [], number
                fence_is_yaml = line.strip() == "```yaml"
            else:
                if fence_is_yaml:
                    yaml_blocks.append((fence_start, "\n".join(fence) + "\n"))
                fence = None
            continue
        if fence is not None:
            fence.append(line)
            continue
        if line.startswith(("## ", "### ")):
            current = None
            match = CLASS_HEADING.match(line)
            if match:
                name = match["name"]
                if name in sections:
                    duplicate_headings.append(line)
                current = sections.setdefault(name, Section(line, number))
            continue
        if current is None:
            continue
        if line.strip() == TABLE_HEADER:
            current.has_table_header = True
        row = FIELD_ROW.match(line)
        if row:
            if row["field"] in current.rows:
                current.duplicates.append(row["field"])
            current.rows[row["field"]] = _cells(line)
    assert fence is None, f"{DOC_NAME}: the code block opened at line {fence_start} never closes"
    return Doc(text, sections, duplicate_headings, yaml_blocks)


def section_of(name: str) -> Section:
    section = doc().sections.get(name)
    if section is None:
        fields = ", ".join(fields_of(name))
        pytest.fail(
            f"{DOC_NAME} has no section for the model class {name} (fields: {fields}); add a "
            f"heading ending in ' — {name}', e.g. '### `<yaml path>` — {name}', and a table "
            f"'{TABLE_HEADER}' with one row per field"
        )
    return section


# -- tests ------------------------------------------------------------------------------------


def test_the_model_walk_finds_the_nested_classes() -> None:
    # Guards the walk itself: these sit inside tuple[...], X | None and nested models.
    for name in ("Declaration", "Contact", "RightOffer", "RetentionScope", "TransferRoute"):
        assert name in models(), f"the model walk did not reach {name}"


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_class_has_a_section(name: str) -> None:
    section = section_of(name)
    assert section.has_table_header, (
        f"{DOC_NAME}:{section.line}: the section '{section.heading}' has no field table; "
        f"it needs the header line '{TABLE_HEADER}'"
    )


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_field_has_a_row(name: str) -> None:
    section = section_of(name)
    missing = [f for f in fields_of(name) if f not in section.rows]
    assert not missing, (
        f"{DOC_NAME}:{section.line}: the section for {name} documents no "
        + ", ".join(f"field '{name}.{f}'" for f in missing)
        + "; add a row '| `<field>` | type | default | meaning |' for each"
    )


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_no_row_documents_a_field_that_does_not_exist(name: str) -> None:
    section = section_of(name)
    stale = [f for f in section.rows if f not in fields_of(name)]
    assert not stale, (
        f"{DOC_NAME}:{section.line}: the section for {name} documents "
        + ", ".join(f"'{f}'" for f in stale)
        + f", which {'is not a field' if len(stale) == 1 else 'are not fields'} of {name} "
        f"(its fields: {', '.join(fields_of(name))}); remove or rename the row"
    )
    assert not section.duplicates, (
        f"{DOC_NAME}:{section.line}: the section for {name} documents "
        + ", ".join(f"'{f}'" for f in section.duplicates)
        + " twice"
    )


def test_no_section_for_a_class_that_is_not_in_the_model() -> None:
    stale = [s.heading for name, s in doc().sections.items() if name not in models()]
    assert not stale, (
        f"{DOC_NAME} has sections for classes that are not part of the declaration model: "
        + "; ".join(stale)
    )
    assert not doc().duplicate_headings, (
        f"{DOC_NAME} has more than one section for the same class: "
        + "; ".join(doc().duplicate_headings)
    )


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_field_rows_have_four_cells_and_say_which_fields_are_required(name: str) -> None:
    section = section_of(name)
    for field_name, info in fields_of(name).items():
        cells = section.rows.get(field_name)
        if cells is None:
            continue  # reported by test_every_field_has_a_row
        assert len(cells) == 4, (
            f"{DOC_NAME}: the row for '{name}.{field_name}' has {len(cells)} cells, not 4 "
            "(Field, Type, Default, Meaning); a '|' inside a cell splits it"
        )
        says_required = cells[2].lower() == "required"
        if info.is_required():
            assert says_required, (
                f"{DOC_NAME}: '{name}.{field_name}' is required, but its Default cell says "
                f"'{cells[2]}' instead of 'required'"
            )
        else:
            assert not says_required, (
                f"{DOC_NAME}: '{name}.{field_name}' is optional (default "
                f"{info.get_default(call_default_factory=True)!r}), but its Default cell says "
                "'required'"
            )


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_allowed_value_of_a_literal_field_is_listed(name: str) -> None:
    section = section_of(name)
    for field_name, info in fields_of(name).items():
        cells = section.rows.get(field_name)
        if cells is None:
            continue
        row = " | ".join(cells)
        missing = [v for v in _literal_values(info.annotation) if f"`{v}`" not in row]
        assert not missing, (
            f"{DOC_NAME}: the row for '{name}.{field_name}' does not list the allowed "
            + ", ".join(f"value `{v}`" for v in missing)
        )


def _profile_table() -> tuple[list[str], dict[str, list[str]]]:
    text = doc().text
    start = text.find(f"\n{PROFILE_SECTION}\n")
    assert start >= 0, f"{DOC_NAME} has no '{PROFILE_SECTION}' section"
    end = text.find("\n## ", start + 1)
    body = text[start : end if end >= 0 else len(text)]
    header: list[str] = []
    rows: dict[str, list[str]] = {}
    for line in body.splitlines():
        if line.startswith("| Profile |"):
            header = _cells(line)
        match = FIELD_ROW.match(line)
        if match:
            rows[match["field"]] = _cells(line)
    assert header, f"{DOC_NAME}: the '{PROFILE_SECTION}' section has no '| Profile | ...' table"
    return header, rows


def test_every_jurisdiction_profile_key_appears_in_the_doc() -> None:
    missing = [key for key in PROFILES if f"`{key}`" not in doc().text]
    assert not missing, f"{DOC_NAME} never mentions the jurisdiction profile(s) " + ", ".join(
        f"'{k}'" for k in missing
    )


@pytest.mark.parametrize("key", sorted(PROFILES))
def test_the_profile_table_states_each_profiles_legal_facts(key: str) -> None:
    header, rows = _profile_table()
    assert key in rows, (
        f"{DOC_NAME}: the '{PROFILE_SECTION}' table has no row '| `{key}` | ...' for the "
        f"profile {key}"
    )
    row = dict(zip(header, rows[key], strict=False))
    profile = PROFILES[key]

    def cell(column: str) -> str:
        assert column in row, f"{DOC_NAME}: the profile table has no '{column}' column"
        return row[column]

    def duration(column: str, value: Any) -> None:
        text = cell(column)
        if value is None:
            assert text.startswith("none"), (
                f"{DOC_NAME}: profile {key} has no {column.lower()}, but the table says '{text}'"
            )
        else:
            assert f"`{value.iso()}`" in text, (
                f"{DOC_NAME}: profile {key}: {column.lower()} is {value.iso()}, but the table "
                f"says '{text}'"
            )

    duration("Answer deadline", profile.complete_within)
    duration("Extension", profile.extension)
    duration("Acknowledgement", profile.acknowledge_within)
    if profile.acknowledge_within and profile.acknowledge_business_days:
        assert "business" in cell("Acknowledgement"), (
            f"{DOC_NAME}: profile {key} counts the acknowledgement in business days; say so"
        )
    duration("Breach notice", profile.breach_authority_within)
    duration("Grievance", profile.grievance_within)
    assert cell("Child age") == str(profile.child_age), (
        f"{DOC_NAME}: profile {key}: child age is {profile.child_age}, the table says "
        f"'{cell('Child age')}'"
    )
    missing = [r for r in profile.required_rights if f"`{r}`" not in cell("Required rights")]
    assert not missing, f"{DOC_NAME}: profile {key}: required rights {missing} are not listed"
    listed = set(re.findall(r"`([a-z_]+)`", cell("Required rights")))
    extra = listed - set(profile.required_rights)
    assert not extra, f"{DOC_NAME}: profile {key} does not require the rights {sorted(extra)}"
    bases = cell("Disallowed bases")
    missing = [b for b in profile.disallowed_bases if f"`{b}`" not in bases]
    assert not missing, f"{DOC_NAME}: profile {key}: disallowed bases {missing} are not listed"
    if not profile.disallowed_bases:
        assert bases.startswith("none"), (
            f"{DOC_NAME}: profile {key} disallows no legal basis, but the table says '{bases}'"
        )


def test_the_profile_table_lists_no_profile_that_does_not_exist() -> None:
    _, rows = _profile_table()
    stale = sorted(set(rows) - set(PROFILES))
    assert not stale, f"{DOC_NAME}: the profile table lists unknown profiles {stale}"


def test_yaml_examples_match_the_model() -> None:
    """Every ```yaml block is a fragment of privacy.yaml whose sections validate; a block with
    ``troth: 1`` is a whole declaration and must pass ``troth check`` without errors."""
    assert doc().yaml_blocks, f"{DOC_NAME} has no ```yaml examples"
    fields = Declaration.model_fields
    for line, block in doc().yaml_blocks:
        data = YAML(typ="safe").load(block)
        assert isinstance(data, dict), f"{DOC_NAME}:{line}: the example is not a YAML mapping"
        for key, value in data.items():
            assert key in fields, f"{DOC_NAME}:{line}: '{key}' is not a section of privacy.yaml"
            try:
                TypeAdapter(fields[key].annotation).validate_python(value)
            except ValidationError as exc:
                pytest.fail(f"{DOC_NAME}:{line}: the example's '{key}' does not validate:\n{exc}")
        if "troth" in data:
            policy, problems = read_declaration(block, f"{DOC_NAME}:{line}")
            errors = [str(p) for p in problems if p.severity == "error"]
            assert policy is not None and not errors, (
                f"{DOC_NAME}:{line}: the complete example fails troth check:\n" + "\n".join(errors)
            )
