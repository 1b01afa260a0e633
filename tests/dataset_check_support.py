"""Small datasets written inline for the `check_dataset` tests, static and live, and the helpers
that read what the check reports."""

from __future__ import annotations

import textwrap

from troth.datasets.model import Dataset, read_datasets
from troth.declaration.problems import Problem

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


def only(problems: list[Problem], severity: str = "error") -> Problem:
    """The one problem of ``severity``; fails listing them all when there is not exactly one."""
    matching = [p for p in problems if p.severity == severity]
    assert len(matching) == 1, [str(p) for p in problems]
    return matching[0]


def reported(problems: list[Problem]) -> list[str]:
    """Each problem as ``severity: message``, in the order found."""
    return [f"{p.severity}: {p.message}" for p in problems]
