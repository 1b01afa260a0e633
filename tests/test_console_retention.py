"""The console's retention page under a moved clock: the plan drawn as a chart with the same
numbers in its table, the legal holds in force, the review report's summary and its downloads
(each audited), and placing and lifting holds through the page's forms."""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apikey_support import MovingClock
from company_support import PORTAL, portal_company
from consent_support import STAFF, audit_events
from httpx import Response
from retention_support import email, inquiry, project
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker
from staff_support import STARTED, Console, Member, console, csrf_of, make_member
from sweep_support import NOW as SHOP_NOW
from sweep_support import erasable_shop_yaml, load_shop
from vault_support import CONTACT_FORM, PERSONAL

from troth.datasets import connect_datasets
from troth.datasets.sweep import sweep_dataset
from troth.declaration import Policy
from troth.retention import LegalHold, place_hold, sweep_vault
from troth.staff import Role
from troth.store import make_engine, make_sessionmaker
from troth.subjects import Keyring

DAY = timedelta(days=1)
YEAR = timedelta(days=365)
# STARTED is 26 November 2026. An enquiry is deleted a year after the person's last activity;
# a client's project data is isolated five years after the project is completed.
MOVED = datetime(2027, 1, 20, 9, 0, 15, tzinfo=UTC)


@pytest.fixture
def desk(kestrel_policy: Policy, sqlite_url: str, keyring: Keyring) -> Iterator[Console]:
    with console(kestrel_policy, sqlite_url, keyring, MovingClock(STARTED)) as c:
        yield c


@pytest.fixture
def db(desk: Console) -> sessionmaker[Session]:
    return make_sessionmaker(desk.engine)


@pytest.fixture
def seeded(db: sessionmaker[Session], kestrel_policy: Policy, keyring: Keyring) -> dict[str, str]:
    """Four people who wrote in (five items each) and one client's project (two items):

    - writer 1: due 20 Nov 2026 (before STARTED: due now);
    - writer 2: due 28 Nov 2026 (the rest of November);
    - writer 3: due 10 Jan 2027;
    - writer 4: due 15 Jan 2027, kept by a legal hold on the subject;
    - client 1's project data: to be isolated on 12 Jan 2027.
    """
    with db.begin() as session:
        for n, due in ((1, "2026-11-20"), (2, "2026-11-28"), (3, "2027-01-10")):
            inquiry(session, kestrel_policy, keyring, n, active=_day(due) - YEAR)
        held = inquiry(session, kestrel_policy, keyring, 4, active=_day("2027-01-15") - YEAR)
        project(session, kestrel_policy, keyring, 1, completed=_day("2027-01-12") - 5 * YEAR)
        hold = place_hold(
            session,
            kestrel_policy,
            scope="subject",
            target=held,
            reason="Case 2026-17 <Labour court>",
            placed_by="legal",
            now=STARTED - DAY,
            actor=STAFF,
        )
    return {"held_subject": held, "hold_id": hold.id}


def _day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(hour=12, tzinfo=UTC)


def signed_in(desk: Console, keyring: Keyring, role: Role) -> Member:
    member = make_member(desk.engine, keyring, f"{role.value}@example.org", role, now=desk.clock())
    assert desk.sign_in(member).headers["location"] == "/console"
    return member


def text_of(page: Response) -> str:
    """The page's markup with its white space collapsed (text still escaped)."""
    return " ".join(page.text.split())


def table_row(text: str, header: str, nth: int = 0) -> list[str]:
    """The text of the cells after a row's header cell, in the ``nth`` table row that has it."""
    found = re.findall(rf'<th scope="row">{re.escape(header)}</th>(.*?)</tr>', text)
    assert len(found) > nth, f"no row {header!r}"
    cells = re.findall(r"<td>(.*?)</td>", found[nth])
    return [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells]


def bars(text: str) -> dict[tuple[str, str], int]:
    """The chart's segments: (month, series) -> items, from each bar's own title."""
    return {
        (month, series): int(n)
        for month, series, n in re.findall(
            r"<title>([^<,]+), ([^<:]+: [^<:]+): (\d+)</title>", text
        )
    }


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.admin, 200), (Role.privacy_officer, 200), (Role.auditor, 200), (Role.agent, 403)],
)
def test_the_page_is_for_those_who_oversee(
    desk: Console, keyring: Keyring, role: Role, status: int
) -> None:
    signed_in(desk, keyring, role)
    for path in ("/console/retention", "/console/retention/report.csv"):
        answer = desk.client.get(path)
        assert answer.status_code == status, path
        if status == 403:
            assert "Your role does not open this page" in answer.text
    home = desk.client.get("/console")
    assert ('href="/console/retention"' in home.text) == (status == 200)


def test_the_plan_is_drawn_and_tabulated_with_the_same_numbers(
    desk: Console, keyring: Keyring, seeded: dict[str, str]
) -> None:
    signed_in(desk, keyring, Role.auditor)
    page = desk.client.get("/console/retention")
    assert page.status_code == 200
    text = text_of(page)
    assert text.count('<svg role="img"') == 1 and "<script" not in text
    labels = ["now", "Nov 2026", "Dec 2026", "Jan 2027"]
    assert re.findall(r'<th scope="col">([^<]+)</th>', text)[2:6] == labels
    # Due now, in the rest of November, in January; the held writer counts apart.
    inquiries = table_row(text, "vault: inquiries")
    assert inquiries[:5] == ["delete", "5", "5", "0", "5"]
    assert inquiries[-2:] == ["15", "5"]  # total, held
    projects = table_row(text, "vault: project_data")
    assert projects[:5] == ["isolate", "0", "0", "0", "2"]
    assert table_row(text, "vault: financial_records")[1:] == ["0"] * 13 + ["0", "0"]
    assert table_row(text, "All rules")[1:5] == ["5", "5", "0", "7"]
    # The chart: one segment per rule and month with items, stacked; rules with none are left
    # out of its legend.
    assert bars(text) == {
        ("now", "vault: inquiries"): 5,
        ("Nov 2026", "vault: inquiries"): 5,
        ("Jan 2027", "vault: inquiries"): 5,
        ("Jan 2027", "vault: project_data"): 2,
    }
    assert "vault: financial_records" not in re.search(r"<svg.*?</svg>", text).group(0)  # type: ignore[union-attr]
    assert "17 items due now or in the next 12 months, 5 of them due now" in text
    # The hold in force, its subject by id only; no one's data anywhere on the page.
    hold = table_row(text, f"<code>{seeded['hold_id'][:8]}</code>")
    assert hold[:5] == [
        "subject",
        seeded["held_subject"],
        "Case 2026-17 <Labour court>",
        "legal",
        "2026-11-25 09:00",
    ]
    assert hold[5] == "until lifted"
    assert "Case 2026-17 &lt;Labour court&gt;" in page.text
    for value in (*PERSONAL, email(4)):
        assert value not in text
    # An auditor reads; the forms are for officers and admins.
    assert 'action="/console/retention/holds"' not in text and "/lift" not in text


def test_a_moved_clock_moves_the_plan_and_the_report_counts_what_was_isolated(
    desk: Console,
    keyring: Keyring,
    seeded: dict[str, str],
    kestrel_policy: Policy,
    db: sessionmaker[Session],
) -> None:
    desk.clock.now = MOVED
    # The 12 January deadline has passed: the sweep isolates the project data and deletes the
    # enquiries that are due, except the held writer's.
    report = sweep_vault(db, kestrel_policy, MOVED)
    assert report.total() == 3 * 5 + 2
    signed_in(desk, keyring, Role.privacy_officer)
    text = text_of(desk.client.get("/console/retention"))
    assert re.findall(r'<th scope="col">([^<]+)</th>', text)[2:4] == ["now", "Jan 2027"]
    inquiries = table_row(text, "vault: inquiries")
    assert inquiries[:3] == ["delete", "0", "0"] and inquiries[-2:] == ["0", "5"]
    assert "0 items due now or in the next 12 months" in text
    assert bars(text) == {}
    # The report's rows come after the plan's: action, kept for, basis, items, isolated,
    # waiting for an event, oldest, anonymised, holds.
    projects = table_row(text, "vault: project_data", 1)
    assert projects[:6] == ["isolate", "P5Y from project completed", "contract", "0", "2", "0"]
    inquiries = table_row(text, "vault: inquiries", 1)
    assert inquiries[3:6] == ["5", "0", "0"]
    assert inquiries[-1] == f"{seeded['hold_id'][:8]} (5)"
    assert "2 items isolated in all" in text


def test_the_report_downloads_as_csv_and_html_and_each_download_is_audited(
    desk: Console, keyring: Keyring, seeded: dict[str, str], db: sessionmaker[Session]
) -> None:
    member = signed_in(desk, keyring, Role.auditor)
    page = desk.client.get("/console/retention")
    assert 'href="/console/retention/report.csv"' in page.text
    assert 'href="/console/retention/report.html"' in page.text

    answer = desk.client.get("/console/retention/report.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == (
        'attachment; filename="retention-review-2026-11-26.csv"'
    )
    rows = {row["rule"]: row for row in csv.DictReader(io.StringIO(answer.text))}
    assert rows["inquiries"]["items"] == "20"
    assert rows["inquiries"]["legal_holds"] == f"{seeded['hold_id']}:5"
    assert rows["project_data"]["items"] == "2"

    answer = desk.client.get("/console/retention/report.html")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["content-disposition"] == (
        'attachment; filename="retention-review-2026-11-26.html"'
    )
    assert answer.text.startswith("<!doctype html>")
    assert "Case 2026-17 &lt;Labour court&gt;" in answer.text

    with db() as session:
        events = audit_events(session, "retention.report_downloaded")
    assert [(e.actor_kind, e.actor_id, e.details) for e in events] == [
        ("staff", member.id, {"format": "csv"}),
        ("staff", member.id, {"format": "html"}),
    ]
    assert all(e.subject_id is None for e in events)


def holds_of(db: sessionmaker[Session]) -> list[LegalHold]:
    with db() as session:
        return list(session.scalars(select(LegalHold).order_by(LegalHold.placed_at)))


def test_an_officer_places_and_lifts_a_hold_with_the_forms(
    desk: Console, keyring: Keyring, db: sessionmaker[Session]
) -> None:
    member = signed_in(desk, keyring, Role.privacy_officer)
    page = desk.client.get("/console/retention")
    assert "No legal hold is in force." in page.text
    csrf = csrf_of(page)
    form = {
        "scope": "category",
        "target": "user.contact",
        "reason": "Order 17",
        "until": "2027-06-30",
    }
    # Without the session's token nothing is placed.
    refused = desk.client.post("/console/retention/holds", data=form | {"csrf": "wrong"})
    assert refused.status_code == 403 and "Form refused" in refused.text
    assert holds_of(db) == []

    placed = desk.client.post(
        "/console/retention/holds", data=form | {"csrf": csrf}, follow_redirects=False
    )
    assert placed.status_code == 303
    assert placed.headers["location"] == "/console/retention?done=placed"
    [hold] = holds_of(db)
    assert (hold.scope, hold.target, hold.reason) == ("category", "user.contact", "Order 17")
    assert hold.until == datetime(2027, 6, 30, tzinfo=UTC)
    assert hold.placed_by == f"staff:{member.id}" and hold.placed_at == STARTED
    text = text_of(desk.client.get(placed.headers["location"]))
    assert "Legal hold placed" in text
    assert table_row(text, f"<code>{hold.id[:8]}</code>")[:6] == [
        "category",
        "user.contact",
        "Order 17",
        f"staff:{member.id}",
        "2026-11-26 09:00",
        "2027-06-30 00:00",
    ]

    lift = f"/console/retention/holds/{hold.id}/lift"
    assert f'action="{lift}"' in text
    assert desk.client.post(lift, data={"csrf": "wrong"}).status_code == 403
    assert holds_of(db)[0].lifted_at is None
    desk.clock.advance(60)
    lifted = desk.client.post(lift, data={"csrf": csrf}, follow_redirects=False)
    assert lifted.status_code == 303
    assert lifted.headers["location"] == "/console/retention?done=lifted"
    [hold] = holds_of(db)
    assert hold.lifted_at == STARTED + timedelta(seconds=60)
    assert hold.lifted_by == f"staff:{member.id}"
    assert "No legal hold is in force." in desk.client.get("/console/retention").text
    # Twice is refused, on the page.
    again = desk.client.post(lift, data={"csrf": csrf})
    assert again.status_code == 409 and "was already lifted" in again.text
    unknown = desk.client.post("/console/retention/holds/nope/lift", data={"csrf": csrf})
    assert unknown.status_code == 404

    with db() as session:
        events = [
            (e.action, e.actor_id, e.details)
            for e in audit_events(session)
            if e.action.startswith("retention.")
        ]
    assert events == [
        (
            "retention.hold_placed",
            member.id,
            {"hold_id": hold.id, "scope": "category", "until": "2027-06-30T00:00:00+00:00"},
        ),
        ("retention.hold_lifted", member.id, {"hold_id": hold.id, "scope": "category"}),
    ]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"scope": "planet"}, "scope", "'scope': is not one of subject, client, category, dataset"),
        ({"until": "30/06/2027"}, "until", "'until': is not a date"),
        ({"until": "2026-01-01"}, "until", "'until': is not in the future"),
        ({"reason": "  "}, "reason", "'reason': is empty"),
        ({"target": "user.shoe_size"}, "target", "'target': is not a category the declaration"),
        ({"scope": "subject", "target": "nobody"}, "target", "'target': no subject has this id"),
        ({"scope": "dataset", "target": "a.b.c"}, "target", "'target': is not a dataset key"),
        ({"scope": "client", "target": "Acme-Logistics"}, "target", "'target': is not a client"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    desk: Console,
    keyring: Keyring,
    db: sessionmaker[Session],
    change: dict[str, str],
    field: str,
    words: str,
) -> None:
    signed_in(desk, keyring, Role.admin)
    csrf = csrf_of(desk.client.get("/console/retention"))
    form = {"scope": "category", "target": "user.contact", "reason": "Order 17", "until": ""}
    answer = desk.client.post("/console/retention/holds", data=form | change | {"csrf": csrf})
    assert answer.status_code == 400
    text = text_of(answer)
    assert "No hold was placed" in text
    error = re.search(rf'<p class="error" id="e-{field}">([^<]*)</p>', text)
    assert error and html.unescape(error.group(1)).startswith(words)
    assert re.search(rf'id="h-{field}"[^>]*aria-invalid="true"', text)
    # What was typed is kept in the form, to correct.
    if field == "target":
        assert f'value="{change["target"]}"' in text
    assert holds_of(db) == []


@pytest.mark.parametrize("role", [Role.auditor, Role.agent])
def test_only_officers_and_admins_place_or_lift_holds(
    desk: Console, keyring: Keyring, role: Role, seeded: dict[str, str], db: sessionmaker[Session]
) -> None:
    signed_in(desk, keyring, role)
    csrf = csrf_of(desk.client.get("/console"))
    form = {"scope": "dataset", "target": "vault", "reason": "Order 17", "csrf": csrf}
    answer = desk.client.post("/console/retention/holds", data=form)
    assert answer.status_code == 403 and "Your role does not open this page" in answer.text
    lift = desk.client.post(
        f"/console/retention/holds/{seeded['hold_id']}/lift", data={"csrf": csrf}
    )
    assert lift.status_code == 403
    [hold] = holds_of(db)
    assert hold.lifted_at is None


def test_the_page_and_report_include_connected_company_databases(
    desk: Console, keyring: Keyring, kestrel_policy: Policy, tmp_path: Path
) -> None:
    engine = portal_company(tmp_path / "portal.db")
    connected = connect_datasets(
        [PORTAL], policy=kestrel_policy, environ={"TROTH_DATASET_PORTAL_URL": str(engine.url)}
    )
    app = desk.client.app
    app.state.site = dataclasses.replace(app.state.site, datasets=connected)
    signed_in(desk, keyring, Role.privacy_officer)
    page = text_of(desk.client.get("/console/retention"))
    # the portal's 2016 invoices are past the seven years of financial_records: due now
    assert table_row(page, "dataset:portal: financial_records")[1] == "2"
    answer = desk.client.get("/console/retention/report.csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["rule"] for r in rows if r["source"] == "dataset:portal"] == ["financial_records"]
    connected.dispose()
    engine.dispose()


def test_the_auditor_alone_reads_isolated_items_and_each_read_is_recorded(
    desk: Console,
    keyring: Keyring,
    kestrel_policy: Policy,
    db: sessionmaker[Session],
) -> None:
    with db.begin() as session:
        client = project(
            session, kestrel_policy, keyring, 1, completed=_day("2027-01-12") - 5 * YEAR
        )
    desk.clock.now = MOVED
    sweep_vault(db, kestrel_policy, MOVED)  # the project data is isolated
    auditor = signed_in(desk, keyring, Role.auditor)
    page = desk.client.get("/console/retention/isolated")
    assert page.status_code == 200
    answer = desk.client.post(
        "/console/retention/isolated",
        data={"csrf": csrf_of(page), "subject": client},
    )
    assert answer.status_code == 200
    text = text_of(answer)
    for value in (v["value"] for v in CONTACT_FORM[:2]):
        assert html.escape(value) in text
    unknown = desk.client.post(
        "/console/retention/isolated",
        data={"csrf": csrf_of(page), "subject": "no-such-subject"},
    )
    assert unknown.status_code == 404 and "there is no subject with that id" in unknown.text
    with db() as session:
        [event] = audit_events(session, "retention.isolated_read")
        assert event.subject_id == client and event.details["items"] == 2
        assert event.actor_id == auditor.id
    for value in (v["value"] for v in CONTACT_FORM[:2]):
        assert value not in str(event.details)


def test_the_auditor_reads_values_isolated_in_a_company_database(
    desk: Console,
    keyring: Keyring,
    kestrel_policy: Policy,
    db: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    with db.begin() as session:
        client = project(session, kestrel_policy, keyring, 1)
    engine = make_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    load_shop(engine)
    with engine.begin() as conn:  # the shop's member 3 is the client; their note 1 has expired
        conn.execute(text("UPDATE member SET email = 'client1@example.in' WHERE id = 3"))
    file = tmp_path / "shop.yaml"
    file.write_text(erasable_shop_yaml(), encoding="utf-8")
    connected = connect_datasets(
        [file], policy=kestrel_policy, environ={"TROTH_DATASET_SHOP_URL": str(engine.url)}
    )
    counts = sweep_dataset(
        connected.target("shop"),
        kestrel_policy,
        SHOP_NOW,
        hash_key=keyring.current.dataset_hash_key(),
        seal=keyring.seal_isolated,
    )
    assert counts.rules["project_data"] == {"isolated": 1}
    app = desk.client.app
    app.state.site = dataclasses.replace(app.state.site, datasets=connected)
    signed_in(desk, keyring, Role.auditor)
    page = desk.client.get("/console/retention/isolated")
    answer = desk.client.post(
        "/console/retention/isolated", data={"csrf": csrf_of(page), "subject": client}
    )
    assert answer.status_code == 200
    assert table_row(text_of(answer), "shop.project_note 1") == [
        "body",
        "warranty claim",
        "project_data",
        SHOP_NOW.strftime("%Y-%m-%d"),
    ]
    with db() as session:
        [event] = audit_events(session, "retention.isolated_read")
    assert event.details["dataset_rows"] == 1 and event.details["datasets"] == ["shop"]
    assert "warranty claim" not in str(event.details)
    connected.dispose()
    engine.dispose()


@pytest.mark.parametrize("role", [Role.privacy_officer, Role.admin, Role.agent])
def test_isolated_items_are_not_for_other_roles(
    desk: Console, keyring: Keyring, role: Role
) -> None:
    signed_in(desk, keyring, role)
    assert desk.client.get("/console/retention/isolated").status_code == 403
