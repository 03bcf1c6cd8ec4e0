"""`parley reply`, `thread` and `react` against a real server, and how `history` and
`tail` show replies and reactions."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from e2e.cli.harness import Cli, Follower

CLI_TRANSPORTS = ["http", "grpc"]
"""Each test runs over HTTP and again with `parley --grpc` (tests/e2e/cli/conftest.py)."""

PARTY = "\U0001f389"


@pytest.fixture
def follower() -> Iterator[list[Follower]]:
    started: list[Follower] = []
    yield started
    for tail in started:
        tail.stop()


def _rows(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.splitlines()]


def test_replies_threads_and_reactions_from_the_command_line(cli: Cli) -> None:
    cli.register("alice")
    cli.register("bob", profile="bob")
    cli.ok("chat", "create", "--title", "Lunch", "--member", "bob")
    assert cli.ok("send", "Lunch", "pizza?").strip() == "1"
    assert cli.ok("--profile", "bob", "reply", "Lunch", "1", "yes").strip() == "2"
    assert cli.ok("reply", "Lunch", "1", stdin="at noon\n").strip() == "3"
    cli.ok("--profile", "bob", "react", "Lunch", "1", PARTY)
    cli.ok("react", "Lunch", "1", PARTY)
    cli.ok("react", "Lunch", "1", ":pizza:")
    cli.ok("react", "Lunch", "1", ":pizza:", "--remove")

    thread = _rows(cli.ok("thread", "Lunch", "1"))
    assert [(row[0], row[2], row[3], row[4]) for row in thread] == [
        ("2", "bob", "yes", "reply to #1"),
        ("3", "alice", "at noon", "reply to #1"),
    ]
    history = _rows(cli.ok("--profile", "bob", "history", "Lunch"))
    assert [(row[0], row[4]) for row in history] == [
        ("1", f"2 replies, {PARTY} 2"),
        ("2", "reply to #1"),
        ("3", "reply to #1"),
    ]
    [root] = json.loads(cli.ok("history", "Lunch", "--json", "--limit", "3"))[:1]
    assert root["reactions"] == [{"emoji": PARTY, "count": 2, "me": True}]

    assert cli.run("reply", "Lunch", "2", "a reply to a reply").code == 1
    assert cli.run("react", "Lunch", "1", "not an emoji").code == 1
    assert cli.run("thread", "Lunch", "2").code == 1


def test_tail_prints_replies_and_reactions_readably(cli: Cli, follower: list[Follower]) -> None:
    cli.register("alice")
    cli.register("bob", profile="bob")
    cli.ok("chat", "create", "--title", "Lunch", "--member", "bob")
    cli.ok("send", "Lunch", "pizza?")
    bob = Cli(cli.config_home, cli.server_url, cli.tenant)
    bob.env["PARLEY_PROFILE"] = "bob"
    tail = bob.follow("tail", "--lines", "1")
    follower.append(tail)
    assert tail.lines(1)[0].startswith("message\t")

    cli.ok("reply", "Lunch", "1", "yes")
    cli.ok("react", "Lunch", "2", PARTY)
    lines = _rows("\n".join(tail.lines(3)))
    assert [(row[0], row[2], row[4], row[5], row[6]) for row in lines] == [
        ("message", "2", "alice", "yes", "reply to #1"),
        ("message.updated", "1", "alice", "pizza?", "1 reply"),
        ("reaction", "2", "alice", PARTY, "add 1"),
    ]
