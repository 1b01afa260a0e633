"""`check_dataset`: fail closed on personal data that could not be found or erased as declared."""

from __future__ import annotations

import textwrap
from pathlib import Path

from dataset_support import PORTAL, create_portal_schema
from pg_support import postgres_schema
from sqlalchemy import Engine, create_engine, text
from support import dump, kestrel_data, read

from troth.datasets.check import check_dataset, reflect
from troth.datasets.model import Dataset, load_datasets, read_datasets
from troth.datasets.scaffold import scaffold
from troth.declaration import Policy
from troth.declaration.problems import Problem
from troth.store import make_engine

CUSTOMER = """\
- name: customer
  fields:
    - name: id
      data_categories: [system.operations]
      fides_meta: {primary_key: true, data_type: integer}
    - name: email
      data_categories: [user.contact.email]
      fides_meta: {identity: email, data_type: string}
"""


def dataset(collections: str, *, customer: bool = True) -> Dataset:
    """A dataset ``shop`` with the ``customer`` collection (unless told) and ``collections``:
    the first of these starts on line 12 (line 4 without the customer)."""
    body = (CUSTOMER if customer else "") + textwrap.dedent(collections)
    text_ = "dataset:\n  - fides_key: shop\n    collections:\n" + textwrap.indent(body, " " * 6)
    [found] = read_datasets(text_, "shop.yaml")
    return found


def sqlite(tmp_path: Path, *statements: str) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE customer (id INTEGER PRIMARY KEY, email TEXT)"))
        for statement in statements:
            conn.execute(text(statement))
    return engine


def live(found: Dataset, engine: Engine, policy: Policy | None = None) -> list[Problem]:
    return check_dataset(found, policy=policy, metadata=reflect(engine, found))


def only(problems: list[Problem], severity: str = "error") -> Problem:
    """The one problem of ``severity``; fails listing them all when there is not exactly one."""
    matching = [p for p in problems if p.severity == severity]
    assert len(matching) == 1, [str(p) for p in problems]
    return matching[0]


# -- static: the file and the declaration ---------------------------------------------------------


def test_the_portal_example_checks_clean_against_its_schema_and_declaration(
    tmp_path: Path, kestrel_policy: Policy
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'portal.db'}")
    create_portal_schema(engine)
    [portal] = load_datasets(PORTAL)
    assert live(portal, engine, kestrel_policy) == []


def test_personal_data_no_identity_reaches_is_an_error_naming_collection_and_fields() -> None:
    found = dataset(
        """\
        - name: note
          fields:
            - name: id
              fides_meta: {primary_key: true}
            - name: author
              data_categories: [user.name]
            - name: body
              data_categories: [user.content.private]
        """
    )
    problem = only(check_dataset(found))
    assert (problem.line, problem.column) == (12, 9)
    assert "collection note: author, body hold personal data, but no identity reaches" in (
        problem.message
    )


def test_an_unreachable_collection_without_personal_data_is_fine() -> None:
    found = dataset(
        """\
        - name: product
          fields:
            - name: id
              data_categories: [system.operations]
              fides_meta: {primary_key: true}
        """
    )
    assert check_dataset(found) == []


def test_personal_data_without_a_primary_key_is_an_error() -> None:
    found = dataset(
        """\
        - name: visit
          fields:
            - name: email
              data_categories: [user.contact.email]
              fides_meta: {identity: email}
        """
    )
    problem = only(check_dataset(found))
    assert (problem.line, problem.column) == (12, 9)
    assert "collection visit holds personal data but declares no primary key" in problem.message


def test_a_read_only_personal_field_is_an_error() -> None:
    found = dataset(
        """\
        - name: profile
          fields:
            - name: id
              fides_meta: {primary_key: true}
            - name: customer_id
              fides_meta: {references: [{dataset: shop, field: customer.id, direction: from}]}
            - name: nickname
              data_categories: [user.name]
              fides_meta: {read_only: true}
        """
    )
    problem = only(check_dataset(found))
    assert problem.line == 20  # its read_only
    assert problem.message.startswith("profile.nickname holds personal data but is read_only")
    deleted = dataset(
        """\
        - name: profile
          fields:
            - name: id
              fides_meta: {primary_key: true}
            - name: customer_id
              fides_meta: {references: [{dataset: shop, field: customer.id, direction: from}]}
            - name: nickname
              data_categories: [user.name]
              fides_meta: {read_only: true}
            - name: motto
              data_categories: [user.content.private]
              troth: {mask: delete_row}
        """
    )
    assert check_dataset(deleted) == []  # the row goes, read-only column and all


def test_a_personal_primary_key_must_delete_the_row() -> None:
    found = dataset(
        """\
        - name: subscriber
          fields:
            - name: email
              data_categories: [user.contact.email]
              fides_meta: {identity: email, primary_key: true}
              troth: {mask: hash}
        """
    )
    problem = only(check_dataset(found))
    assert "subscriber.email is personal data and part of the primary key" in problem.message
    fixed = dataset(
        """\
        - name: subscriber
          fields:
            - name: email
              data_categories: [user.contact.email]
              fides_meta: {identity: email, primary_key: true}
              troth: {mask: delete_row}
        """
    )
    assert check_dataset(fixed) == []


def test_retention_names_a_declared_rule_and_needs_a_timestamp(kestrel_policy: Policy) -> None:
    found = dataset(
        """\
        - name: invoice
          fields:
            - name: id
              fides_meta: {primary_key: true}
            - name: customer_id
              fides_meta: {references: [{dataset: shop, field: customer.id, direction: from}]}
            - name: billed_to
              data_categories: [user.name]
              troth: {retention: tax_records}
            - name: note
              data_categories: [user.content.private]
              troth: {retention: visitor_logs, timestamp: at}
        """
    )
    problems = check_dataset(found, policy=kestrel_policy)
    messages = [(p.severity, p.message) for p in problems]
    assert messages == [
        ("error", "invoice.billed_to: a retention rule needs the column its clock starts from: "
         "set troth.timestamp on the field or its collection"),
        ("error", "invoice.billed_to: retention rule tax_records is not in the declaration "
         "(its rules: analytics, applications, client_app_data, closed_accounts, "
         "financial_records, inquiries, marketing_records, project_data, testimonials, "
         "visitor_logs)"),
        ("warning", "invoice.note: retention rule visitor_logs has no legal_basis, so it does "
         "not keep the field from erasure"),
    ]  # fmt: skip
    # without the declaration only the missing timestamp can be seen
    assert [p.message for p in check_dataset(found)] == [messages[0][1]]


def test_a_fixed_value_must_fit_the_declared_type_and_length() -> None:
    found = dataset(
        """\
        - name: profile
          fields:
            - name: id
              fides_meta: {primary_key: true}
            - name: email
              data_categories: [user.contact.email]
              fides_meta: {identity: email, data_type: string, length: 5}
              troth: {mask: fixed, value: redacted}
            - name: age
              data_categories: [user.demographic.age_range]
              fides_meta: {data_type: integer}
              troth: {mask: fixed, value: unknown}
        """
    )
    assert [p.message for p in check_dataset(found)] == [
        "profile.email: the fixed value is 8 characters long, but the field holds 5",
        "profile.age: the fixed value 'unknown' is not a integer",
    ]


def test_a_hash_needs_a_string_of_at_least_66_characters() -> None:
    found = dataset(
        """\
        - name: device
          fields:
            - name: id
              fides_meta: {primary_key: true}
            - name: email
              data_categories: [user.contact.email]
              fides_meta: {identity: email, data_type: string, length: 64}
              troth: {mask: hash}
            - name: serial
              data_categories: [user.device.device_id]
              fides_meta: {data_type: integer}
              troth: {mask: hash}
            - name: ip
              data_categories: [user.device.ip_address]
              fides_meta: {data_type: string, length: 66}
              troth: {mask: hash}
        """
    )
    assert [p.message for p in check_dataset(found)] == [
        "device.email: mask hash writes 66 characters, but the field's length is 64",
        "device.serial: mask hash writes text, but the field is declared integer",
    ]


def test_cycles_are_warnings_that_name_the_loop() -> None:
    found = dataset(
        """\
        - name: employee
          fields:
            - name: id
              fides_meta: {primary_key: true}
            - name: email
              data_categories: [user.contact.email]
              fides_meta: {identity: email}
            - name: manager_id
              fides_meta: {references: [{dataset: shop, field: employee.id, direction: from}]}
        - name: team
          fields:
            - name: id
              fides_meta: {primary_key: true}
            - name: lead_id
              fides_meta: {references: [{dataset: shop, field: employee.id, direction: from}]}
        - name: project
          fields:
            - name: id
              fides_meta: {primary_key: true}
            - name: team_id
              fides_meta: {references: [{dataset: shop, field: team.id}]}
        """,
        customer=False,
    )
    problems = check_dataset(found)
    assert [(p.severity, p.line, p.message) for p in problems] == [
        (
            "warning",
            4,
            "references form a cycle: employee -> employee; troth follows it step by step "
            "until no new row appears",
        ),
        (
            "warning",
            13,
            "references form a cycle: team -> project -> team; troth follows it step by step "
            "until no new row appears",
        ),
    ]


def test_unknown_categories_warn_unless_the_declaration_declares_them() -> None:
    found = dataset(
        """\
        - name: profile
          fields:
            - name: id
              fides_meta: {primary_key: true}
            - name: customer_id
              fides_meta: {references: [{dataset: shop, field: customer.id, direction: from}]}
            - name: work_email
              data_categories: [user.contact.email.work]
        """
    )
    problem = only(check_dataset(found), "warning")
    assert problem.message == (
        "profile.work_email: data category user.contact.email.work is not in the Fides taxonomy"
    )
    data = kestrel_data()
    data["categories"].append(
        {"key": "user.contact.email.work", "name": "Work email", "identifier": "direct"}
    )
    policy, problems = read(dump(data))
    assert policy is not None, problems
    assert check_dataset(found, policy=policy) == []


def test_an_identity_troth_cannot_query_by_and_a_document_type_are_errors() -> None:
    found = dataset(
        """\
        - name: member
          fields:
            - name: id
              fides_meta: {primary_key: true}
            - name: passport
              data_categories: [user.government_id.passport_number]
              fides_meta: {identity: passport_number}
            - name: prefs
              data_categories: [system.operations]
              fides_meta: {data_type: object}
        """,
        customer=False,
    )
    messages = [p.message for p in check_dataset(found)]
    assert messages == [
        "member.passport: troth finds people by email, phone_number, external_id, not by "
        "passport_number; this collection would never be reached",
        "member.prefs: data_type object describes documents, not SQL columns; use string, "
        "integer, float, boolean",
    ]


# -- live: against the database's schema ---------------------------------------------------------

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


def live_messages(tmp_path: Path, columns: str, *fields: str) -> list[str]:
    engine = sqlite(tmp_path, PROFILE_TABLE.format(columns))
    return [f"{p.severity}: {p.message}" for p in live(profile(*fields), engine)]


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


def test_a_personal_column_of_unknown_type_needs_a_declared_type(tmp_path: Path) -> None:
    field = "- name: home\n  data_categories: [user.location.precise]\n"
    # a SQLite column declared without a type: reflection cannot say what it holds
    assert live_messages(tmp_path, "home", field) == [
        "error: profile.home: troth does not recognise the column's type (none declared); "
        "declare its fides_meta.data_type so that erasure knows what to write"
    ]
    declared = field + "  fides_meta: {data_type: string}\n"
    assert live_messages(tmp_path / "2", "home", declared) == []


def test_a_declared_type_must_match_the_column(tmp_path: Path) -> None:
    field = "- name: nickname\n  data_categories: [user.name]\n  fides_meta: {data_type: integer}\n"
    assert live_messages(tmp_path, "nickname VARCHAR(40)", field) == [
        "error: profile.nickname is declared integer, but the column is VARCHAR(40)"
    ]


def test_nullify_on_a_not_null_column_is_an_error(tmp_path: Path) -> None:
    field = "- name: nickname\n  data_categories: [user.name]\n"
    assert live_messages(tmp_path, "nickname TEXT NOT NULL", field) == [
        "error: profile.nickname: the column is NOT NULL, so erasure cannot empty it (the "
        "default mask, nullify); use mask fixed, hash or delete_row"
    ]


def test_a_fixed_value_must_fit_the_column_and_not_be_unique(tmp_path: Path) -> None:
    field = (
        "- name: nickname\n  data_categories: [user.name]\n  troth: {mask: fixed, value: erased}\n"
    )
    assert live_messages(tmp_path, "nickname VARCHAR(4)", field) == [
        "error: profile.nickname: the fixed value is 6 characters long, but the field holds 4 "
        "(column VARCHAR(4))"
    ]
    assert live_messages(tmp_path / "2", "nickname VARCHAR(40), UNIQUE (nickname)", field) == [
        "error: profile.nickname: the column is unique, so a second erased row could not take "
        "the same fixed value; use mask hash, nullify or delete_row"
    ]
    born = "- name: born\n  data_categories: [user.demographic.date_of_birth]\n"
    assert live_messages(
        tmp_path / "3", "born DATE", born + "  troth: {mask: fixed, value: x}\n"
    ) == [
        "error: profile.born: a fixed value cannot be written to a column of type DATE; use "
        "mask nullify or delete_row"
    ]


def test_a_hash_needs_a_text_column_long_enough(tmp_path: Path) -> None:
    field = "- name: ip\n  data_categories: [user.device.ip_address]\n  troth: {mask: hash}\n"
    assert live_messages(tmp_path, "ip VARCHAR(45)", field) == [
        "error: profile.ip: mask hash writes 66 characters, but the column holds 45"
    ]
    assert live_messages(tmp_path / "2", "ip INTEGER", field) == [
        "error: profile.ip: mask hash writes text, but the column is INTEGER"
    ]
    assert live_messages(tmp_path / "3", "ip VARCHAR(66)", field) == []


def test_the_timestamp_column_exists_and_is_a_date(tmp_path: Path) -> None:
    field = (
        "- name: nickname\n  data_categories: [user.name]\n"
        "  troth: {retention: financial_records, timestamp: %s}\n"
    )
    assert live_messages(tmp_path, "nickname TEXT, made DATETIME", field % "made") == []
    assert live_messages(tmp_path / "2", "nickname TEXT", field % "made") == [
        "error: profile: the timestamp column made does not exist"
    ]
    assert live_messages(tmp_path / "3", "nickname TEXT, made TEXT", field % "made") == [
        "error: profile: the timestamp column made is TEXT, not a date or time, so a retention "
        "clock cannot start from it"
    ]


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
