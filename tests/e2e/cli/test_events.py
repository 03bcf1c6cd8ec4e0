"""`parley events` against the embedded server (SQLite, the in-process broker): a tenant's
backend reads its feed with a server key from the environment or stdin, and follows it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from e2e.cli.harness import Cli, Follower, Server


@pytest.fixture
def follower() -> Iterator[list[Follower]]:
    started: list[Follower] = []
    yield started
    for process in started:
        process.stop()


def _server_key(cli: Cli, server: Server) -> str:
    created = cli.run(
        "admin",
        "server-keys",
        "create",
        cli.tenant,
        "feed",
        "--json",
        env={"PARLEY_ADMIN_TOKEN": server.admin_token()},
    )
    assert created.code == 0, created
    key: str = json.loads(created.stdout)["key"]
    return key


def test_events_prints_the_feed_and_the_cursor_to_go_on_from(cli: Cli, server: Server) -> None:
    key = _server_key(cli, server)
    cli.register("alice")
    cli.ok("chat", "create", "--title", "Feed")
    cli.ok("send", "Feed", "hello backend")

    listed = cli.run("events", "--json", env={"PARLEY_SERVER_KEY": key})
    assert listed.code == 0, listed
    events = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [event["type"] for event in events] == ["member.joined", "message"]
    assert events[1]["data"]["message"]["body"] == "hello backend"
    assert listed.stderr.strip() == f"cursor: {events[1]['cursor']}"

    cli.ok("send", "Feed", "more")
    after = cli.run(
        "events", "--server-key-stdin", "--after", events[1]["cursor"], stdin=key + "\n"
    )
    assert after.code == 0, after
    (line,) = after.stdout.splitlines()
    assert line.split("\t")[1] == "message"
    assert key not in after.stdout + after.stderr


def test_events_follow_prints_new_events_as_they_commit(
    cli: Cli, server: Server, follower: list[Follower]
) -> None:
    key = _server_key(cli, server)
    cli.register("alice")
    cli.ok("chat", "create", "--title", "Live")
    watcher = Cli(cli.config_home, cli.server_url, cli.tenant)
    watcher.env["PARLEY_SERVER_KEY"] = key
    follow = watcher.follow("events", "--follow", "--json")
    follower.append(follow)
    assert json.loads(follow.lines(1)[0])["type"] == "member.joined"

    cli.ok("send", "Live", "now")

    (line,) = follow.lines(1)
    assert json.loads(line)["data"]["message"]["body"] == "now"


def test_events_without_a_server_key_is_a_usage_error_and_a_bad_one_an_auth_error(
    cli: Cli,
) -> None:
    assert cli.run("events").code == 2
    assert cli.run("events", env={"PARLEY_SERVER_KEY": "psk_" + "z" * 43}).code == 3
