"""What a retention sweep of a company database will do, before it does it: the plan counts the
rows each rule acts on now and month by month for a year (held rows left out), and the review
says how many rows each rule holds, how many are overdue and since when. The shop, under its
moved clock, is in sweep_support.py.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sweep_support import (
    NOW,
    naive,
    shop_fixture,  # noqa: F401 (the shop fixture)
    shop_target,
    sqlite_shop_fixture,  # noqa: F401 (the sqlite_shop fixture)
    sweep_shop,
)

from troth.datasets.holds import Holds
from troth.datasets.review import plan_dataset, review_rows
from troth.declaration import Policy


def test_the_plan_counts_what_expires_now_and_month_by_month(
    shop: Engine, kestrel_policy: Policy
) -> None:
    target = shop_target(shop, kestrel_policy)
    plan = plan_dataset(target, kestrel_policy, NOW, Holds())
    # visits (90 days): 3 expired now; 2030-12-15 13:00 and 2030-12-20 expire in March 2031,
    # 2031-01-05 in April, 2031-03-01 in May, 2031-03-10 in June. Payments: 200 and 201 are
    # past 90 days (201 waits for the financial rule, but it has expired), 202 expires in May.
    assert plan["visitor_logs"] == [5, 2, 1, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    # members (2 years): 3 expired; member 3 (2029-03-15 13:00) expires in March 2031.
    assert plan["analytics"] == [3, 1] + [0] * 11
    # invoices (7 years): 3 expired; invoice 101 (2024-03-16) expires in March 2031. Payment 200
    # (2019) is past 7 years; 201 (2030) and 202 are not within the year.
    assert plan["financial_records"] == [4, 1] + [0] * 11
    assert plan["project_data"] == [1] + [0] * 12
    sweep_shop(shop, kestrel_policy)
    after = plan_dataset(target, kestrel_policy, NOW, Holds())
    assert after["visitor_logs"][0] == 1  # payment 201, waiting
    assert after["analytics"][0] == 0 and after["financial_records"][0] == 0


def test_the_plan_leaves_out_held_rows(sqlite_shop: Engine, kestrel_policy: Policy) -> None:
    target = shop_target(sqlite_shop, kestrel_policy)
    holds = Holds(identities={"email": ["member1@example.org"]})
    plan = plan_dataset(target, kestrel_policy, NOW, holds)
    assert plan["analytics"][0] == 2
    assert plan["visitor_logs"][0] == 3  # visit 10 (member 1) is held


def test_the_review_says_what_each_rule_holds_and_since_when(
    sqlite_shop: Engine, kestrel_policy: Policy
) -> None:
    target = shop_target(sqlite_shop, kestrel_policy)
    review = review_rows(target, kestrel_policy, NOW)
    assert review["analytics"].rows == 5
    assert review["analytics"].overdue == 3
    assert review["analytics"].unstarted == 1
    assert naive(review["analytics"].oldest) == datetime(2020, 2, 29)
    sweep_shop(sqlite_shop, kestrel_policy)
    review = review_rows(target, kestrel_policy, NOW)
    assert (review["analytics"].rows, review["analytics"].overdue) == (2, 0)
    assert naive(review["analytics"].oldest) == datetime(2029, 3, 15, 13, 0)
    assert review["financial_records"].rows == 2 + 2  # invoices 101, 103; payments 201, 202
    assert review["financial_records"].unstarted == 1
