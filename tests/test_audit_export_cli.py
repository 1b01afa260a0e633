"""Exporting the audit trail as JSON lines, and the `troth audit` commands."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from audit_support import execute, record_many, swap_seq
from sqlalchemy import Engine
from support import ROOT
from typer.testing import CliRunner

from troth.audit import GENESIS_HASH, event_hash, export_events
from troth.cli import app
from troth.store import make_engine, make_sessionmaker, upgrade

runner = CliRunner()
HISTORY = [str(path) for path in sorted((ROOT / "examples" / "kestrel" / "history").glob("*.yaml"))]
FIELDS = [
    "seq",
    "occurred_at",
    "actor_kind",
    "actor_id",
    "action",
    "subject_id",
    "policy_version",
    "details",
    "prev_hash",
    "hash",
]


def test_export_round_trips_every_event_and_its_hash(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    events = record_many(engine, 12)
    stream = io.StringIO()
    with make_sessionmaker(engine)() as session:
        assert export_events(session, stream, batch_size=5) == 12
    engine.dispose()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 12
    previous = GENESIS_HASH
    for line, event in zip(lines, events, strict=True):
        exported = json.loads(line)
        assert list(exported) == FIELDS
        assert exported["seq"] == event.seq
        assert datetime.fromisoformat(exported["occurred_at"]) == event.occurred_at
        assert exported["details"] == event.details
        assert exported["details"]["note"] == "naïve café"  # UTF-8, not \u escapes
        assert "naïve café" in line
        assert exported["subject_id"] == event.subject_id
        # An auditor needs nothing but the line to re-compute the chain.
        assert event_hash(exported) == exported["hash"] == event.hash
        assert exported["prev_hash"] == previous
        previous = exported["hash"]


def test_export_of_an_empty_trail_writes_nothing(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    stream = io.StringIO()
    with make_sessionmaker(engine)() as session:
        assert export_events(session, stream) == 0
    engine.dispose()
    assert stream.getvalue() == ""


def publish_history(db: str) -> None:
    result = runner.invoke(app, ["publish", *HISTORY, "--db", db])
    assert result.exit_code == 0, result.output


def test_verify_counts_the_events_publishing_wrote(sqlite_url: str) -> None:
    publish_history(sqlite_url)
    result = runner.invoke(app, ["audit", "verify", "--db", sqlite_url])
    assert result.exit_code == 0, result.output
    # Two versions recorded, and version 2.0's material change asked for fresh consent.
    assert result.stdout.startswith("3 events verified (last hash ")
    # Publishing the same files again changes nothing, so records no event.
    publish_history(sqlite_url)
    again = runner.invoke(app, ["audit", "verify", "--db", sqlite_url])
    assert again.stdout == result.stdout


def test_verify_reads_the_database_from_troth_db(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_history(sqlite_url)
    monkeypatch.setenv("TROTH_DB", sqlite_url)
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 0
    assert "3 events verified" in result.stdout


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (
            lambda engine: execute(
                engine, "UPDATE audit_events SET details = :details", details={"version": "9"}
            ),
            "event seq 1: altered — its content no longer matches its hash",
        ),
        (
            lambda engine: execute(engine, "DELETE FROM audit_events WHERE seq = 1"),
            "event seq 1: removed — seq 1 is missing (the next event is seq 2)",
        ),
        (
            lambda engine: swap_seq(engine, 1, 2),
            "event seq 1: reordered — it was chained after event seq 2, not after seq 0",
        ),
    ],
)
def test_verify_exits_1_naming_the_first_bad_event(
    sqlite_url: str, tamper: Callable[[Engine], None], expected: str
) -> None:
    publish_history(sqlite_url)
    engine = make_engine(sqlite_url)
    tamper(engine)
    engine.dispose()
    result = runner.invoke(app, ["audit", "verify", "--db", sqlite_url])
    assert result.exit_code == 1
    assert result.stderr.strip() == expected
    assert result.stdout == ""


def test_verify_never_creates_a_database(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "troth.db"
    result = runner.invoke(app, ["audit", "verify", "--db", f"sqlite:///{missing}"])
    assert result.exit_code == 1
    assert f"error: no database at {missing}" in result.stderr
    assert not missing.parent.exists()


def test_verify_of_a_database_without_an_audit_trail_says_so(tmp_path: Path) -> None:
    plain = tmp_path / "other.db"
    engine = make_engine(f"sqlite:///{plain}")
    execute(engine, "CREATE TABLE t (n INTEGER)")
    engine.dispose()
    result = runner.invoke(app, ["audit", "verify", "--db", f"sqlite:///{plain}"])
    assert result.exit_code == 1
    assert "has no audit trail (no audit_events table)" in result.stderr


def test_verify_of_an_unreachable_database_hides_the_password() -> None:
    url = "postgresql+psycopg://troth:s3cret@127.0.0.1:1/troth?connect_timeout=2"
    result = runner.invoke(app, ["audit", "verify", "--db", url])
    assert result.exit_code == 1
    assert "error: database postgresql+psycopg://troth:***@127.0.0.1:1/troth" in result.stderr
    assert "s3cret" not in result.output


def test_export_to_stdout_is_json_lines(sqlite_url: str) -> None:
    publish_history(sqlite_url)
    result = runner.invoke(app, ["audit", "export", "--db", sqlite_url])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["action"], line["policy_version"]) for line in lines] == [
        ("policy.version_recorded", "1.0"),
        ("policy.version_recorded", "2.0"),
        ("consent.renewal_required", "2.0"),
    ]
    assert lines[1]["prev_hash"] == lines[0]["hash"]
    assert lines[2]["prev_hash"] == lines[1]["hash"]


def test_export_to_a_file(sqlite_url: str, tmp_path: Path) -> None:
    publish_history(sqlite_url)
    target = tmp_path / "exports" / "audit.jsonl"
    result = runner.invoke(app, ["audit", "export", "--db", sqlite_url, "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert f"wrote 3 events to {target}" in result.stderr
    lines = target.read_text(encoding="utf-8").splitlines()
    assert [event_hash(json.loads(line)) for line in lines] == [
        json.loads(line)["hash"] for line in lines
    ]
    assert sorted(p.name for p in target.parent.iterdir()) == ["audit.jsonl"]


def test_a_failed_export_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "audit.jsonl"
    db = f"sqlite:///{tmp_path / 'missing.db'}"
    result = runner.invoke(app, ["audit", "export", "--db", db, "--output", str(target)])
    assert result.exit_code == 1
    assert "error: no database at" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["verify", "export"])
def test_help_lists_the_options(command: str) -> None:
    result = runner.invoke(app, ["audit", command, "--help"])
    assert result.exit_code == 0
    for option in ["--db", "TROTH_DB", *(["--output"] if command == "export" else [])]:
        assert option in result.stdout
