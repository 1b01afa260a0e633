"""`troth datasets scaffold` and `troth datasets check`."""

from __future__ import annotations

from pathlib import Path

import pytest
from dataset_support import PORTAL, create_portal_schema
from sqlalchemy import create_engine, text
from support import KESTREL
from typer.testing import CliRunner

from troth.cli import app

runner = CliRunner()
SECRET_EMAIL = "someone.real@mail.example"


def troth(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def portal_url(tmp_path: Path) -> str:
    database = tmp_path / "portal.db"
    engine = create_engine(f"sqlite:///{database}")
    create_portal_schema(engine)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO customer (id, email, name, created_at) "
                f"VALUES (1, '{SECRET_EMAIL}', 'Real Person', '2026-01-01')"
            )
        )
    engine.dispose()
    return f"sqlite:///{database}"


def test_scaffold_then_check_round_trip(tmp_path: Path, portal_url: str) -> None:
    output = tmp_path / "portal.yaml"
    code, stdout, stderr = troth("datasets", "scaffold", portal_url, "-o", str(output))
    assert code == 0, stderr
    assert f"wrote {output}:" in stdout and "marked 'review'" in stdout
    written = output.read_text()
    assert "fides_key: portal" in written  # the key defaults to the file's name
    assert SECRET_EMAIL not in written + stdout + stderr
    code, stdout, stderr = troth("datasets", "check", str(output), "--db", portal_url)
    assert (code, stderr) == (0, "")
    assert f"{output}: ok against the database" in stdout


def test_scaffold_never_overwrites_without_force(tmp_path: Path, portal_url: str) -> None:
    output = tmp_path / "mine.yaml"
    output.write_text("hand written\n")
    code, _, stderr = troth("datasets", "scaffold", portal_url, "-o", str(output))
    assert code == 1
    assert "the file exists; use --force" in stderr
    assert output.read_text() == "hand written\n"
    code, _, stderr = troth(
        "datasets", "scaffold", portal_url, "-o", str(output), "--force", "--key", "shop",
        "--sample", "0",
    )  # fmt: skip
    assert code == 0, stderr
    assert "fides_key: shop" in output.read_text()


def test_the_url_can_come_from_the_environment(tmp_path: Path, portal_url: str) -> None:
    code, stdout, stderr = troth(
        "datasets", "check", str(PORTAL), "--db", "env:PORTAL_URL",
        "--declaration", str(KESTREL), env={"PORTAL_URL": portal_url},
    )  # fmt: skip
    assert code == 0, stderr
    assert portal_url not in stdout + stderr
    code, _, stderr = troth("datasets", "check", str(PORTAL), "--db", "env:NOT_SET_ANYWHERE")
    assert code == 2
    assert "environment variable NOT_SET_ANYWHERE holds no database URL" in stderr


def test_check_on_a_broken_file_exits_1_with_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    text_ = PORTAL.read_text().replace(
        "      - name: visit\n        fields:\n          - name: id\n"
        "            data_categories: [system.operations]\n"
        "            fides_meta: {primary_key: true, data_type: integer}\n",
        "      - name: visit\n        fields:\n          - name: id\n"
        "            data_categories: [system.operations]\n",
    )
    broken.write_text(text_)
    visit_line = text_.splitlines().index("      - name: visit") + 1
    code, _, stderr = troth("datasets", "check", str(broken))
    assert code == 1
    assert (
        f"{broken}:{visit_line}:9: error: collection visit holds personal data but declares no "
        "primary key"
    ) in stderr
    assert f"{broken}: 1 error(s), 0 warning(s)" in stderr
    unloadable = tmp_path / "unloadable.yaml"
    unloadable.write_text(PORTAL.read_text().replace("mask: hash", "mask: shred"))
    lines = unloadable.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if "mask: shred" in line)
    where = f"{at + 1}:{lines[at].index('shred') + 1}"
    code, _, stderr = troth("datasets", "check", str(unloadable))
    assert code == 1
    assert f"{unloadable}:{where}: error: mask: expected 'nullify'" in stderr
    assert "Traceback" not in stderr


def test_live_errors_fail_the_check(tmp_path: Path, portal_url: str) -> None:
    engine = create_engine(portal_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE visit"))
    engine.dispose()
    code, _, stderr = troth("datasets", "check", str(PORTAL), "--db", portal_url)
    assert code == 1
    assert "error: collection visit: the database has no table of that name" in stderr


def test_an_unreachable_database_exits_2_without_traceback_or_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://troth:hunter2secret@127.0.0.1:1/portal"
    code, stdout, stderr = troth("datasets", "check", str(PORTAL), "--db", url)
    assert code == 2
    assert "error: cannot connect to postgresql+psycopg://troth:***@127.0.0.1:1/portal" in stderr
    assert "hunter2secret" not in stdout + stderr
    assert "Traceback" not in stdout + stderr
    output = tmp_path / "out.yaml"
    code, stdout, stderr = troth("datasets", "scaffold", url, "-o", str(output))
    assert code == 2
    assert "hunter2secret" not in stdout + stderr
    assert not output.exists()


def test_a_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    code, _, stderr = troth(
        "datasets", "scaffold", f"sqlite:///{missing}", "-o", str(tmp_path / "x.yaml")
    )
    assert code == 2
    assert f"no SQLite database at {missing}" in stderr
    assert not missing.exists()
