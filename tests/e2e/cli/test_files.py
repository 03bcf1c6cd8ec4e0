"""`parley send --file` and `parley download` against a real embedded server (chat's own
file store), and how `history` shows files."""

from __future__ import annotations

import json
from pathlib import Path

from e2e.cli.harness import Cli

CLI_TRANSPORTS = ["http", "grpc"]


def _rows(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.splitlines()]


def test_files_go_up_with_a_message_and_come_back_down(cli: Cli, tmp_path: Path) -> None:
    cli.register("alice")
    cli.register("bob", profile="bob")
    cli.ok("chat", "create", "--title", "Docs", "--member", "bob")
    plan = tmp_path / "plan.pdf"
    plan.write_bytes(b"%PDF-1.4 " + bytes(range(256)) * 8_000)  # about 2 MB, several chunks
    notes = tmp_path / "notes.txt"
    notes.write_text("the notes\n")
    assert cli.ok("send", "Docs", "--file", str(plan), "--file", str(notes), "see these")
    assert cli.ok("send", "Docs", "-f", str(notes)).strip() == "2"

    history = _rows(cli.ok("--profile", "bob", "history", "Docs"))
    assert [(row[0], row[3], row[4]) for row in history] == [
        ("1", "see these", "file plan.pdf (2.0 MiB), file notes.txt (10 B)"),
        ("2", "", "file notes.txt (10 B)"),
    ]
    [first] = json.loads(cli.ok("history", "Docs", "--json", "--limit", "2"))[:1]
    assert [a["filename"] for a in first["attachments"]] == ["plan.pdf", "notes.txt"]

    saved = tmp_path / "saved"
    saved.mkdir()
    cli.ok("--profile", "bob", "download", "Docs", "1", "--out", str(saved))
    assert (saved / "plan.pdf").read_bytes() == plan.read_bytes()
    assert (saved / "notes.txt").read_text() == "the notes\n"
    # A second download never overwrites the first.
    cli.ok("--profile", "bob", "download", "Docs", "2", "--out", str(saved))
    assert (saved / "notes (1).txt").read_text() == "the notes\n"


def test_download_of_a_message_without_files_says_so(cli: Cli, tmp_path: Path) -> None:
    cli.register("alice")
    cli.ok("chat", "create", "--title", "Docs")
    cli.ok("send", "Docs", "just text")
    result = cli.run("download", "Docs", "1", "--out", str(tmp_path))
    assert result.code != 0
    missing = cli.run("send", "Docs", "--file", str(tmp_path / "missing.txt"))
    assert missing.code != 0
