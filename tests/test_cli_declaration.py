"""The declaration commands: check, render, init."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from support import KESTREL, dump, item, kestrel_data
from typer.testing import CliRunner

from troth.cli import app

runner = CliRunner()


def test_check_ok_on_the_example() -> None:
    result = runner.invoke(app, ["check", str(KESTREL)])
    assert result.exit_code == 0, result.output
    assert "ok — Kestrel Software, version 3.0, 0 warning(s)" in result.stdout


def test_check_reports_every_problem_as_file_line_col(tmp_path: Path) -> None:
    data = kestrel_data()
    item(data, "purposes", "newsletter")["categories"].append("user.contact.address")
    item(data, "recipients", "postmark")["sale"] = True
    data["rights"]["complete_within"] = "P60D"  # a GDPR warning as well
    path = tmp_path / "privacy.yaml"
    path.write_text(dump(data))
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith(str(path))]
    errors = [line for line in lines if ": error: " in line]
    warnings = [line for line in lines if ": warning: " in line]
    assert len(errors) == 2
    assert warnings
    for line in lines:
        file, line_no, col, _message = line.split(":", 3)
        assert file == str(path) and int(line_no) > 0 and int(col) > 0
    assert "Traceback" not in result.output
    assert "2 error(s)" in result.stderr


def test_check_warnings_alone_exit_zero(tmp_path: Path) -> None:
    data = kestrel_data()
    data["rights"]["complete_within"] = "P60D"
    path = tmp_path / "privacy.yaml"
    path.write_text(dump(data))
    result = runner.invoke(app, ["check", str(path)])
    assert result.exit_code == 0
    assert ": warning: eu-gdpr:" in result.stderr


def test_check_malformed_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("policy: [\n")
    result = runner.invoke(app, ["check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:2:1: error: malformed YAML" in result.stderr
    missing = runner.invoke(app, ["check", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1
    assert "cannot read file" in missing.stderr
    assert "Traceback" not in missing.output


def test_render_to_stdout_and_file(tmp_path: Path) -> None:
    md = runner.invoke(app, ["render", str(KESTREL), "--format", "md"])
    assert md.exit_code == 0
    assert md.stdout.startswith("# Privacy policy of Kestrel Software")
    target = tmp_path / "site" / "privacy.html"
    html = runner.invoke(app, ["render", str(KESTREL), "--format", "html", "-o", str(target)])
    assert html.exit_code == 0, html.output
    assert target.read_text().startswith("<!doctype html>")
    bad_format = runner.invoke(app, ["render", str(KESTREL), "--format", "pdf"])
    assert bad_format.exit_code == 2


def test_render_refuses_an_invalid_declaration(tmp_path: Path) -> None:
    data = kestrel_data()
    data["purposes"][0]["legal_basis"] = "vibes"
    path = tmp_path / "privacy.yaml"
    path.write_text(dump(data))
    target = tmp_path / "out.md"
    result = runner.invoke(app, ["render", str(path), "-o", str(target)])
    assert result.exit_code == 1
    assert "legal_basis" in result.stderr
    assert not target.exists()


def test_init_writes_a_starter_that_checks_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TROTH_MASTER_KEY", raising=False)
    target = tmp_path / "privacy.yaml"
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 0
    key_file = tmp_path / "var" / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert f"wrote master key {key_file}" in result.stdout
    assert "separately from the database" in result.stdout
    key = key_file.read_bytes()
    text = target.read_text()
    assert "CHANGE-ME" in text and "# " in text
    check = runner.invoke(app, ["check", str(target)])
    assert check.exit_code == 0, check.output
    assert "0 warning(s)" in check.stdout
    again = runner.invoke(app, ["init", str(target)])
    assert again.exit_code == 1
    assert "already exists" in again.stderr
    target.write_text("mine")
    assert runner.invoke(app, ["init", str(target)]).exit_code == 1
    assert target.read_text() == "mine"
    forced = runner.invoke(app, ["init", str(target), "--force"])
    assert forced.exit_code == 0
    assert target.read_text() == text
    assert key_file.read_bytes() == key  # --force is for the declaration, never the key
    assert "kept the existing" in forced.stdout


def test_init_writes_no_key_file_when_the_key_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TROTH_MASTER_KEY", "A" * 43 + "=")
    result = runner.invoke(app, ["init", str(tmp_path / "privacy.yaml")])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "var").exists()
    assert "TROTH_MASTER_KEY is set" in result.stdout
