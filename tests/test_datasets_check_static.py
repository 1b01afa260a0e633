"""`check_dataset` on the dataset file and the declaration alone, without a database: fail closed
on personal data that could not be found or erased as declared."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from dataset_check_support import dataset, only, reported
from support import dump, kestrel_data, read

from troth.datasets.check import check_dataset
from troth.declaration import Policy

# A dataset with exactly one error: the collections after the customer, where the error is
# (its line, then its column; only as much as the case pins), and how its message starts.
ONE_ERROR: dict[str, tuple[str, tuple[int, ...], str]] = {
    "personal data no identity reaches, naming collection and fields": (
        """\
        - name: note
          fields:
            - name: id
              fides_meta: {primary_key: true}
            - name: author
              data_categories: [user.name]
            - name: body
              data_categories: [user.content.private]
        """,
        (12, 9),
        "collection note: author, body hold personal data, but no identity reaches",
    ),
    "personal data without a primary key": (
        """\
        - name: visit
          fields:
            - name: email
              data_categories: [user.contact.email]
              fides_meta: {identity: email}
        """,
        (12, 9),
        "collection visit holds personal data but declares no primary key",
    ),
    "a read-only personal field": (
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
        """,
        (20,),  # its read_only
        "profile.nickname holds personal data but is read_only",
    ),
    "a personal primary key that does not delete the row": (
        """\
        - name: subscriber
          fields:
            - name: email
              data_categories: [user.contact.email]
              fides_meta: {identity: email, primary_key: true}
              troth: {mask: hash}
        """,
        (),
        "subscriber.email is personal data and part of the primary key",
    ),
}


@pytest.mark.parametrize(("collections", "place", "message"), ONE_ERROR.values(), ids=ONE_ERROR)
def test_a_dataset_with_one_error(collections: str, place: tuple[int, ...], message: str) -> None:
    problem = only(check_dataset(dataset(collections)))
    assert (problem.line, problem.column)[: len(place)] == place
    assert problem.message.startswith(message)


Declaration = Callable[[Policy], Policy]


def kestrel(policy: Policy) -> Policy:
    """The Kestrel example's declaration, as the session loaded it."""
    return policy


def kestrel_declaring_work_email(_: Policy) -> Policy:
    """The Kestrel example's declaration with the category user.contact.email.work added."""
    data = kestrel_data()
    data["categories"].append(
        {"key": "user.contact.email.work", "name": "Work email", "identifier": "direct"}
    )
    policy, problems = read(dump(data))
    assert policy is not None, problems
    return policy


@dataclass(frozen=True)
class Case:
    """A dataset and everything the check reports on it."""

    collections: str
    expected: list[str]  # each problem as "severity: message", in order
    customer: bool = True  # the collections come after the customer
    declaration: Declaration | None = None  # checked without one when None
    lines: tuple[int, ...] | None = None  # the problems' lines, where the case pins them


INVOICE = """\
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
NO_TIMESTAMP = (
    "error: invoice.billed_to: a retention rule needs the column its clock starts from: "
    "set troth.timestamp on the field or its collection"
)
WORK_EMAIL = """\
- name: profile
  fields:
    - name: id
      fides_meta: {primary_key: true}
    - name: customer_id
      fides_meta: {references: [{dataset: shop, field: customer.id, direction: from}]}
    - name: work_email
      data_categories: [user.contact.email.work]
"""

REPORTED: dict[str, Case] = {
    "an unreachable collection without personal data": Case(
        """\
        - name: product
          fields:
            - name: id
              data_categories: [system.operations]
              fides_meta: {primary_key: true}
        """,
        [],
    ),
    # the row goes, read-only column and all
    "a read-only personal field in a collection whose rows are deleted": Case(
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
        """,
        [],
    ),
    "a personal primary key that deletes the row": Case(
        """\
        - name: subscriber
          fields:
            - name: email
              data_categories: [user.contact.email]
              fides_meta: {identity: email, primary_key: true}
              troth: {mask: delete_row}
        """,
        [],
    ),
    "retention: no timestamp, a rule not declared, a rule without legal basis": Case(
        INVOICE,
        [
            NO_TIMESTAMP,
            "error: invoice.billed_to: retention rule tax_records is not in the declaration "
            "(its rules: analytics, applications, client_app_data, closed_accounts, "
            "financial_records, inquiries, marketing_records, project_data, testimonials, "
            "visitor_logs)",
            "warning: invoice.note: retention rule visitor_logs has no legal_basis, so it does "
            "not keep the field from erasure",
        ],
        declaration=kestrel,
    ),
    # without the declaration only the missing timestamp can be seen
    "retention without the declaration": Case(INVOICE, [NO_TIMESTAMP]),
    "a fixed value that does not fit the declared type and length": Case(
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
        """,
        [
            "error: profile.email: the fixed value is 8 characters long, but the field holds 5",
            "error: profile.age: the fixed value 'unknown' is not a integer",
        ],
    ),
    "a hash needs a string of at least 66 characters": Case(
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
        """,
        [
            "error: device.email: mask hash writes 66 characters, but the field's length is 64",
            "error: device.serial: mask hash writes text, but the field is declared integer",
        ],
    ),
    "cycles are warnings that name the loop": Case(
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
        [
            "warning: references form a cycle: employee -> employee; troth follows it step by "
            "step until no new row appears",
            "warning: references form a cycle: team -> project -> team; troth follows it step by "
            "step until no new row appears",
        ],
        customer=False,
        lines=(4, 13),
    ),
    "a category not in the taxonomy": Case(
        WORK_EMAIL,
        [
            "warning: profile.work_email: data category user.contact.email.work is not in the "
            "Fides taxonomy"
        ],
    ),
    "a category not in the taxonomy that the declaration declares": Case(
        WORK_EMAIL, [], declaration=kestrel_declaring_work_email
    ),
    "an identity troth cannot query by, and a document type": Case(
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
        [
            "error: member.passport: troth finds people by email, phone_number, external_id, not "
            "by passport_number; this collection would never be reached",
            "error: member.prefs: data_type object describes documents, not SQL columns; use "
            "string, integer, float, boolean",
        ],
        customer=False,
    ),
}


@pytest.mark.parametrize("case", REPORTED.values(), ids=REPORTED)
def test_what_the_check_reports(case: Case, kestrel_policy: Policy) -> None:
    found = dataset(case.collections, customer=case.customer)
    policy = case.declaration(kestrel_policy) if case.declaration else None
    problems = check_dataset(found, policy=policy)
    assert reported(problems) == case.expected
    if case.lines is not None:
        assert tuple(p.line for p in problems) == case.lines
