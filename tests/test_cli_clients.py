"""`troth events record` and `troth clients override|overrides|clear`: outputs, exit codes, and
the deadlines they set.

The commands read the real clock, so the data is dated from it: end users of an application
Kestrel runs for a client signed up a year ago; the client's contract ended 60 days ago."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from support import KESTREL
from test_cli_apikeys import troth
from vault_support import submit

from troth.declaration import Policy
from troth.store import make_engine, make_sessionmaker, upgrade
from troth.subjects import Keyring
from troth.vault import VaultItem

DAY = timedelta(days=1)
SIGNED_UP = datetime.now(UTC) - 365 * DAY
ENDED = (datetime.now(UTC) - 60 * DAY).replace(hour=9, minute=30, second=0, microsecond=0)


@pytest.fixture
def db(sqlite_url: str, kestrel_policy: Policy, keyring: Keyring) -> tuple[str, str]:
    """A database with one end user of Acme's application; its URL and the subject's id."""
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine).begin() as session:
        result = submit(
            session,
            kestrel_policy,
            keyring,
            [{"category": "user.name", "value": "Anil Deshmukh"}],
            identity=("email", "anil.d@example.in"),
            source="client_apps",
            purpose="operate_client_apps",
            now=SIGNED_UP,
            client="acme_logistics",
        )
    engine.dispose()
    return sqlite_url, result.subject_id


def deadlines(url: str) -> set[tuple[datetime | None, str | None]]:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        rows = session.execute(select(VaultItem.retain_until, VaultItem.waiting_for)).all()
    engine.dispose()
    return {(until, waiting) for until, waiting in rows}


def test_override_then_the_clients_contract_ends_then_clear(db: tuple[str, str]) -> None:
    url, _ = db
    common = ["--declaration", str(KESTREL), "--db", url]
    code, stdout, stderr = troth("clients", "overrides", "--db", url)
    assert (code, stdout.strip()) == (0, "no agreed periods"), stderr

    code, stdout, stderr = troth(
        "clients", "override", "acme_logistics", "client_app_data", "P90D", *common
    )
    assert code == 0, stderr
    assert stdout.strip() == (
        "client acme_logistics: client_app_data kept for P90D; 0 items got a new deadline"
    )
    assert deadlines(url) == {(None, "contract_ended")}

    code, stdout, stderr = troth(
        "events", "record", "contract_ended", "--client", "acme_logistics",
        "--at", ENDED.isoformat(), *common,
    )  # fmt: skip
    assert code == 0, stderr
    assert stdout.strip() == (
        f"recorded contract_ended for client acme_logistics at {ENDED:%Y-%m-%d %H:%M} UTC: "
        "1 item got a new deadline"
    )
    assert deadlines(url) == {(ENDED + 90 * DAY, None)}

    code, stdout, stderr = troth(
        "clients", "override", "acme_logistics", "client_app_data", "P1Y", *common
    )
    assert code == 0, stderr
    assert "(was P90D); 1 item got a new deadline" in stdout
    assert deadlines(url) == {(ENDED.replace(year=ENDED.year + 1), None)}

    code, stdout, stderr = troth("clients", "overrides", "--db", url)
    assert code == 0, stderr
    [row] = [line for line in stdout.splitlines() if "acme_logistics" in line]
    assert [cell.strip() for cell in row.split("│")[1:4]] == [
        "acme_logistics",
        "client_app_data",
        "P1Y",
    ]

    code, stdout, stderr = troth("clients", "clear", "acme_logistics", "client_app_data", *common)
    assert code == 0, stderr
    assert "no longer kept for P1Y; back to the rule's period; 1 item got" in stdout
    assert deadlines(url) == {(ENDED + 30 * DAY, None)}

    code, stdout, stderr = troth("clients", "clear", "acme_logistics", "client_app_data", *common)
    assert code == 1
    assert "has no agreed period for rule client_app_data" in stderr
    assert "Traceback" not in stderr


def test_a_subjects_event_is_recorded_by_id(db: tuple[str, str]) -> None:
    url, subject = db
    code, stdout, stderr = troth(
        "events", "record", "account_closed", "--subject", subject,
        "--declaration", str(KESTREL), "--db", url,
    )  # fmt: skip
    assert code == 0, stderr
    assert stdout.startswith(f"recorded account_closed for subject {subject} at ")
    # Acme's end user is not a Kestrel customer: no rule of theirs starts at account closure.
    assert stdout.strip().endswith("0 items got a new deadline")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["events", "record", "contract_ended"], "give exactly one of --subject and --client"),
        (
            ["events", "record", "contract_ended", "--client", "a", "--subject", "b"],
            "give exactly one of --subject and --client",
        ),
        (["events", "record", "graduated", "--client", "acme"], "error: EVENT: is not an event"),
        (["events", "record", "contract_ended", "--client", "Acme Corp"], "error: --client:"),
        (
            ["events", "record", "contract_ended", "--client", "acme", "--at", "2100-01-01"],
            "error: --at: is in the future",
        ),
        (["events", "record", "contract_ended", "--client", "acme", "--at", "soon"], "--at:"),
        (
            ["events", "record", "account_closed", "--subject", "no-such-id"],
            "error: --subject: no subject has this id",
        ),
        (
            ["clients", "override", "acme", "inquiries", "P90D"],
            "error: RULE: does not allow a per-client period",
        ),
        (["clients", "override", "acme", "client_app_data", "90 days"], "error: PERIOD:"),
        (["clients", "override", "ACME", "client_app_data", "P90D"], "error: CLIENT:"),
    ],
)
def test_errors_exit_1_with_a_message(db: tuple[str, str], args: list[str], message: str) -> None:
    url, _ = db
    code, stdout, stderr = troth(*args, "--declaration", str(KESTREL), "--db", url)
    assert code == 1, stdout
    assert message in stderr
    assert "Traceback" not in stderr
    assert deadlines(url) == {(None, "contract_ended")}
