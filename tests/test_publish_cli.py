"""The `troth publish` and `troth serve` commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import KESTREL, ROOT, dump, kestrel_data
from typer.testing import CliRunner

from troth.cli import app
from troth.publishing import list_versions
from troth.store import make_engine, make_sessionmaker

runner = CliRunner()
KESTREL_HISTORY = sorted((ROOT / "examples" / "kestrel" / "history").glob("*.yaml"))


def versions_in(url: str) -> list[str]:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        versions = [row.version for row in list_versions(session)]
    engine.dispose()
    return versions


def test_publish_records_a_history_in_order(sqlite_url: str) -> None:
    files = [str(path) for path in KESTREL_HISTORY]
    result = runner.invoke(app, ["publish", *files, "--db", sqlite_url])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("recorded version 1.0 (effective 2024-01-15, hash ")
    assert lines[0].endswith(f"from {files[0]}")
    assert lines[1].startswith("recorded version 2.0 (effective 2025-04-01, hash ")
    assert lines[2] == f"2 recorded, 0 skipped, in {sqlite_url}"
    assert versions_in(sqlite_url) == ["2.0", "1.0"]


def test_publish_again_skips_what_is_recorded(sqlite_url: str) -> None:
    files = [str(path) for path in KESTREL_HISTORY]
    runner.invoke(app, ["publish", *files, "--db", sqlite_url])
    result = runner.invoke(app, ["publish", *files, str(KESTREL), "--db", sqlite_url])
    assert result.exit_code == 0, result.output
    assert "skipped  version 1.0" in result.stdout
    assert "(already recorded)" in result.stdout
    assert "recorded version 3.0 (effective 2026-09-01, hash " in result.stdout
    assert "1 recorded, 2 skipped" in result.stdout
    assert versions_in(sqlite_url) == ["3.0", "2.0", "1.0"]


def test_publish_refuses_changed_content_under_a_published_version(
    sqlite_url: str, tmp_path: Path
) -> None:
    runner.invoke(app, ["publish", str(KESTREL), "--db", sqlite_url])
    data = kestrel_data()
    data["policy"]["summary"] = "We changed our practice but not the version."
    changed = tmp_path / "changed.yaml"
    changed.write_text(dump(data))
    newer = tmp_path / "newer.yaml"
    data["policy"]["version"] = "3.1"
    newer.write_text(dump(data))
    result = runner.invoke(app, ["publish", str(newer), str(changed), "--db", sqlite_url])
    assert result.exit_code == 1
    assert f"{changed}: error: version 3.0 was already published with different content" in (
        result.stderr
    )
    assert "give the changed declaration a new policy.version" in result.stderr
    assert "Nothing was recorded." in result.stderr
    assert "Traceback" not in result.output
    assert versions_in(sqlite_url) == ["3.0"]  # 3.1 was not kept either


def test_publish_reports_declaration_problems_and_records_nothing(
    sqlite_url: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text('troth: 1\npolicy:\n  version: "1.0"\n')
    result = runner.invoke(app, ["publish", str(KESTREL), str(bad), "--db", sqlite_url])
    assert result.exit_code == 1
    problem_lines = [line for line in result.stderr.splitlines() if line.startswith(str(bad))]
    assert problem_lines
    for line in problem_lines:
        _file, line_no, col, message = line.split(":", 3)
        assert int(line_no) > 0 and int(col) > 0 and message.startswith(" error:")
    assert "nothing was recorded" in result.stderr
    assert "Traceback" not in result.output
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()


def test_publish_with_a_bad_database_url_is_a_clear_error() -> None:
    result = runner.invoke(app, ["publish", str(KESTREL), "--db", "var/troth.db"])
    assert result.exit_code == 1
    assert "'var/troth.db' is not a database URL" in result.stderr
    assert "Traceback" not in result.output


def test_publish_with_an_unreachable_database_hides_the_password() -> None:
    url = "postgresql+psycopg://troth:s3cret@127.0.0.1:1/troth"
    result = runner.invoke(app, ["publish", str(KESTREL), "--db", url])
    assert result.exit_code == 1
    assert "error: database postgresql+psycopg://troth:***@127.0.0.1:1/troth" in result.stderr
    assert "s3cret" not in result.output


def test_publish_needs_at_least_one_file() -> None:
    result = runner.invoke(app, ["publish"])
    assert result.exit_code == 2
    assert "Missing argument" in result.output


def test_serve_reports_a_bad_declaration_without_a_traceback(tmp_path: Path) -> None:
    data = kestrel_data()
    data["purposes"][0]["legal_basis"] = "because_we_can"
    bad = tmp_path / "privacy.yaml"
    bad.write_text(dump(data))
    db = f"sqlite:///{tmp_path / 'troth.db'}"
    result = runner.invoke(app, ["serve", "--declaration", str(bad), "--db", db])
    assert result.exit_code == 1
    first = result.stderr.splitlines()[0]
    file, line_no, col, message = first.split(":", 3)
    assert (file, message.split(":")[0]) == (str(bad), " error")
    assert int(line_no) > 1 and int(col) > 0
    assert "Traceback" not in result.output
    assert not (tmp_path / "troth.db").exists()


def test_serve_reports_a_missing_declaration(tmp_path: Path) -> None:
    missing = tmp_path / "privacy.yaml"
    result = runner.invoke(app, ["serve", "--declaration", str(missing)])
    assert result.exit_code == 1
    assert f"{missing}:1:1: error: cannot read file" in result.stderr


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("serve", ["--declaration", "--db", "--host", "--port", "TROTH_DB"]),
        ("publish", ["FILE", "--db", "TROTH_DB"]),
    ],
)
def test_help_lists_the_options(command: str, options: list[str]) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    for option in options:
        assert option in result.stdout
