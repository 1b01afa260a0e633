"""`check_dataset` against a live schema, reflected from the database: the tables and columns a
dataset names must exist, and erasure must be able to write what the dataset declares."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from dataset_check_support import dataset, only, reported
from dataset_support import PORTAL, create_portal_schema
from pg_support import postgres_schema
from sqlalchemy import Engine, create_engine, text

from troth.datasets.check import check_dataset, reflect
from troth.datasets.model import Dataset, load_datasets, read_datasets
from troth.datasets.scaffold import scaffold
from troth.declaration import Policy
from troth.declaration.problems import Problem
from troth.store import make_engine


def sqlite(tmp_path: Path, *statements: str) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE customer (id INTEGER PRIMARY KEY, email TEXT)"))
        for statement in statements:
            conn.execute(text(statement))
    return engine


def live(found: Dataset, engine: Engine, policy: Policy | None = None) -> list[Problem]:
    return check_dataset(found, policy=policy, metadata=reflect(engine, found))


PROFILE = """\
- name: profile
  fields:
    - name: id
      fides_meta: {primary_key: true}
    - name: customer_id
      fides_meta: {references: [{dataset: shop, field: customer.id, direction: from}]}
"""


def profile(*fields: str) -> Dataset:
    """The customer, and a ``profile`` reached from it with ``fields`` added (YAML items)."""
    extra = "".join(textwrap.indent(textwrap.dedent(f), " " * 4) for f in fields)
    return dataset(PROFILE + extra)


PROFILE_TABLE = "CREATE TABLE profile (id INTEGER PRIMARY KEY, customer_id INTEGER, {})"


def test_the_portal_example_checks_clean_against_its_schema_and_declaration(
    tmp_path: Path, kestrel_policy: Policy
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'portal.db'}")
    create_portal_schema(engine)
    [portal] = load_datasets(PORTAL)
    assert live(portal, engine, kestrel_policy) == []


def test_missing_tables_and_columns_are_errors_and_reflection_survives_them(
    tmp_path: Path,
) -> None:
    found = dataset(
        """\
        - name: ghost
          fields:
            - name: id
              fides_meta: {primary_key: true}
        """
    )
    engine = sqlite(tmp_path, "ALTER TABLE customer DROP COLUMN email")
    assert set(reflect(engine, found).tables) == {"customer"}
    assert [(p.line, p.message) for p in live(found, engine)] == [
        (9, "customer.email: table customer has no column of that name"),
        (12, "collection ghost: the database has no table of that name"),
    ]


HOME = "- name: home\n  data_categories: [user.location.precise]\n"
NICKNAME = "- name: nickname\n  data_categories: [user.name]\n"
FIXED_NICKNAME = NICKNAME + "  troth: {mask: fixed, value: erased}\n"
FIXED_BIRTH_DATE = (
    "- name: born\n  data_categories: [user.demographic.date_of_birth]\n"
    "  troth: {mask: fixed, value: x}\n"
)
HASHED_IP = "- name: ip\n  data_categories: [user.device.ip_address]\n  troth: {mask: hash}\n"
HELD_NICKNAME = NICKNAME + "  troth: {retention: financial_records, timestamp: made}\n"

# A column of the profile table (SQL) and the profile field declared for it (YAML): what the
# check reports, each problem as "severity: message".
AGAINST_THE_COLUMN: dict[str, tuple[str, str, list[str]]] = {
    # a SQLite column declared without a type: reflection cannot say what it holds
    "a personal column of unknown type": (
        "home",
        HOME,
        [
            "error: profile.home: troth does not recognise the column's type (none declared); "
            "declare its fides_meta.data_type so that erasure knows what to write"
        ],
    ),
    "a personal column of unknown type with a declared type": (
        "home",
        HOME + "  fides_meta: {data_type: string}\n",
        [],
    ),
    "a declared type that is not the column's": (
        "nickname VARCHAR(40)",
        NICKNAME + "  fides_meta: {data_type: integer}\n",
        ["error: profile.nickname is declared integer, but the column is VARCHAR(40)"],
    ),
    "nullify on a NOT NULL column": (
        "nickname TEXT NOT NULL",
        NICKNAME,
        [
            "error: profile.nickname: the column is NOT NULL, so erasure cannot empty it (the "
            "default mask, nullify); use mask fixed, hash or delete_row"
        ],
    ),
    "a fixed value longer than the column": (
        "nickname VARCHAR(4)",
        FIXED_NICKNAME,
        [
            "error: profile.nickname: the fixed value is 6 characters long, but the field holds "
            "4 (column VARCHAR(4))"
        ],
    ),
    "a fixed value in a unique column": (
        "nickname VARCHAR(40), UNIQUE (nickname)",
        FIXED_NICKNAME,
        [
            "error: profile.nickname: the column is unique, so a second erased row could not "
            "take the same fixed value; use mask hash, nullify or delete_row"
        ],
    ),
    "a fixed value in a date column": (
        "born DATE",
        FIXED_BIRTH_DATE,
        [
            "error: profile.born: a fixed value cannot be written to a column of type DATE; use "
            "mask nullify or delete_row"
        ],
    ),
    "a hash in a text column too short": (
        "ip VARCHAR(45)",
        HASHED_IP,
        ["error: profile.ip: mask hash writes 66 characters, but the column holds 45"],
    ),
    "a hash in an integer column": (
        "ip INTEGER",
        HASHED_IP,
        ["error: profile.ip: mask hash writes text, but the column is INTEGER"],
    ),
    "a hash in a text column long enough": ("ip VARCHAR(66)", HASHED_IP, []),
    "a timestamp column of date and time": (
        "nickname TEXT, made DATETIME",
        HELD_NICKNAME,
        [
            "warning: profile: no index begins with the retention clock column made, so each "
            "sweep reads the whole table to find what has expired; on a large table, CREATE "
            "INDEX ON profile (made)"
        ],
    ),
    "a timestamp column that does not exist": (
        "nickname TEXT",
        HELD_NICKNAME,
        ["error: profile: the timestamp column made does not exist"],
    ),
    "a timestamp column of text": (
        "nickname TEXT, made TEXT",
        HELD_NICKNAME,
        [
            "error: profile: the timestamp column made is TEXT, not a date or time, so a "
            "retention clock cannot start from it"
        ],
    ),
}


@pytest.mark.parametrize(
    ("columns", "field", "expected"), AGAINST_THE_COLUMN.values(), ids=AGAINST_THE_COLUMN
)
def test_a_field_against_its_column(
    tmp_path: Path, columns: str, field: str, expected: list[str]
) -> None:
    engine = sqlite(tmp_path, PROFILE_TABLE.format(columns))
    assert reported(live(profile(field), engine)) == expected


def test_an_index_on_the_retention_clock_column_satisfies_the_check(tmp_path: Path) -> None:
    engine = sqlite(
        tmp_path,
        PROFILE_TABLE.format("nickname TEXT, made DATETIME"),
        "CREATE INDEX ix_profile_made ON profile (made, id)",
    )
    assert reported(live(profile(HELD_NICKNAME), engine)) == []


def test_deleting_rows_a_kept_table_refers_to_is_an_error(tmp_path: Path) -> None:
    field = "- name: nickname\n  data_categories: [user.name]\n  troth: {mask: delete_row}\n"
    # (SQLite's reflection reads ON DELETE only from a table-level FOREIGN KEY clause)
    badge = (
        "CREATE TABLE badge (id INTEGER PRIMARY KEY, profile_id INTEGER, "
        "FOREIGN KEY (profile_id) REFERENCES profile (id){})"
    )
    engine = sqlite(tmp_path, PROFILE_TABLE.format("nickname TEXT"), badge.format(""))
    found = profile(field)
    assert "badge" in reflect(engine, found).tables
    problem = only(live(found, engine))
    assert problem.message.startswith(
        "collection profile: erasure deletes its rows, but badge.profile_id refers to them and "
        "badge's rows are not deleted, so the database would refuse the delete"
    )
    cascading = sqlite(
        tmp_path / "2", PROFILE_TABLE.format("nickname TEXT"), badge.format(" ON DELETE CASCADE")
    )
    assert live(found, cascading) == []


def test_a_primary_key_other_than_the_table_s_is_a_warning(tmp_path: Path) -> None:
    found = dataset(
        """\
        - name: profile
          fields:
            - name: id
            - name: customer_id
              fides_meta:
                primary_key: true
                references: [{dataset: shop, field: customer.id, direction: from}]
        """
    )
    engine = sqlite(tmp_path, PROFILE_TABLE.format("x TEXT"))
    problem = only(live(found, engine), "warning")
    assert problem.message == (
        "collection profile: the declared primary key (customer_id) is not the table's (id)"
    )


def test_scaffold_and_check_on_postgresql(postgres_url: str) -> None:
    with postgres_schema(postgres_url, "troth_ds") as url:
        engine = make_engine(url)
        try:
            create_portal_schema(engine)
            with engine.begin() as conn:
                conn.execute(text("ALTER TABLE login ADD COLUMN seen inet"))
                conn.execute(
                    text(
                        "INSERT INTO customer (id, email, created_at) "
                        "VALUES (1, 'pg@example.com', now())"
                    )
                )
            [portal] = read_datasets(scaffold(engine, key="portal"))
            customer = portal.collection("customer")
            email = customer.field("email")
            assert email is not None and email.identity == "email"
            assert live(portal, engine) == []
            [example] = load_datasets(PORTAL)
            assert live(example, engine) == []
            # a personal inet column: PostgreSQL's type that troth does not know
            seen = dataset(
                """\
                - name: login
                  fields:
                    - name: id
                      fides_meta: {primary_key: true}
                    - name: customer_id
                      fides_meta:
                        references: [{dataset: shop, field: customer.id, direction: from}]
                    - name: seen
                      data_categories: [user.device.ip_address]
                """
            )
            assert [p.message for p in live(seen, engine)] == [
                "login.seen: troth does not recognise the column's type (INET); declare its "
                "fides_meta.data_type so that erasure knows what to write"
            ]
        finally:
            engine.dispose()
