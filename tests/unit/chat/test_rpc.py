"""parley_chat.rpc's stream side: a Subscribe call seen as a stream socket, frames turned
into SubscribeResponses, and why a stream ended turned into the status a client acts on."""

from __future__ import annotations

import asyncio
import json
import uuid

import anyio
import grpc
import pytest
from litestar.exceptions import WebSocketDisconnect

from parley_chat import rpc
from parley_chat.closes import CloseCode

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_the_first_frame_read_is_the_resume_and_then_reading_waits_for_the_end() -> None:
    socket = rpc.SubscribeSocket('{"type":"resume","cursors":{}}', backlog=4)
    assert await socket.receive_data("text") == '{"type":"resume","cursors":{}}'
    reading = asyncio.ensure_future(socket.receive_data("text"))
    await asyncio.sleep(0)
    assert not reading.done()
    socket.hang_up()
    with pytest.raises(WebSocketDisconnect):
        await reading
    assert socket.ended_with is None


async def test_frames_written_before_a_close_are_all_read_then_the_close_code() -> None:
    socket = rpc.SubscribeSocket("{}", backlog=4)
    await socket.send_text(b"1")
    await socket.send_text(b"2")
    await socket.close(CloseCode.RESTARTING.code, CloseCode.RESTARTING.reason)
    assert [frame async for frame in socket.frames()] == [b"1", b"2"]
    assert socket.ended_with is CloseCode.RESTARTING
    with pytest.raises(WebSocketDisconnect):
        await socket.send_text(b"3")


async def test_a_full_queue_makes_the_writer_wait_for_the_reader() -> None:
    socket = rpc.SubscribeSocket("{}", backlog=1)
    await socket.send_text(b"1")
    with anyio.move_on_after(0.05) as waited:
        await socket.send_text(b"2")
    assert waited.cancelled_caught


def test_a_message_frame_is_the_message_event_with_the_same_fields() -> None:
    chat_id, message_id, sender = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    message = {
        "id": message_id,
        "chat_id": chat_id,
        "seq": 3,
        "sender_id": sender,
        "sender_username": "alice",
        "body": "hi",
        "client_msg_id": None,
        "created_at": "2026-01-01T00:00:00Z",
        "edited_at": "2026-01-01T00:01:00.5Z",
        "deleted": False,
        "reply_to": None,
        "thread": None,
        "reactions": [{"emoji": "👍", "count": 2, "me": False}],
        "mentions": [],
        "attachments": [],
    }
    frame = json.dumps({"type": "message.updated", "chat_id": chat_id, "message": message})
    reply = rpc.reply_of(frame.encode())
    assert reply is not None
    assert reply.WhichOneof("event") == "message_updated"
    updated = reply.message_updated.message
    assert (updated.seq, updated.body, updated.reactions[0].count) == (3, "hi", 2)
    assert updated.HasField("edited_at")
    assert not updated.HasField("reply_to")
    assert not updated.HasField("thread")


def test_answers_to_client_frames_are_not_events() -> None:
    assert rpc.reply_of(b'{"type":"pong"}') is None
    assert rpc.reply_of(b'{"type":"error","detail":"bad frame"}') is None


@pytest.mark.parametrize(
    ("close", "code"),
    [
        (CloseCode.RESTARTING, grpc.StatusCode.UNAVAILABLE),
        (CloseCode.DATABASE_UNAVAILABLE, grpc.StatusCode.UNAVAILABLE),
        (CloseCode.BROKER_UNAVAILABLE, grpc.StatusCode.UNAVAILABLE),
        (CloseCode.INTERNAL_ERROR, grpc.StatusCode.UNAVAILABLE),
        (CloseCode.SLOW_CONSUMER, grpc.StatusCode.RESOURCE_EXHAUSTED),
        (CloseCode.EXPIRED, grpc.StatusCode.UNAUTHENTICATED),
        (CloseCode.TENANT_GONE, grpc.StatusCode.UNAUTHENTICATED),
        (CloseCode.SUSPENDED, grpc.StatusCode.PERMISSION_DENIED),
    ],
)
def test_each_way_a_stream_ends_has_the_status_a_client_acts_on(
    close: CloseCode, code: grpc.StatusCode
) -> None:
    assert rpc.end_status(close).code == code
