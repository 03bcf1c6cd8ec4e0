"""What travels on the broker and on the socket (docs/api.md "Real-time stream").

A broker payload is an envelope: one line of routing header (JSON), a newline, then the
frame exactly as clients receive it. Every connection on every replica forwards the same
frame bytes without decoding or re-encoding them; only the small header is parsed, once
per event per process (`Event`), and the WebSocket framing around it is made once too.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated

import msgspec

from parley_chat.api import schemas
from parley_chat.domain import events
from parley_chat.domain.views import MemberView, MessageView
from parley_core import serving


def feed_channel(tenant: str) -> str:
    """Where a tenant's new feed events are announced, to wake its long polls."""
    return f"parley:feed:{tenant}"


def chat_channel(chat_id: uuid.UUID) -> str:
    return f"parley:chat:{chat_id}"


def user_channel(user_id: uuid.UUID) -> str:
    return f"parley:user:{user_id}"


class Header(msgspec.Struct, omit_defaults=True):
    kind: str
    chat_id: uuid.UUID
    seq: int = 0
    """For message and reaction events, the message's `seq`."""
    user_id: uuid.UUID | None = None
    """For member, typing and reaction events, whose they are."""
    last_seq: int = 0
    """For member events, the chat's last `seq` when the membership changed."""
    at: float = 0.0
    """Wall-clock time of publication, for the delivery-delay metric."""
    traceparent: str | None = None
    """W3C trace context of the publishing span, when tracing is on: the span that writes
    the frame links to it, and so to the request that produced the event."""


_encode = msgspec.json.Encoder().encode
_decode_header = msgspec.json.Decoder(Header).decode


def envelope(header: Header, frame: bytes) -> bytes:
    # JSON escapes newlines inside strings, so the first b"\n" ends the header.
    return _encode(header) + b"\n" + frame


def open_envelope(payload: bytes) -> tuple[Header, bytes]:
    head, _, frame = payload.partition(b"\n")
    return _decode_header(head), frame


class Event:
    """One envelope from the broker, opened once for every connection of the process."""

    __slots__ = ("_socket_frame", "delay_observed", "frame", "header")

    def __init__(self, header: Header, frame: bytes) -> None:
        self.header = header
        self.frame = frame
        """The frame as clients receive it."""
        self._socket_frame: bytes | None = None
        self.delay_observed = False
        """Its delivery delay is observed once per process, by the first socket written."""

    @classmethod
    def opened(cls, payload: bytes) -> Event:
        return cls(*open_envelope(payload))

    @property
    def socket_frame(self) -> bytes:
        """The frame with its WebSocket framing, made on first use."""
        if self._socket_frame is None:
            self._socket_frame = serving.text_frame(self.frame)
        return self._socket_frame

    def delay(self) -> float | None:
        """Seconds since publication, the first time it is asked; None after."""
        if self.delay_observed or not self.header.at:
            return None
        self.delay_observed = True
        # Clocks of two replicas may disagree by a little: never a negative delay.
        return max(0.0, time.time() - self.header.at)


class _MessageFrame(msgspec.Struct):
    type: str
    chat_id: uuid.UUID
    message: schemas.MessageOut


class _MemberFrame(msgspec.Struct):
    type: str
    chat_id: uuid.UUID
    member: schemas.MemberOut


class _TypingFrame(msgspec.Struct):
    chat_id: uuid.UUID
    user_id: uuid.UUID
    username: str
    type: str = "typing"


class _ReactionFrame(msgspec.Struct):
    chat_id: uuid.UUID
    seq: int
    emoji: str
    user_id: uuid.UUID
    op: str
    count: int
    type: str = "reaction"


def message_frame(kind: str, message: MessageView) -> bytes:
    # One frame goes to every member, so its reactions' `me` is false (docs/stream.md).
    out = schemas.MessageOut.of(message.for_everyone())
    return _encode(_MessageFrame(kind, message.chat_id, out))


def reaction_frame(
    chat_id: uuid.UUID, seq: int, emoji: str, user_id: uuid.UUID, op: str, count: int
) -> bytes:
    return _encode(_ReactionFrame(chat_id, seq, emoji, user_id, op, count))


def member_frame(kind: str, chat_id: uuid.UUID, member: MemberView) -> bytes:
    return _encode(_MemberFrame(kind, chat_id, schemas.MemberOut.of(member)))


def frame_of(event: events.ChatEvent) -> bytes:
    """The frame a domain event makes (the domain's `events.FrameEncoder`)."""
    if isinstance(event, events.MessageEvent):
        return message_frame(event.kind, event.message)
    if isinstance(event, events.ReactionEvent):
        return reaction_frame(
            event.chat_id, event.seq, event.emoji, event.user_id, event.op, event.count
        )
    return member_frame(event.kind, event.chat_id, event.member)


def typing_frame(chat_id: uuid.UUID, user_id: uuid.UUID, username: str) -> bytes:
    return _encode(_TypingFrame(chat_id, user_id, username))


READY = "ready"
PONG = _encode({"type": "pong"})


def ready_frame(user_id: uuid.UUID) -> bytes:
    return _encode({"type": READY, "user_id": user_id})


def error_frame(detail: str) -> bytes:
    return _encode({"type": "error", "detail": detail})


# -- client to server ---------------------------------------------------------------------

Seq = Annotated[int, msgspec.Meta(ge=0, le=schemas.MAX_SEQ)]


class Resume(msgspec.Struct, tag="resume", tag_field="type"):
    cursors: Annotated[dict[uuid.UUID, Seq], msgspec.Meta(max_length=10_000)]


class Typing(msgspec.Struct, tag="typing", tag_field="type"):
    chat_id: uuid.UUID


class Ping(msgspec.Struct, tag="ping", tag_field="type"):
    pass


ClientFrame = Resume | Typing | Ping
_decode_client = msgspec.json.Decoder(ClientFrame).decode


class BadFrame(Exception):
    """A client frame the server cannot take; the connection lives on."""


def read_client_frame(text: str) -> Resume | Typing | Ping:
    try:
        frame: Resume | Typing | Ping = _decode_client(text)
        return frame
    except msgspec.ValidationError as exc:
        raise BadFrame(f"invalid frame: {exc}") from None
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        raise BadFrame("frames must be JSON objects with a known `type`") from None
