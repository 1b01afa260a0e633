"""`scaffold`: a dataset file from a live schema, every suggestion marked for review."""

from __future__ import annotations

from pathlib import Path

import pytest
from dataset_support import create_portal_schema
from sqlalchemy import Engine, create_engine, text

from troth.datasets import isolation
from troth.datasets.check import check_dataset, reflect
from troth.datasets.model import read_datasets
from troth.datasets.scaffold import scaffold
from troth.datasets.suggest import NAME_RULES, from_name, from_values
from troth.declaration.taxonomy import fides_keys

SECRET_EMAIL = "ann.example@mail.example"
SECRET_IP = "203.0.113.77"
SECRET_CARD = "4111 1111 1111 1111"


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    create_portal_schema(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE enrolment (course TEXT NOT NULL, student TEXT NOT NULL, "
                "contact TEXT, card TEXT, flag BOOLEAN, PRIMARY KEY (course, student))"
            )
        )
        conn.execute(
            text(
                "INSERT INTO customer (id, email, name, phone, created_at) "
                f"VALUES (1, '{SECRET_EMAIL}', 'Ann', '+44 20 7946 0000', '2026-01-01')"
            )
        )
        conn.execute(
            text(f"INSERT INTO login (id, customer_id, ip_address) VALUES (1, 1, '{SECRET_IP}')")
        )
        conn.execute(
            text(
                "INSERT INTO enrolment (course, student, contact, card) "
                f"VALUES ('c1', 's1', '{SECRET_EMAIL}', '{SECRET_CARD}')"
            )
        )
    return engine


def line_of(text_: str, start: str, after: str = "") -> str:
    """The first line containing ``start`` after the line containing ``after``."""
    lines = text_.splitlines()
    begin = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(line for line in lines[begin:] if start in line)


def test_every_name_rule_suggests_a_real_fides_category() -> None:
    known = fides_keys("data_category")
    assert {category for category, _ in NAME_RULES} <= known


@pytest.mark.parametrize(
    ("column", "category"),
    [
        ("email", "user.contact.email"),
        ("contactEmail", "user.contact.email"),
        ("ip_address", "user.device.ip_address"),
        ("email_address", "user.contact.email"),
        ("street_address", "user.contact.address.street"),
        ("first_name", "user.name.first"),
        ("name", "user.name"),
        ("date_of_birth", "user.demographic.date_of_birth"),
        ("ZipCode", "user.contact.address.postal_code"),
        ("user_agent", "user.device"),
        ("ssn", "user.government_id.national_identification_number"),
        ("total_cents", None),
        ("product_name", None),
        ("shipped", None),
    ],
)
def test_categories_from_column_names(column: str, category: str | None) -> None:
    assert from_name(column) == category


def test_categories_from_sampled_values() -> None:
    assert from_values(["a@b.example", "c@d.example", None]) == "user.contact.email"
    assert from_values(["192.0.2.1", "2001:db8::1"]) == "user.device.ip_address"
    assert from_values(["4111-1111-1111-1111"]) == "user.financial.credit_card"
    assert from_values(["+1 415 555 0100", "020 7946 0000"]) == "user.contact.phone_number"
    # order numbers, a card number failing Luhn, mixed values: no pattern
    assert from_values(["12345678", "23456789"]) is None
    assert from_values(["4111 1111 1111 1112"]) is None
    assert from_values(["a@b.example", "hello", "world"]) is None
    assert from_values([1, 2]) is None


def test_the_scaffold_loads_and_describes_keys_types_and_references(engine: Engine) -> None:
    output = scaffold(engine, key="shop")
    [shop] = read_datasets(output, "shop.yaml")
    assert shop.key == "shop"
    customer = shop.collection("customer")
    assert customer.primary_key == ("id",)
    id_field = customer.field("id")
    assert id_field is not None and id_field.data_type == "integer"
    email = customer.field("email")
    assert email is not None
    assert (email.data_type, email.length, email.identity) == ("string", 255, "email")
    created = customer.field("created_at")
    assert created is not None and created.data_type is None  # Fides has no date type
    assert created.categories == ("system.operations",)
    assert shop.collection("enrolment").primary_key == ("course", "student")
    login = shop.collection("login")
    customer_id = login.field("customer_id")
    assert customer_id is not None
    assert customer_id.references == (("shop", "customer.id", "from"),)
    assert customer_id.categories == ("system.operations",)


def test_suggestions_are_marked_for_review_and_sampled_values_never_written(
    engine: Engine,
) -> None:
    output = scaffold(engine, key="shop")
    for secret in (SECRET_EMAIL, SECRET_IP, SECRET_CARD, "Ann", "7946"):
        assert secret not in output
    assert line_of(output, "[user.contact.email]", "name: email").endswith(
        "# suggested from the column name and sampled values: review"
    )
    assert line_of(output, "[user.name]", "name: billing_name").endswith(
        "# suggested from the column name: review"
    )
    # a column named "contact" holding addresses of mail, one named "card" holding a card number
    assert line_of(output, "[user.contact.email]", "name: contact").endswith(
        "# suggested from sampled values: review"
    )
    assert "[user.financial.credit_card]" in line_of(output, "data_categories", "name: card")
    assert line_of(output, "identity: email", "name: email").endswith(
        "# identity suggested: review"
    )
    # a boolean is never personal by its name, nor a numeric key
    assert "[system.operations]" in line_of(output, "data_categories", "name: flag")


def test_personal_columns_that_cannot_be_emptied_get_a_mask_for_review(engine: Engine) -> None:
    output = scaffold(engine, key="shop")
    [shop] = read_datasets(output)
    enrolment = shop.collection("enrolment")
    student = enrolment.field("student")
    assert student is not None and student.categories == ("system.operations",)
    contact = enrolment.field("contact")
    assert contact is not None and contact.mask == "nullify"  # nullable: the default is fine
    assert "mask suggested" not in line_of(output, "name: contact", "name: contact")


def test_a_not_null_text_column_is_hashed_and_a_short_one_deletes_the_row(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE member (id INTEGER PRIMARY KEY, email VARCHAR(255) NOT NULL, "
                "phone VARCHAR(20) NOT NULL)"
            )
        )
    output = scaffold(engine, key="club")
    [club] = read_datasets(output)
    member = club.collection("member")
    assert [(f.name, f.mask) for f in member.fields] == [
        ("id", "nullify"),
        ("email", "hash"),
        ("phone", "delete_row"),
    ]
    assert line_of(output, "troth:", "name: email").endswith("review")
    assert check_dataset(club, metadata=reflect(engine, club)) == []


def test_a_referenced_table_out_of_reach_is_reached_the_other_way(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'a.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE home (id INTEGER PRIMARY KEY, street TEXT)"))
        conn.execute(
            text(
                "CREATE TABLE person (id INTEGER PRIMARY KEY, email TEXT, "
                "home_id INTEGER REFERENCES home (id))"
            )
        )
    output = scaffold(engine, key="people")
    [people] = read_datasets(output)
    home_id = people.collection("person").field("home_id")
    assert home_id is not None
    assert home_id.references == (("people", "home.id", "to"),)
    assert line_of(output, "fides_meta", "name: home_id").endswith(
        "so that home is reached: review"
    )
    assert check_dataset(people, metadata=reflect(engine, people)) == []


def test_the_portal_schema_scaffolds_to_a_dataset_that_checks_clean(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE enrolment"))
    [portal] = read_datasets(scaffold(engine, key="portal", sample_rows=0))
    assert check_dataset(portal, metadata=reflect(engine, portal)) == []


def test_troths_own_table_of_isolated_values_is_not_scaffolded(engine: Engine) -> None:
    isolation.ensure_table(engine)
    text_of = scaffold(engine, key="portal", sample_rows=0)
    assert isolation.ISOLATION_TABLE not in text_of
    assert "- name: customer" in text_of
