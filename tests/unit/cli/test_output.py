"""parley_cli.output: what a person and what a script see."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from parley_cli import api, output

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _chat(**fields: object) -> api.Chat:
    chat = {
        "id": "3b34ff38-cb08-4f9e-ad31-c7df8e4e4b25",
        "kind": "group",
        "title": "Lunch",
        "created_at": "2026-05-01T11:00:00Z",
        "last_seq": 3,
        "last_read_seq": 1,
        "unread": 2,
        "members": [
            {
                "user_id": "u1",
                "username": "alice",
                "role": "owner",
                "joined_at": "2026-05-01T11:00:00Z",
            },
            {
                "user_id": "u2",
                "username": "bob",
                "role": "member",
                "joined_at": "2026-05-01T11:00:00Z",
            },
        ],
        "last_activity_at": "2026-05-01T11:55:00Z",
    }
    chat.update(fields)
    return cast(api.Chat, chat)


def _message(**fields: object) -> api.Message:
    message = {
        "id": "m1",
        "chat_id": "c1",
        "seq": 7,
        "sender_id": "u1",
        "sender_username": "alice",
        "body": "hello",
        "client_msg_id": None,
        "created_at": "2026-05-01T11:59:30Z",
        "edited_at": None,
        "deleted": False,
    }
    message.update(fields)
    return cast(api.Message, message)


def _output(
    *, tty: bool, json_mode: bool = False
) -> tuple[output.Output, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return output.Output(json_mode=json_mode, tty=tty, out=out, err=err, now=lambda: NOW), out, err


@pytest.mark.parametrize(
    ("ago", "shown"),
    [
        (timedelta(seconds=3), "just now"),
        (timedelta(seconds=-5), "just now"),
        (timedelta(seconds=42), "42s ago"),
        (timedelta(minutes=5, seconds=59), "5m ago"),
        (timedelta(hours=3), "3h ago"),
        (timedelta(days=2), "2d ago"),
    ],
)
def test_relative_times_read_like_a_person_would_say_them(ago: timedelta, shown: str) -> None:
    assert output.relative(NOW - ago, NOW) == shown


def test_relative_times_older_than_a_week_are_dates() -> None:
    assert output.relative(NOW - timedelta(days=30), NOW) == (
        NOW - timedelta(days=30)
    ).astimezone().strftime("%Y-%m-%d")


def test_plain_text_escapes_what_would_break_a_tab_separated_line() -> None:
    assert output.plain("a\tb\nc\\d\re\x1b[2J") == "a\\tb\\nc\\\\d\\re\\x1b[2J"


def test_terminal_text_keeps_newlines_but_defuses_escape_sequences() -> None:
    assert output.printable("two\nlines\x1b]0;pwned\x07") == "two\nlines\\x1b]0;pwned\\x07"


def test_a_direct_chat_is_called_by_the_other_members_name() -> None:
    direct = _chat(kind="direct", title=None)
    assert output.chat_label(direct, "alice") == "@bob"
    assert output.chat_label(_chat(title=None), "alice") == "bob"
    assert output.chat_label(_chat(), "alice") == "Lunch"


def test_chats_on_a_terminal_are_a_table_with_short_ids_and_relative_times() -> None:
    out, stdout, _ = _output(tty=True)
    out.chats([_chat()], "alice")
    text = re.sub(r"\x1b\[[0-9;]*m", "", stdout.getvalue())
    assert "3b34ff38 " in text
    assert "3b34ff38-cb08" not in text
    assert "Lunch" in text
    assert "5m ago" in text
    assert "UNREAD" in text


def test_chats_in_a_pipe_are_tab_separated_with_full_ids_and_no_header() -> None:
    out, stdout, _ = _output(tty=False)
    out.chats([_chat()], "alice")
    assert (
        stdout.getvalue()
        == "3b34ff38-cb08-4f9e-ad31-c7df8e4e4b25\tLunch\t2\t2026-05-01T11:55:00Z\n"
    )


def test_chats_as_json_are_the_servers_objects() -> None:
    out, stdout, _ = _output(tty=True, json_mode=True)
    out.chats([_chat()], "alice")
    assert json.loads(stdout.getvalue()) == [_chat()]


def test_a_message_body_cannot_inject_terminal_controls_into_the_history() -> None:
    out, stdout, _ = _output(tty=True)
    out.messages([_message(body="hi\x1b[31m")])
    text = stdout.getvalue()
    assert "hi\\x1b[31m" in text


def test_history_in_a_pipe_marks_edited_and_deleted_messages() -> None:
    out, stdout, _ = _output(tty=False)
    out.messages(
        [
            _message(seq=1, body="", deleted=True),
            _message(seq=2, body="fixed\ttypo", edited_at="2026-05-01T11:59:50Z"),
        ]
    )
    assert stdout.getvalue().splitlines() == [
        "1\t2026-05-01T11:59:30Z\talice\t\tdeleted",
        "2\t2026-05-01T11:59:30Z\talice\tfixed\\ttypo\tedited",
    ]


def test_stream_frames_in_a_pipe_carry_the_event_chat_and_seq() -> None:
    out, stdout, _ = _output(tty=False)
    out.stream_frame({"type": "message", "chat_id": "c1", "message": _message()}, "Lunch")
    assert stdout.getvalue() == "message\tc1\t7\t2026-05-01T11:59:30Z\talice\thello\t\n"


def test_typing_is_shown_only_in_the_json_stream() -> None:
    frame = {"type": "typing", "chat_id": "c1", "user_id": "u2", "username": "bob"}
    out, stdout, _ = _output(tty=True)
    out.stream_frame(frame, "Lunch")
    assert stdout.getvalue() == ""
    out, stdout, _ = _output(tty=False, json_mode=True)
    out.stream_frame(frame, "Lunch")
    assert json.loads(stdout.getvalue()) == frame


def test_notices_go_to_stderr_so_pipes_carry_only_results() -> None:
    out, stdout, stderr = _output(tty=False)
    out.notice("Logged in.")
    assert stdout.getvalue() == ""
    assert stderr.getvalue() == "Logged in.\n"
