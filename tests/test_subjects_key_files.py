"""The master key on disk and in the environment, and `troth keys create`."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from troth.cli import app
from troth.subjects import (
    ENV_VAR,
    KeyMaterialError,
    MasterKey,
    create_key_file,
    load_master_key,
    new_data_key,
    read_key_file,
)

runner = CliRunner()
SECRET = bytes(range(32))
SECRET_B64 = base64.b64encode(SECRET).decode()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_create_key_file_writes_0600_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "var" / "master.key"
    old_umask = os.umask(0)  # even a permissive umask gives 0600
    try:
        key = create_key_file(path)
    finally:
        os.umask(old_umask)
    assert mode(path) == 0o600
    assert len(base64.b64decode(path.read_text().strip(), validate=True)) == 32
    assert read_key_file(path).key_id == key.key_id
    assert os.listdir(path.parent) == ["master.key"]  # no temporary file left behind
    blob = key.wrap(new_data_key())
    assert read_key_file(path).unwrap(blob)


def test_create_key_file_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    create_key_file(path)
    before = path.read_bytes()
    with pytest.raises(KeyMaterialError, match="already exists; troth never overwrites"):
        create_key_file(path)
    assert path.read_bytes() == before
    dangling = tmp_path / "link.key"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(KeyMaterialError, match="already exists"):
        create_key_file(dangling)
    assert not (tmp_path / "nowhere").exists()


def test_two_key_files_are_two_keys(tmp_path: Path) -> None:
    assert create_key_file(tmp_path / "a").key_id != create_key_file(tmp_path / "b").key_id


def test_environment_takes_precedence_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    from_file = create_key_file(path)
    from_env = load_master_key(path, {ENV_VAR: SECRET_B64 + "\n"})
    assert from_env.key_id == MasterKey(SECRET).key_id != from_file.key_id
    assert load_master_key(path, {}).key_id == from_file.key_id


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "TROTH_MASTER_KEY: is empty"),
        ("not base64!", "TROTH_MASTER_KEY: not valid base64"),
        (SECRET_B64[:-1], "TROTH_MASTER_KEY: not valid base64"),
        (base64.b64encode(SECRET[:16]).decode(), "decodes to 16 bytes; a master key is exactly 32"),
        (base64.b64encode(SECRET + b"!").decode(), "decodes to 33 bytes"),
        (base64.urlsafe_b64encode(b"\xff" * 32).decode(), "not valid base64"),
    ],
)
def test_environment_key_errors_are_clear_and_secret_free(value: str, message: str) -> None:
    with pytest.raises(KeyMaterialError, match=message) as caught:
        load_master_key(Path("unused"), {ENV_VAR: value})
    if len(value) > 8:
        assert value.strip()[:8] not in str(caught.value)
    assert caught.value.__cause__ is None


def test_key_file_errors(tmp_path: Path) -> None:
    missing = tmp_path / "none.key"
    with pytest.raises(KeyMaterialError, match="no such key file; create one with `troth keys"):
        load_master_key(missing, {})
    loose = tmp_path / "loose.key"
    loose.write_text(SECRET_B64)
    loose.chmod(0o644)
    with pytest.raises(KeyMaterialError, match=r"by other users \(mode 0644\)"):
        read_key_file(loose)
    loose.chmod(0o600)
    assert read_key_file(loose).key_id == MasterKey(SECRET).key_id
    short = tmp_path / "short.key"
    short.write_text(base64.b64encode(b"x" * 31).decode())
    short.chmod(0o600)
    with pytest.raises(KeyMaterialError, match=f"{short}: decodes to 31 bytes"):
        read_key_file(short)
    binary = tmp_path / "binary.key"
    binary.write_bytes(b"\xff" * 32)
    binary.chmod(0o600)
    with pytest.raises(KeyMaterialError, match="not ASCII text"):
        read_key_file(binary)


def test_master_key_needs_32_bytes() -> None:
    with pytest.raises(KeyMaterialError, match="exactly 32 bytes, got 31"):
        MasterKey(SECRET[:31])


# --- troth keys create ------------------------------------------------------------------------


def test_keys_create_writes_the_file_and_says_to_back_it_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    path = tmp_path / "keys" / "master.key"
    result = runner.invoke(app, ["keys", "create", "--file", str(path)])
    assert result.exit_code == 0, result.output
    assert mode(path) == 0o600
    key_id = read_key_file(path).key_id
    assert f"wrote master key {path} (key id {key_id}, mode 0600)" in result.stdout
    assert "separately from the database" in result.stdout
    assert path.read_text().strip() not in result.output
    again = runner.invoke(app, ["keys", "create", "--file", str(path)])
    assert again.exit_code == 1
    assert "already exists" in again.stderr and "Traceback" not in again.output
    assert read_key_file(path).key_id == key_id


def test_keys_create_defaults_to_var_and_notes_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ENV_VAR, SECRET_B64)
    result = runner.invoke(app, ["keys", "create"])
    assert result.exit_code == 0, result.output
    assert mode(tmp_path / "var" / "master.key") == 0o600
    assert "TROTH_MASTER_KEY is set and is used instead of this file" in result.stdout


def test_keys_create_reports_an_unwritable_place(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file, not a folder")
    result = runner.invoke(app, ["keys", "create", "--file", str(blocked / "master.key")])
    assert result.exit_code == 1
    assert "cannot write key file" in result.stderr and "Traceback" not in result.output
