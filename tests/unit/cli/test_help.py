"""Every command's help: each option explained, and what its help says in brackets shown
(Rich markup used to take `[default: ...]` for a tag and print nothing in its place)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import typer
from typer.testing import CliRunner

from parley_cli import app as parley
from support.problems import case

BRACKETED = re.compile(r"\[[^\]]+\]")


# Typer vendors click: its command classes are reached through the objects, not imported.
Command = Any


def commands(
    command: Command, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Command]]:
    yield path, command
    for name, child in getattr(command, "commands", {}).items():
        yield from commands(child, (*path, name))


def rendered_help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(parley.app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_every_command_and_option_has_help_that_renders_whole() -> None:
    root = typer.main.get_command(parley.app)
    walked = list(commands(root))
    assert len(walked) > 15
    for path, command in walked:
        with case(" ".join(path) or "parley"):
            assert (command.help or command.short_help or "").strip()
            shown = rendered_help(path)
            for param in command.params:
                if param.param_type_name != "option":
                    continue
                assert (param.help or "").strip(), f"{param.opts} has no help"
                for bracketed in BRACKETED.findall(param.help or ""):
                    assert bracketed in shown, f"{bracketed!r} of {param.opts} is not shown"


def test_the_server_option_shows_its_default_in_brackets() -> None:
    assert "Server URL [default: the profile's]." in rendered_help(("login",))


def test_version_prints_the_package_version() -> None:
    result = CliRunner().invoke(parley.app, ["--version"])

    assert result.exit_code == 0
    assert re.fullmatch(r"parley \d+\.\d+\.\d+\S*\n", result.output)


def test_completion_scripts_are_offered_for_the_usual_shells() -> None:
    for shell in ("bash", "zsh", "fish"):
        with case(shell):
            result = CliRunner().invoke(parley.app, ["--show-completion", shell])
            assert result.exit_code == 0
            assert "_PARLEY_COMPLETE" in result.output
