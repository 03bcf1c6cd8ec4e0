"""`parley search` against a real server (the embedded default, on SQLite): results newest
first with their chat, narrowed to one chat, paged with a cursor, and in JSON."""

from __future__ import annotations

import json

from e2e.cli.harness import Cli

CLI_TRANSPORTS = ["http", "grpc"]
"""Each test runs over HTTP and again with `parley --grpc` (tests/e2e/cli/conftest.py)."""


def _rows(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.splitlines()]


def test_search_finds_messages_newest_first_in_any_chat_or_one(cli: Cli) -> None:
    cli.register("alice")
    cli.register("bob", profile="bob")
    lunch = cli.ok("chat", "create", "--title", "Lunch", "--member", "bob").strip()
    work = cli.ok("chat", "create", "--title", "Work", "--member", "bob").strip()
    cli.ok("send", "Lunch", "Pizza at the café?")
    cli.ok("send", "Work", "the pizza budget is approved")
    cli.ok("send", "Work", "unrelated")

    rows = _rows(cli.ok("--profile", "bob", "search", "PIZZA"))
    assert [(row[0], row[1], row[3], row[4]) for row in rows] == [
        (work, "1", "alice", "the pizza budget is approved"),
        (lunch, "1", "alice", "Pizza at the café?"),
    ]
    assert [row[4] for row in _rows(cli.ok("search", "cafe piz*"))] == ["Pizza at the café?"]
    assert [row[0] for row in _rows(cli.ok("search", "pizza", "--chat", "Lunch"))] == [lunch]
    assert cli.ok("search", "nothing-like-this") == ""


def test_search_pages_with_a_cursor_and_speaks_json(cli: Cli) -> None:
    cli.register("alice")
    cli.ok("chat", "create", "--title", "Notes")
    for n in range(3):
        cli.ok("send", "Notes", f"note {n}")

    first = cli.run("search", "note", "--limit", "2")
    assert first.code == 0, first.stderr
    assert [row[4] for row in _rows(first.stdout)] == ["note 2", "note 1"]
    assert "parley search note --cursor " in first.stderr
    cursor = first.stderr.split("--cursor ")[1].split()[0]
    rest = cli.ok("search", "note", "--cursor", cursor)
    assert [row[4] for row in _rows(rest)] == ["note 0"]

    page = json.loads(cli.ok("search", "note", "--json", "--limit", "1"))
    assert [result["message"]["body"] for result in page["results"]] == ["note 2"]
    assert isinstance(page["next_cursor"], str)


def test_a_query_with_no_words_is_refused_with_the_servers_reason(cli: Cli) -> None:
    cli.register("alice")
    result = cli.run("search", "?!")
    assert result.code == 1
    assert "q:" in result.stderr
