"""parley_cli.output for presence: `parley presence` and the presence lines of `tail`."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime

from parley_cli import api, output

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
ENTRIES: list[api.Presence] = [
    {"user_id": "u1", "status": "away", "last_seen_at": "2026-05-01T11:00:00Z"},
    {"user_id": "u2", "status": "offline", "last_seen_at": "2026-05-01T09:00:00Z"},
    {"user_id": "u3", "status": "offline", "last_seen_at": None},
]
NAMES = {"u1": "alice", "u2": "bob", "u3": "carol"}


def _output(*, tty: bool, json_mode: bool = False) -> tuple[output.Output, io.StringIO]:
    out = io.StringIO()
    shown = output.Output(json_mode=json_mode, tty=tty, out=out, err=io.StringIO(), now=lambda: NOW)
    return shown, out


def _visible(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def test_presence_in_a_pipe_is_one_tab_separated_line_per_user() -> None:
    shown, out = _output(tty=False)
    shown.presence(ENTRIES, NAMES)
    assert out.getvalue().splitlines() == [
        "alice\tu1\taway\t2026-05-01T11:00:00Z",
        "bob\tu2\toffline\t2026-05-01T09:00:00Z",
        "carol\tu3\toffline\t",
    ]


def test_presence_on_a_terminal_says_when_offline_users_were_last_seen() -> None:
    shown, out = _output(tty=True)
    shown.presence(ENTRIES, NAMES)
    assert _visible(out.getvalue()).splitlines() == [
        "alice away",
        "bob offline  last seen 3h ago",
        "carol offline  never seen",
    ]


def test_presence_as_json_adds_the_username_to_the_servers_objects() -> None:
    shown, out = _output(tty=False, json_mode=True)
    shown.presence(ENTRIES[:1], NAMES)
    assert json.loads(out.getvalue()) == [{**ENTRIES[0], "username": "alice"}]


def test_tail_prints_a_presence_change_with_the_users_name() -> None:
    frame = {"type": "presence", "user_id": "u1", "status": "dnd", "last_seen_at": "t"}
    shown, out = _output(tty=False)
    shown.stream_frame(frame, "alice")
    assert out.getvalue() == "presence\t\t\tt\talice\tdnd\t\n"
    shown, out = _output(tty=True)
    shown.stream_frame(frame, "alice\x1b[2J")
    assert _visible(out.getvalue()) == "alice\\x1b[2J is dnd\n"
