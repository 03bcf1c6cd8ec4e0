"""`parley presence`, `status`, `profile` and `passwd`, and presence in `parley tail`,
against a real embedded server (docs/cli.md)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from e2e.cli.harness import PASSWORD, Cli, Follower

CLI_TRANSPORTS = ["http", "grpc"]
"""Each test runs over HTTP and again with `parley --grpc` (tests/e2e/cli/conftest.py)."""

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def follower() -> Iterator[list[Follower]]:
    started: list[Follower] = []
    yield started
    for tail in started:
        tail.stop()


def as_profile(cli: Cli, profile: str) -> Cli:
    other = Cli(cli.config_home, cli.server_url, cli.tenant)
    other.env["PARLEY_PROFILE"] = profile
    return other


def spoil_access_token(cli: Cli, profile: str) -> None:
    """Make a profile's access token one the server refuses, so its next command refreshes."""
    document = json.loads(cli.credentials.read_text())
    token = document["profiles"][profile]["access_token"]
    document["profiles"][profile]["access_token"] = token[:-8] + "AAAAAAAA"
    cli.credentials.write_text(json.dumps(document))


def test_profile_changes_the_display_name(cli: Cli) -> None:
    cli.register("alice")
    shown = json.loads(cli.ok("profile", "--display-name", "Alice A.", "--json"))
    assert (shown["username"], shown["display_name"]) == ("alice", "Alice A.")
    assert json.loads(cli.ok("whoami", "--json"))["display_name"] == "Alice A."
    refused = cli.run("profile", "--display-name", " ")
    assert refused.code == 1
    assert "display_name" in refused.stderr


def test_passwd_changes_the_password_and_ends_the_other_logins_only(cli: Cli) -> None:
    cli.register("alice")
    laptop = as_profile(cli, "laptop")
    laptop.ok(
        "login", "--tenant", cli.tenant, "--username", "alice", "--password-stdin", stdin=PASSWORD
    )

    cli.ok("passwd", "--password-stdin", stdin=f"{PASSWORD}\n{NEW_PASSWORD}\n")

    # This login goes on, through a refresh too; the other one ends at its next refresh.
    spoil_access_token(cli, "default")
    cli.ok("chats")
    spoil_access_token(cli, "laptop")
    ended = laptop.run("chats")
    assert ended.code == 3, ended
    laptop.ok(
        "login",
        "--tenant",
        cli.tenant,
        "--username",
        "alice",
        "--password-stdin",
        stdin=NEW_PASSWORD,
    )


def test_passwd_with_a_wrong_current_password_fails_and_changes_nothing(cli: Cli) -> None:
    cli.register("alice")
    wrong = cli.run("passwd", "--password-stdin", stdin=f"not it at all\n{NEW_PASSWORD}\n")
    assert wrong.code == 3, wrong
    assert "current password is wrong" in wrong.stderr
    short = cli.run("passwd", "--password-stdin", stdin=f"{PASSWORD}\nshort\n")
    assert short.code == 1
    assert "new_password" in short.stderr
    one_line = cli.run("passwd", "--password-stdin", stdin=PASSWORD)
    assert one_line.code == 2
    cli.ok("logout")
    cli.ok(
        "login", "--tenant", cli.tenant, "--username", "alice", "--password-stdin", stdin=PASSWORD
    )


def test_presence_and_status_show_who_is_around(cli: Cli, follower: list[Follower]) -> None:
    cli.register("alice")
    cli.register("bob", profile="bob")
    bob = as_profile(cli, "bob")
    cli.ok("chat", "create", "--title", "Lunch", "--member", "bob")

    (line,) = bob.ok("presence", "alice").splitlines()
    assert line.split("\t")[::2] == ["alice", "offline"]

    watching = bob.follow("tail")
    follower.append(watching)
    tail = cli.follow("tail")
    follower.append(tail)
    # bob's tail prints alice's changes readably (event, user, status) once both tails
    # are connected; until then, changes go unheard, so alice changes until one is heard.
    deadline = time.monotonic() + 30
    heard: list[list[str]] = []
    while not heard:
        assert time.monotonic() < deadline, "bob's tail never printed alice's presence"
        for state in ("dnd", "away"):
            cli.ok("status", state)
        lines = [line.split("\t") for line in watching.no_more_lines(0.5)]
        heard = [fields for fields in lines if fields[0] == "presence" and fields[4] == "alice"]
    assert heard[-1][5] == "away"

    listed = {row.split("\t")[0]: row.split("\t")[2] for row in bob.ok("presence").splitlines()}
    assert listed == {"alice": "away", "bob": "online"}
    entries = json.loads(bob.ok("presence", "alice", "--json"))
    assert [(e["username"], e["status"]) for e in entries] == [("alice", "away")]

    stranger = cli.run("--profile", "bob", "presence", "nobody-here")
    assert stranger.code == 2
    assert "nobody-here" in stranger.stderr
    bad = cli.run("status", "offline")
    assert bad.code == 2
