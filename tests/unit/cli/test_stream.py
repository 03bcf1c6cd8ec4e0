"""parley_cli.stream: exactly-once printing per chat, whatever the server sends."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import httpx

from parley_cli import api, output, stream

LUNCH = "11111111-0000-4000-8000-000000000000"
OTHER = "22222222-0000-4000-8000-000000000000"


class _Credentials:
    def access_token(self) -> str:
        return "token"

    def rotate(self, stale: str, exchange: Any) -> str:
        return "token"


def _message(chat_id: str, seq: int) -> dict[str, Any]:
    return {
        "id": f"m{seq}",
        "chat_id": chat_id,
        "seq": seq,
        "sender_id": "u1",
        "sender_username": "alice",
        "body": f"message {seq}",
        "client_msg_id": None,
        "created_at": "2026-05-01T12:00:00Z",
        "edited_at": None,
        "deleted": False,
    }


def _frame(chat_id: str, seq: int) -> dict[str, Any]:
    return {"type": "message", "chat_id": chat_id, "message": _message(chat_id, seq)}


def _tail(
    *, cursors: dict[str, int], only: set[str] | None = None, history: list[int] | None = None
) -> tuple[stream.Tail, io.StringIO, list[str]]:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url.params))
        after = int(request.url.params["after_seq"])
        limit = int(request.url.params["limit"])
        seqs = [seq for seq in history or [] if seq > after][:limit]
        return httpx.Response(
            200, json={"messages": [_message(LUNCH, seq) for seq in seqs], "has_more": False}
        )

    client = api.Client(
        "http://parley.test", credentials=_Credentials(), transport=httpx.MockTransport(handler)
    )
    out = io.StringIO()
    printer = output.Output(tty=False, out=out, err=io.StringIO())
    labels = {LUNCH: "Lunch", OTHER: "Other"}
    tail = stream.Tail(client, printer, cursors=cursors, labels=labels, only=only, me="alice")
    return tail, out, asked


def _printed_seqs(out: io.StringIO) -> list[int]:
    return [int(line.split("\t")[2]) for line in out.getvalue().splitlines()]


def _feed(tail: stream.Tail, *frames: dict[str, Any]) -> None:
    async def feed() -> None:
        for frame in frames:
            await tail.take(frame)

    asyncio.run(feed())


def test_messages_at_or_below_the_cursor_are_not_printed_twice() -> None:
    tail, out, _ = _tail(cursors={LUNCH: 2})
    _feed(tail, _frame(LUNCH, 2), _frame(LUNCH, 3), _frame(LUNCH, 3), _frame(LUNCH, 1))
    assert _printed_seqs(out) == [3]
    assert tail.cursors == {LUNCH: 3}


def test_a_message_that_skips_ahead_is_preceded_by_the_missing_ones_from_the_history() -> None:
    tail, out, asked = _tail(cursors={LUNCH: 2}, history=[3, 4, 5, 6])
    _feed(tail, _frame(LUNCH, 6), _frame(LUNCH, 4), _frame(LUNCH, 7))
    assert _printed_seqs(out) == [3, 4, 5, 6, 7]
    assert asked == ["after_seq=2&limit=3"]


def test_chats_that_are_not_followed_are_left_out() -> None:
    tail, out, _ = _tail(cursors={LUNCH: 0}, only={LUNCH})
    _feed(tail, _frame(OTHER, 1), _frame(LUNCH, 1))
    assert _printed_seqs(out) == [1]
    assert tail.resume_cursors() == {LUNCH: 1}


def test_a_chat_joined_while_following_everything_is_printed_and_resumed() -> None:
    tail, out, _ = _tail(cursors={LUNCH: 0})
    _feed(tail, _frame(OTHER, 4))
    assert _printed_seqs(out) == [4]
    assert tail.resume_cursors() == {LUNCH: 0, OTHER: 4}


def test_reconnect_pauses_grow_up_to_a_ceiling() -> None:
    backoff = stream.Backoff(first=0.25, most=5.0)
    pauses = [backoff.next() for _ in range(10)]
    assert 0.125 <= pauses[0] <= 0.25
    assert all(pause <= 5.0 for pause in pauses)
    assert pauses[-1] >= 2.5
    backoff.reset()
    assert backoff.next() <= 0.25


def test_a_frame_that_is_not_the_contracts_is_reported_and_skipped() -> None:
    tail, out, _ = _tail(cursors={LUNCH: 0})
    _feed(tail, {"type": "message", "chat_id": LUNCH}, _frame(LUNCH, 1))
    assert _printed_seqs(out) == [1]
