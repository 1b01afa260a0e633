"""The retention page in a real browser at phone width: an officer signs in, opens it from the
navigation, sees the plan's chart and its table, and places a legal hold with the form."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from browser import chromium_browser, serving
from retention_support import inquiry
from staff_support import make_member
from test_browser_console import PHONE, no_sideways_scroll, sign_in

from troth.declaration import Policy
from troth.staff import Role
from troth.store import make_engine, make_sessionmaker, upgrade
from troth.subjects import Keyring
from troth.web import create_app


def test_an_officer_sees_the_plan_and_places_a_hold_on_a_phone(
    kestrel_policy: Policy, sqlite_url: str, keyring: Keyring, tmp_path: Path
) -> None:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    started = datetime.now(UTC)
    member = make_member(engine, keyring, "ada@example.org", Role.privacy_officer, now=started)
    # Two people who wrote in: one due a day ago, one due in a week (each five items).
    with make_sessionmaker(engine).begin() as session:
        for n, due in ((1, started - timedelta(days=1)), (2, started + timedelta(days=7))):
            inquiry(session, kestrel_policy, keyring, n, active=due.replace(year=due.year - 1))
    app = create_app(kestrel_policy, sqlite_url, keyring=keyring)
    with serving(app) as base_url, chromium_browser() as browser:
        page = browser.new_page(viewport=PHONE)
        sign_in(page, base_url, member.secret)
        page.get_by_role("link", name="Retention").first.click()
        page.wait_for_url(f"{base_url}/console/retention")
        main = page.locator("main")
        assert main.get_by_role("img").count() == 1
        assert "10 items due now or in the next 12 months, 5 of them due now" in main.inner_text()
        plan = page.locator("table.plan")
        row = plan.locator("tbody tr", has_text="vault: inquiries")
        cells = row.locator("td").all_inner_texts()
        assert cells[:2] == ["delete", "5"] and sum(int(n) for n in cells[1:14]) == 10
        assert plan.locator("tfoot td").all_inner_texts()[-2:] == ["10", "0"]
        no_sideways_scroll(page)
        page.screenshot(path=str(tmp_path / "console-retention-phone.png"), full_page=True)

        page.get_by_label("Scope").select_option("dataset")
        page.get_by_label("Target").fill("vault")
        page.get_by_label("Reason").fill("Case 2026-17")
        page.get_by_role("button", name="Place the hold").click()
        page.wait_for_url(re.compile(r".*/console/retention\?done=placed$"))
        assert "Legal hold placed" in page.get_by_role("status").inner_text()
        holds = page.locator("table.holds tbody tr")
        assert holds.count() == 1 and "Case 2026-17" in holds.first.inner_text()
        # Everything in the vault is now held: nothing is left to act on.
        assert "0 items due now or in the next 12 months" in main.inner_text()
        no_sideways_scroll(page)
    engine.dispose()
