"""Every command of `footnote` (found by walking the click group, so new ones are covered) has help."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from footnote.cli import cli


def walk(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            found.extend(walk(command.get_command(ctx, name), (*path, name)))
    return found


COMMANDS = walk(cli)


def test_the_known_commands_are_there():
    names = {path[0] for path, _ in COMMANDS if path}
    assert {"ingest", "papers"} <= names
    assert len(COMMANDS) >= 3


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) or "footnote" for p, _ in COMMANDS])
def test_command_has_help_text(path, command):
    assert command.help and len(command.help.strip()) >= 15, path
    assert command.get_short_help_str(limit=80).strip()
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.help and param.help.strip(), f"{' '.join(path)} {param.opts}"


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) or "footnote" for p, _ in COMMANDS])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_exits_zero_and_shows_usage(path, command, flag, tmp_path):
    result = CliRunner().invoke(cli, ["--home", str(tmp_path / "home"), *path, flag], prog_name="footnote")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: footnote {' '.join(path)}".rstrip())
    assert command.help.split("\n")[0].strip()[:40] in " ".join(result.output.split())
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert param.opts[0] in result.output
    assert not (tmp_path / "home").exists()  # asking for help writes nothing


def test_group_help_lists_every_command():
    result = CliRunner().invoke(cli, ["--help"], prog_name="footnote")
    assert result.exit_code == 0
    for path, _command in COMMANDS:
        if len(path) == 1:
            assert f"  {path[0]} " in result.output


def test_installed_console_script_help_and_version(tmp_path):
    script = Path(sys.executable).with_name("footnote")
    assert script.is_file(), "the footnote console script is not installed in this environment"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOOTNOTE_", "OPENAI_"))}
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("Usage: footnote")
    version = subprocess.run([str(script), "--version"], capture_output=True, text=True, env=env, timeout=120)
    assert version.returncode == 0 and "0.1.0" in version.stdout
