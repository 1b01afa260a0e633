"""`troth retention plan|run|report` and `troth holds place|lift|list`: outputs and exit codes.

The commands read the real clock, so the data here is dated from it: enquiries whose last
activity was two years ago are due (the Kestrel rule keeps them one year)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from retention_support import inquiry
from sqlalchemy import func, select
from support import KESTREL
from test_cli_apikeys import troth

from troth.declaration import Policy
from troth.store import make_engine, make_sessionmaker, upgrade
from troth.subjects import Keyring
from troth.vault import VaultItem

TWO_YEARS_AGO = datetime.now(UTC) - timedelta(days=730)


@pytest.fixture
def db(sqlite_url: str, kestrel_policy: Policy, keyring: Keyring) -> tuple[str, list[str]]:
    """A database with two people's enquiries, both due; their subject ids."""
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine).begin() as session:
        ids = [inquiry(session, kestrel_policy, keyring, n, active=TWO_YEARS_AGO) for n in (1, 2)]
    engine.dispose()
    return sqlite_url, ids


def items(url: str) -> int:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        n = session.scalar(select(func.count()).select_from(VaultItem)) or 0
    engine.dispose()
    return n


def test_plan_hold_run_lift_run(db: tuple[str, list[str]]) -> None:
    url, (held, _other) = db
    common = ["--declaration", str(KESTREL), "--db", url]
    code, stdout, stderr = troth("retention", "plan", *common)
    assert code == 0, stderr
    [line] = [line for line in stdout.splitlines() if "vault: inquiries" in line]
    assert line.split("│")[3].strip() == "10"  # due now
    assert "not cumulatively" in stdout

    code, stdout, stderr = troth(
        "holds", "place", "--subject", held, "--reason", "Case 114/2026", "--by", "legal",
        "--db", url, "--declaration", str(KESTREL),
    )  # fmt: skip
    assert code == 0, stderr
    hold_id = stdout.split()[3]
    code, stdout, _ = troth("holds", "list", "--db", url)
    assert code == 0 and hold_id in stdout and "active" in stdout and "Case 114/2026" in stdout

    code, stdout, stderr = troth("retention", "run", *common, "--batch-size", "2")
    assert code == 0, stderr
    assert "vault: inquiries: delete 5" in stdout
    assert "vault: inquiries: 5 due but kept by legal holds" in stdout
    assert "5 items in 3 batches" in stdout
    assert items(url) == 5

    code, stdout, _ = troth("holds", "lift", hold_id, "--by", "legal", "--db", url)
    assert code == 0 and f"lifted legal hold {hold_id}" in stdout
    code, _, stderr = troth("holds", "lift", hold_id, "--by", "legal", "--db", url)
    assert code == 1 and "already lifted" in stderr
    code, stdout, _ = troth("holds", "list", "--active", "--db", url)
    assert code == 0 and "no legal holds" in stdout

    code, stdout, _ = troth("retention", "run", *common)
    assert code == 0 and "vault: inquiries: delete 5" in stdout and items(url) == 0
    code, stdout, _ = troth("retention", "run", *common)
    assert code == 0 and "nothing was due" in stdout


def test_report_as_csv_and_html(db: tuple[str, list[str]], tmp_path: Path) -> None:
    url, _ = db
    common = ["--declaration", str(KESTREL), "--db", url]
    code, stdout, stderr = troth("retention", "report", *common)
    assert code == 0, stderr
    rows = {r["rule"]: r for r in csv.DictReader(io.StringIO(stdout))}
    assert rows["inquiries"]["items"] == "10"
    target = tmp_path / "review.html"
    code, stdout, _ = troth("retention", "report", *common, "--format", "html", "-o", str(target))
    assert code == 0 and str(target) in stdout
    assert "<table>" in target.read_text(encoding="utf-8")
    code, _, stderr = troth("retention", "report", *common, "--format", "xml")
    assert code == 1 and "--format" in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--subject", "x", "--client", "acme"], "exactly one of"),
        ([], "exactly one of"),
        (["--category", "user.nothing"], "--category: is not a category"),
        (["--subject", "no-such-subject"], "--subject: no subject has this id"),
        (["--dataset", "Bad Key"], "--dataset: is not a dataset key"),
        (["--client", "acme", "--until", "next week"], "--until: 'next week' is not a date"),
        (["--client", "acme", "--until", "2020-01-01"], "--until: is not in the future"),
    ],
)
def test_holds_place_refuses_bad_input(
    db: tuple[str, list[str]], args: list[str], message: str
) -> None:
    url, _ = db
    code, stdout, stderr = troth(
        "holds", "place", *args, "--reason", "Case 1", "--by", "legal", "--db", url,
        "--declaration", str(KESTREL),
    )  # fmt: skip
    assert code == 1 and message in stderr and "Traceback" not in stderr
    assert stdout == ""


def test_unknown_hold_and_bad_database(db: tuple[str, list[str]]) -> None:
    url, _ = db
    code, _, stderr = troth("holds", "lift", "nope", "--by", "legal", "--db", url)
    assert code == 1 and "no legal hold with id 'nope'" in stderr
    code, _, stderr = troth(
        "retention", "run", "--declaration", str(KESTREL), "--db", "var/troth.db"
    )
    assert code == 1 and "not a database URL" in stderr
