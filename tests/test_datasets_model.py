"""Loading a dataset file: the Fides format, troth's keys, every problem at FILE:LINE:COL."""

from __future__ import annotations

import textwrap

import pytest
from dataset_support import PORTAL

from troth.datasets.graph import traverse
from troth.datasets.model import DatasetError, load_datasets, read_datasets


def dataset_text(fields: str, *, extra_collections: str = "") -> str:
    """A one-dataset file whose ``customer`` collection has ``fields`` (YAML list items)."""
    return (
        textwrap.dedent(
            """\
        dataset:
          - fides_key: shop
            collections:
              - name: customer
                fields:
                  - name: id
                    data_categories: [system.operations]
                    fides_meta: {primary_key: true, data_type: integer}
        """
        )
        + textwrap.indent(textwrap.dedent(fields), " " * 10)
        + textwrap.indent(textwrap.dedent(extra_collections), " " * 6)
    )


def errors(text: str) -> list[str]:
    with pytest.raises(DatasetError) as caught:
        read_datasets(text, "shop.yaml")
    return [str(p) for p in caught.value.problems if p.severity == "error"]


def test_the_portal_example_loads_with_its_masks_and_references() -> None:
    [portal] = load_datasets(PORTAL)
    assert portal.key == "portal"
    assert [c.name for c in portal.collections] == [
        "customer", "address", "orders", "order_item", "payment_card", "login", "visit",
    ]  # fmt: skip
    orders = portal.collection("orders")
    billing = orders.field("billing_name")
    assert billing is not None
    assert (billing.mask, billing.value, billing.retention) == (
        "fixed",
        "erased",
        "financial_records",
    )
    assert orders.timestamp == "created_at"
    assert portal.collection("payment_card").deletes_rows
    assert traverse(portal).unreachable == ()


def test_a_single_mapping_under_dataset_loads() -> None:
    text = textwrap.dedent(
        """\
        dataset:
          fides_key: shop
          collections:
            - name: customer
              fields:
                - name: email
                  data_categories: [user.contact.email]
                  fides_meta: {identity: email}
        """
    )
    [shop] = read_datasets(text)
    assert shop.key == "shop"
    assert shop.collection("customer").identities[0].name == "email"


def test_an_unknown_data_type_is_an_error_at_its_line() -> None:
    found = errors(dataset_text("- name: email\n  fides_meta: {data_type: varchar}\n"))
    assert len(found) == 1
    assert found[0].startswith("shop.yaml:10:")
    assert "varchar" in found[0]


def test_mask_fixed_without_a_value_is_an_error_at_its_line() -> None:
    found = errors(dataset_text("- name: email\n  troth: {mask: fixed}\n"))
    assert len(found) == 1
    assert found[0].startswith("shop.yaml:10:")
    assert "needs a 'value'" in found[0]


def test_an_unknown_troth_key_is_an_error_at_its_line() -> None:
    found = errors(dataset_text("- name: email\n  troth: {mask: nullify, retain: forever}\n"))
    assert len(found) == 1
    assert found[0].startswith("shop.yaml:10:")
    assert "retain" in found[0]


def test_a_reference_to_an_unknown_field_is_an_error_at_its_line() -> None:
    fields = """\
        - name: referrer_id
          fides_meta:
            references: [{dataset: shop, field: customer.nope, direction: from}]
        """
    found = errors(dataset_text(fields))
    assert len(found) == 1
    assert found[0].startswith("shop.yaml:11:")
    assert "customer.nope" in found[0]


def test_a_reference_to_another_dataset_is_an_error_at_its_line() -> None:
    fields = """\
        - name: account_id
          fides_meta:
            references: [{dataset: billing, field: account.id, direction: from}]
        """
    found = errors(dataset_text(fields))
    assert len(found) == 1
    assert found[0].startswith("shop.yaml:11:")
    assert "another dataset (billing)" in found[0]


def test_a_field_listed_twice_is_an_error_at_the_collection_s_fields() -> None:
    found = errors(dataset_text("- name: email\n- name: email\n"))
    assert len(found) == 1
    assert found[0].startswith("shop.yaml:6:")
    assert "Duplicate entries found: [email]" in found[0]


def test_every_problem_is_reported_at_once() -> None:
    found = errors(
        dataset_text(
            "- name: email\n  troth: {mask: fixed}\n- name: phone\n  troth: {mask: wipe}\n"
        )
    )
    assert [line.split(":")[1] for line in found] == ["10", "12"]
