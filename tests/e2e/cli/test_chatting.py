"""`parley` against a real server: accounts, chats and messages, in text and JSON."""

from __future__ import annotations

import json

from e2e.cli.harness import PASSWORD, Cli

CLI_TRANSPORTS = ["http", "grpc"]
"""Each test runs over HTTP and again with `parley --grpc` (tests/e2e/cli/conftest.py)."""


def test_a_user_logs_in_creates_a_chat_sends_and_reads_the_history(cli: Cli) -> None:
    cli.register("alice")
    cli.register("bob", profile="bob")
    cli.ok("logout")
    assert cli.run("chats").code == 3
    cli.ok("login", "--username", "alice", "--password-stdin", stdin=PASSWORD + "\n")
    assert json.loads(cli.ok("whoami", "--json"))["tenant"] == cli.tenant

    chat_id = cli.ok("chat", "create", "--title", "Lunch", "--member", "bob").strip()
    assert cli.ok("send", "Lunch", "pizza?").strip() == "1"
    assert cli.ok("send", chat_id[:6], stdin="or ramen\n").strip() == "2"
    assert cli.ok("send", chat_id, "12:30 at\tthe usual place").strip() == "3"

    rows = [
        line.split("\t") for line in cli.ok("--profile", "bob", "history", "Lunch").splitlines()
    ]
    assert [(seq, sender, body) for seq, _, sender, body, _ in rows] == [
        ("1", "alice", "pizza?"),
        ("2", "alice", "or ramen"),
        ("3", "alice", "12:30 at\\tthe usual place"),
    ]
    assert [row[0] for row in _rows(cli.ok("history", "Lunch", "--limit", "2"))] == ["2", "3"]
    assert [row[0] for row in _rows(cli.ok("history", "Lunch", "--before", "3"))] == ["1", "2"]
    assert [row[0] for row in _rows(cli.ok("history", "Lunch", "--after", "1", "-n", "1"))] == ["2"]


def test_edits_deletions_unread_counts_and_read_marks_show_up(cli: Cli) -> None:
    cli.register("alice")
    cli.register("bob", profile="bob")
    cli.ok("chat", "create", "--title", "Lunch", "--member", "bob")
    for text in ("one", "two", "three"):
        cli.ok("send", "Lunch", text)
    cli.ok("edit", "Lunch", "2", "two!")
    cli.ok("delete", "Lunch", "1")

    history = _rows(cli.ok("--profile", "bob", "history", "Lunch"))
    assert [(row[0], row[3], row[4]) for row in history] == [
        ("1", "", "deleted"),
        ("2", "two!", "edited"),
        ("3", "three", ""),
    ]
    [lunch] = _rows(cli.ok("--profile", "bob", "chats"))
    assert (lunch[1], lunch[2]) == ("Lunch", "3")
    cli.ok("--profile", "bob", "read", "Lunch")
    [lunch] = _rows(cli.ok("--profile", "bob", "chats"))
    assert lunch[2] == "0"


def test_direct_chats_and_members_are_managed_by_username(cli: Cli) -> None:
    for name in ("alice", "bob", "carol"):
        cli.register(name, profile=name)
    dm = cli.ok("--profile", "alice", "chat", "dm", "bob").strip()
    assert cli.ok("--profile", "alice", "chat", "dm", "bob").strip() == dm  # the same one
    cli.ok("--profile", "alice", "send", "@bob", "hi bob")
    assert _rows(cli.ok("--profile", "bob", "history", "@alice"))[0][3] == "hi bob"

    cli.ok("--profile", "alice", "chat", "create", "--title", "Team")
    cli.ok("--profile", "alice", "members", "add", "Team", "bob", "carol")
    members = _rows(cli.ok("--profile", "carol", "members", "list", "Team"))
    assert sorted((row[0], row[1]) for row in members) == [
        ("alice", "owner"),
        ("bob", "member"),
        ("carol", "member"),
    ]
    cli.ok("--profile", "carol", "members", "remove", "Team", "carol")
    assert cli.run("--profile", "carol", "history", "Team").code == 1


def test_every_reading_command_prints_json_that_parses(cli: Cli) -> None:
    cli.register("alice")
    cli.register("bob", profile="bob")
    me = json.loads(cli.ok("whoami", "--json"))
    assert (me["username"], me["tenant"], me["server"]) == ("alice", cli.tenant, cli.server_url)

    chat = json.loads(cli.ok("chat", "create", "--title", "Lunch", "-m", "bob", "--json"))
    sent = json.loads(cli.ok("send", "Lunch", "pizza?", "--json"))
    assert (sent["chat_id"], sent["seq"], sent["body"]) == (chat["id"], 1, "pizza?")
    edited = json.loads(cli.ok("edit", "Lunch", "1", "pizza!", "--json"))
    assert edited["edited_at"]

    [listed] = json.loads(cli.ok("chats", "--json"))
    assert (listed["id"], listed["title"], listed["last_seq"]) == (chat["id"], "Lunch", 1)
    [message] = json.loads(cli.ok("history", "Lunch", "--json"))
    assert message["body"] == "pizza!"
    members = json.loads(cli.ok("members", "list", "Lunch", "--json"))
    assert {member["username"] for member in members} == {"alice", "bob"}
    direct = json.loads(cli.ok("chat", "dm", "bob", "--json"))
    assert direct["kind"] == "direct"


def _rows(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.splitlines()]
