"""`parley tail` as a real process: live delivery, restarts, token expiry, exactly once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e.cli.harness import Cli, Follower, Server, make_server


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    """A server this test may stop and start again (same port, same data)."""
    with make_server(tmp_path / "own-server") as server:
        yield server


@pytest.fixture
def follower() -> Iterator[list[Follower]]:
    """Tails started by a test, stopped with Ctrl-C at its end whatever happens."""
    started: list[Follower] = []
    yield started
    for tail in started:
        tail.stop()


def _bodies(lines: list[str]) -> list[tuple[str, str, str]]:
    """(event, seq, body) of each plain `tail` line."""
    return [(fields[0], fields[2], fields[5]) for fields in (line.split("\t") for line in lines)]


def test_tail_prints_what_another_user_sends_as_it_arrives(
    cli: Cli, follower: list[Follower]
) -> None:
    cli.register("alice")
    cli.register("bob", profile="bob")
    cli.ok("chat", "create", "--title", "Lunch", "--member", "bob")
    cli.ok("send", "Lunch", "before the tail")

    bob = Cli(cli.config_home, cli.server_url, cli.tenant)
    bob.env["PARLEY_PROFILE"] = "bob"
    tail = bob.follow("tail", "--lines", "1")
    follower.append(tail)
    assert _bodies(tail.lines(1)) == [("message", "1", "before the tail")]

    cli.ok("send", "Lunch", "pizza?")
    cli.ok("edit", "Lunch", "2", "pizza!")
    assert _bodies(tail.lines(2)) == [
        ("message", "2", "pizza?"),
        ("message.updated", "2", "pizza!"),
    ]

    # A chat bob is added to after the tail started is followed too.
    cli.ok("chat", "create", "--title", "Later", "--member", "bob")
    cli.ok("send", "Later", "are you there?")
    lines = tail.lines(2)
    assert lines[0].startswith("member.joined\t")
    assert _bodies(lines[1:]) == [("message", "1", "are you there?")]
    assert tail.stop() == 130


def test_tail_of_one_chat_prints_only_that_chat_as_json_lines(
    cli: Cli, follower: list[Follower]
) -> None:
    cli.register("alice")
    lunch = cli.ok("chat", "create", "--title", "Lunch").strip()
    cli.ok("chat", "create", "--title", "Other")
    cli.ok("send", "Lunch", "the last one before")
    tail = cli.follow("tail", "Lunch", "--json", "--lines", "1")
    follower.append(tail)
    assert json.loads(tail.lines(1)[0])["message"]["seq"] == 1  # following now
    cli.ok("send", "Other", "not this one")
    cli.ok("send", "Lunch", "this one")
    frame = json.loads(tail.lines(1)[0])
    assert (frame["type"], frame["chat_id"], frame["message"]["body"]) == (
        "message",
        lunch,
        "this one",
    )
    assert tail.no_more_lines(wait=1) == []


@pytest.mark.parametrize("api", ["http", "grpc"])
def test_tail_survives_a_server_restart_and_resumes_without_gaps_or_duplicates(
    tmp_path: Path, own_server: Server, follower: list[Follower], api: str
) -> None:
    # Over gRPC (`parley --grpc tail`) the tail follows Subscribe (docs/grpc.md).
    target = own_server.grpc_target if api == "grpc" else None
    cli = Cli(tmp_path / "config", own_server.url, grpc_target=target)
    cli.register("alice")
    cli.register("bob", profile="bob")
    cli.ok("chat", "create", "--title", "Lunch", "--member", "bob")
    cli.ok("send", "Lunch", "message 1")
    bob = Cli(cli.config_home, cli.server_url, grpc_target=target)
    bob.env["PARLEY_PROFILE"] = "bob"
    tail = bob.follow("tail", "--lines", "1")
    follower.append(tail)
    assert _bodies(tail.lines(1)) == [("message", "1", "message 1")]  # following now
    cli.ok("send", "Lunch", "message 2")
    assert _bodies(tail.lines(1)) == [("message", "2", "message 2")]

    own_server.stop()
    own_server.start()
    # Sent as soon as the server is back: the tail is most likely still waiting to retry,
    # so these arrive by `resume`, the rest live.
    for n in range(3, 9):
        cli.ok("send", "Lunch", f"message {n}")

    lines = tail.lines(6, timeout=60)
    assert [(seq, body) for _, seq, body in _bodies(lines)] == [
        (str(n), f"message {n}") for n in range(3, 9)
    ]
    assert tail.no_more_lines(wait=2) == []
    assert "reconnected; resuming" in tail.stderr()


def test_tail_refreshes_an_expired_token_and_keeps_following(
    tmp_path: Path, follower: list[Follower]
) -> None:
    with make_server(tmp_path / "short-tokens", PARLEY_ACCESS_TOKEN_TTL_SECONDS="10") as server:
        cli = Cli(tmp_path / "config", server.url)
        cli.register("alice")
        cli.ok("chat", "create", "--title", "Notes")
        cli.ok("send", "Notes", "first")
        before = json.loads(cli.credentials.read_text())["profiles"]["default"]
        tail = cli.follow("tail", "--lines", "1")
        follower.append(tail)
        assert _bodies(tail.lines(1)) == [("message", "1", "first")]

        # The server closes the stream with 4401 when the token expires (after 10 s); the
        # tail rotates the pair and resumes. `send` refreshes too, on its own 401.
        assert tail.no_more_lines(wait=12) == []
        cli.ok("send", "Notes", "after expiry")
        assert _bodies(tail.lines(1)) == [("message", "2", "after expiry")]
        after = json.loads(cli.credentials.read_text())["profiles"]["default"]
        assert after["refresh_token"] != before["refresh_token"]
        assert tail.process.poll() is None
        tail.stop()
