"""The dashboard's figures from known data: requests made, approved and completed through the
rights service functions and consents recorded in the ledger; the aggregation functions' results,
and the SVG charts and the tables that carry the same numbers."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from apikey_support import MovingClock
from consent_support import STAFF, give, new_subject
from rights_support import approved_request, run_jobs, take_request
from sqlalchemy.orm import Session, sessionmaker
from staff_support import STARTED, Console, console, make_member

from troth.consent.stats import OptInRate, opt_in_rates
from troth.declaration import Policy
from troth.rights import deny
from troth.rights.stats import completion, middle, requests_per_week, week_of
from troth.staff import Role
from troth.store import make_sessionmaker
from troth.subjects import Keyring
from troth.web.console.charts import rate_bars, stacked_bars

DAY = timedelta(days=1)
# STARTED is a Thursday; the window's last week begins the Monday before it.
THIS_WEEK = week_of(STARTED)


@pytest.fixture
def desk(kestrel_policy: Policy, sqlite_url: str, keyring: Keyring) -> Iterator[Console]:
    with console(kestrel_policy, sqlite_url, keyring, MovingClock(STARTED)) as c:
        yield c


@pytest.fixture
def known(desk: Console, kestrel_policy: Policy, keyring: Keyring) -> sessionmaker[Session]:
    """Three access requests completed (after 2, 4 and 40 days: two on time), one erasure
    denied and one left received; newsletter consent given twice, refused once, withdrawn once."""
    sessions = make_sessionmaker(desk.engine)
    start = STARTED - DAY * 70
    for n, took in enumerate((2, 4, 40)):
        received = start + DAY * n
        approved_request(
            sessions,
            kestrel_policy,
            keyring,
            "access",
            now=received,
            email=f"asker{n}@example.org",
            jurisdiction="eu-gdpr",
        )
        run_jobs(sessions, kestrel_policy, keyring, now=received + DAY * took)
    with sessions.begin() as session:
        denied = take_request(
            session, kestrel_policy, keyring, "erasure", email="d@example.org", now=STARTED - DAY
        )
        deny(
            session,
            kestrel_policy,
            keyring,
            denied.id,
            reason="Not verified",
            now=STARTED - DAY,
            actor=STAFF,
        )
        take_request(
            session, kestrel_policy, keyring, "erasure", email="e@example.org", now=STARTED
        )
        # Older than the window: not counted.
        take_request(
            session,
            kestrel_policy,
            keyring,
            "access",
            email="f@example.org",
            now=STARTED - DAY * 100,
        )
        at = STARTED - DAY * 3
        for state in ("given", "given", "refused"):
            give(
                session,
                kestrel_policy,
                new_subject(session, keyring, now=at),
                "newsletter",
                state,
                now=at,
            )
        changed = new_subject(session, keyring, now=at)
        give(session, kestrel_policy, changed, "newsletter", now=at - DAY)
        give(session, kestrel_policy, changed, "newsletter", "withdrawn", now=at)
    return sessions


def test_requests_per_week_by_kind_and_state(known: sessionmaker[Session]) -> None:
    with known() as session:
        weeks = requests_per_week(session, STARTED, 12)
    assert len(weeks) == 12 and weeks[-1].week == THIS_WEEK
    assert weeks[0].week == THIS_WEEK - timedelta(weeks=11)
    assert sum(week.total for week in weeks) == 5  # the one 100 days old is outside
    received = {week.week: week for week in weeks if week.total}
    first = week_of(STARTED - DAY * 70)
    # STARTED is a Thursday: the first three fall on Thursday to Saturday of one week, and the
    # two erasures on Wednesday and Thursday of the last.
    assert set(received) == {first, THIS_WEEK}
    assert received[first].by_kind == {"access": 3}
    assert received[THIS_WEEK].by_kind == {"erasure": 2}
    everything: dict[str, int] = {}
    for week in weeks:
        for state, n in week.by_state.items():
            everything[state] = everything.get(state, 0) + n
    assert everything == {"completed": 3, "denied": 1, "received": 1}


def test_completion_rate_and_median(known: sessionmaker[Session]) -> None:
    with known() as session:
        done = completion(session, STARTED, 12)
    assert (done.completed, done.on_time) == (3, 2)
    assert done.on_time_rate == pytest.approx(2 / 3)
    assert done.median_time == DAY * 4


def test_opt_in_rates_from_the_current_state(known: sessionmaker[Session]) -> None:
    with known() as session:
        rates = opt_in_rates(session, STARTED)
        assert rates == [OptInRate("newsletter", given=2, refused=1, withdrawn=1)]
        assert rates[0].rate == 0.5
        # Before anything was recorded there is nothing to rate.
        assert opt_in_rates(session, STARTED - DAY * 10) == []
        # Newsletter consent expires after two years (the declaration): then the two given
        # count on neither side, and what was refused or withdrawn stays.
        later = opt_in_rates(session, STARTED + DAY * 800)
        assert later == [OptInRate("newsletter", given=0, refused=1, withdrawn=1)]
        assert later[0].rate == 0.0


def test_the_dashboard_draws_and_tabulates_the_figures(
    known: sessionmaker[Session], desk: Console, keyring: Keyring
) -> None:
    member = make_member(desk.engine, keyring, "officer@example.org", Role.privacy_officer)
    assert desk.sign_in(member).headers["location"] == "/console"
    page = desk.client.get("/console/dashboard")
    assert page.status_code == 200
    text = " ".join(html.unescape(page.text).split())
    assert text.count('<svg role="img"') == 4
    assert "<script" not in text
    assert "5 requests received in 12 weeks" in text
    assert "2 of 3 requests completed in 12 weeks met their deadline (67 %)" in text
    assert "median time from receipt to completion: 4 d 0 h" in text
    row = re.search(r"<th scope=\"row\">newsletter</th>(.*?)</tr>", text)
    assert row is not None
    assert re.findall(r"<td>([^<]*)</td>", row.group(1)) == ["2", "1", "1", "50 %"]
    # The chart carries the same rate: a bar half the track's width, labelled 50 %.
    assert 'width="360" height="18" class="track"' in text
    assert 'width="180.0" height="18" fill="#0072B2"' in text
    assert ">50 %</text>" in text


@pytest.mark.parametrize(("role", "status"), [(Role.agent, 403), (Role.auditor, 200)])
def test_the_dashboard_is_for_those_who_oversee(
    desk: Console, keyring: Keyring, role: Role, status: int
) -> None:
    member = make_member(desk.engine, keyring, f"{role.value}@example.org", role)
    assert desk.sign_in(member).headers["location"] == "/console"
    assert desk.client.get("/console/dashboard").status_code == status


def test_charts_escape_their_labels_and_scale_to_the_largest() -> None:
    chart = str(stacked_bars("Kinds <b>", ["w1", "w2"], ["a&b"], [[2], [4]]))
    assert "<b>" not in chart and "Kinds &lt;b&gt;" in chart and "a&amp;b" in chart
    heights = [
        float(h) for h in re.findall(r'<rect [^>]*height="([0-9.]+)" fill="[^"]+"><title>', chart)
    ]
    assert heights == [pytest.approx(heights[1] / 2), heights[1]]
    bars = str(rate_bars("Rates", [("x", 0.25)]))
    assert 'width="90.0"' in bars and ">25 %</text>" in bars
    empty = str(rate_bars("Rates", [("x", None)]))
    assert 'width="0.0"' in empty and ">no data</text>" in empty


def test_the_median_of_an_even_count_is_the_mean_of_the_middle_two() -> None:
    assert middle([DAY * 4, DAY, DAY * 2, DAY * 10]) == DAY * 3
    assert middle([DAY]) == DAY
    assert middle([]) is None
