"""`parley` on a terminal: a hidden password prompt, and rich tables with relative times."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time

from e2e.cli.harness import PASSWORD, Cli

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal:
    """A process with stdin, stdout and stderr on a pseudo-terminal."""

    def __init__(self, cli: Cli, *args: str) -> None:
        self._master, slave = pty.openpty()
        self.process = subprocess.Popen(
            cli.command(*args),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**cli.env, "COLUMNS": "100", "TERM": "xterm"},
        )
        os.close(slave)
        self.screen = ""

    def read_until(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            assert time.monotonic() < deadline, f"{text!r} never appeared in {self.screen!r}"
            ready, _, _ = select.select([self._master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(self._master, 4096)
                except OSError:  # the process ended and closed the terminal
                    break
                self.screen += ANSI.sub("", chunk.decode(errors="replace"))
        return self.screen

    def type(self, text: str) -> None:
        os.write(self._master, text.encode())

    def finish(self) -> int:
        code = self.process.wait(timeout=30)
        self.read_until("", timeout=1)
        os.close(self._master)
        return code


def test_login_prompts_for_the_password_without_echoing_it(cli: Cli) -> None:
    cli.register("alice")
    cli.ok("logout")
    terminal = Terminal(cli, "login", "--tenant", cli.tenant, "--username", "alice")
    terminal.read_until("Password: ")
    terminal.type(PASSWORD + "\n")
    screen = terminal.read_until("Logged in")
    assert terminal.finish() == 0
    assert PASSWORD not in screen
    assert cli.run("whoami").code == 0


def test_chats_on_a_terminal_are_a_table_with_short_ids_and_relative_times(cli: Cli) -> None:
    cli.register("alice")
    chat_id = cli.ok("chat", "create", "--title", "Lunch").strip()
    cli.ok("send", "Lunch", "pizza?")
    terminal = Terminal(cli, "chats")
    screen = terminal.read_until("ago")
    assert terminal.finish() == 0
    header, _, row = [line.split() for line in screen.strip().splitlines()][:3]
    assert header == ["ID", "TITLE", "UNREAD", "LAST", "ACTIVITY"]
    assert row[:3] == [chat_id[:8], "Lunch", "0"]
    assert re.fullmatch(r"(just now|\d+s ago)", " ".join(row[3:]))
