"""Every command and every option of the `troth` command is documented in docs/cli.md."""

from __future__ import annotations

import re
from typing import Any

import typer
from support import ROOT

from troth.cli import app

CLI_DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")


def sections() -> dict[str, str]:
    """Each `## troth NAME` (or `## troth GROUP NAME`) section's text, by command name."""
    parts = re.split(r"^## troth (\S+(?: \S+)*)\s*$", CLI_DOC, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def leaf_commands(group: Any, prefix: str = "") -> dict[str, Any]:
    """Every command to run, by its full name: a sub-app's commands as "GROUP NAME"."""
    found: dict[str, Any] = {}
    for name, command in group.commands.items():
        # typer ships its own copy of click, so duck-type rather than isinstance-check.
        if hasattr(command, "commands"):
            found |= leaf_commands(command, f"{prefix}{name} ")
        else:
            found[f"{prefix}{name}"] = command
    return found


def commands() -> dict[str, Any]:
    return leaf_commands(typer.main.get_command(app))


def test_sub_app_commands_are_named_in_full() -> None:
    # A sub-app's section is `## troth audit verify`, never a bare `## troth verify`.
    assert {"audit verify", "audit export"} <= set(commands())
    assert "audit" not in commands()


def test_every_command_has_a_section() -> None:
    documented = sections()
    missing = sorted(set(commands()) - set(documented))
    assert not missing, f"docs/cli.md has no '## troth NAME' section for: {', '.join(missing)}"
    stale = sorted(set(documented) - set(commands()))
    assert not stale, f"docs/cli.md documents commands that do not exist: {', '.join(stale)}"


def test_every_option_is_documented_in_its_section() -> None:
    documented = sections()
    for name, command in commands().items():
        for param in command.params:
            if param.param_type_name != "option" or param.name == "help":
                continue
            longest = max(param.opts, key=len)
            assert longest in documented[name], (
                f"option {longest} of 'troth {name}' is not mentioned in its docs/cli.md section"
            )


def test_apikey_create_lists_every_scope() -> None:
    from troth.apikeys.scopes import SCOPES

    [row] = [line for line in sections()["apikey create"].splitlines() if "`--scope SCOPE`" in line]
    named = set(re.findall(r"`([a-z]+(?::[a-z]+)?)`", row))
    assert set(SCOPES) <= named, sorted(set(SCOPES) - named)
