"""Writing frames to one stream socket, and counting them: every frame written counts in
parley_stream_frames_sent_total by source, and replays count in
parley_stream_replayed_messages_total by cause.

Frames go straight to the socket's transport as ready-made WebSocket frames when the
server offers it (`parley_core.serving.FrameWriter`) and the socket can take them now;
otherwise through ASGI, which waits while the client is slow. Live frames that the
fan-out writes in one pass (realtime/fanout.py) are counted there, once per event; this
writer counts the ones the connection's dispatcher writes.

`Connection` (realtime/connection.py) decides what to write; this is only how.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from parley_chat import metrics
from parley_chat.realtime import wire
from parley_core import serving

LIVE = metrics.FRAMES_SENT.labels(source="live")
_REPLAY = metrics.FRAMES_SENT.labels(source="replay")
_CONTROL = metrics.FRAMES_SENT.labels(source="control")


class Socket(Protocol):
    """What a stream writes to and reads from: a Litestar WebSocket for /v1/stream, or a
    gRPC Subscribe call seen as one (parley_chat.rpc.SubscribeSocket), so both get the
    one implementation of resume, gap fill and ordering (realtime/connection.py)."""

    @property
    def scope(self) -> Any: ...

    async def send_text(self, data: bytes) -> None: ...

    async def receive_data(self, mode: Literal["text"]) -> str: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


class Writer:
    __slots__ = ("_frames", "_socket")

    def __init__(self, socket: Socket) -> None:
        self._socket = socket
        extensions = socket.scope.get("extensions") or {}
        frames = extensions.get(serving.FRAME_WRITER)
        self._frames: serving.FrameWriter | None = (
            frames if isinstance(frames, serving.FrameWriter) else None
        )

    def write_now(self, socket_frame: bytes) -> bool:
        """Write a ready-made frame at once if the socket takes it now; False otherwise."""
        return self._frames is not None and self._frames.write(socket_frame)

    async def _send(self, frame: bytes, socket_frame: bytes | None = None) -> None:
        if self._frames is not None and self._frames.write(
            socket_frame or serving.text_frame(frame)
        ):
            return
        await self._socket.send_text(frame)

    async def control(self, frame: bytes) -> None:
        """`ready`, and answers to the client's own frames (pong, error)."""
        await self._send(frame)
        _CONTROL.inc()

    async def replay(self, frames: list[bytes], cause: str) -> None:
        """Messages read back from the log, a page at a time (counted once a page)."""
        for frame in frames:
            await self._send(frame)
        _REPLAY.inc(len(frames))
        metrics.REPLAYED_MESSAGES.labels(cause=cause).inc(len(frames))

    async def live(self, event: wire.Event) -> None:
        """A live frame the fan-out could not write at once (realtime/fanout.py)."""
        await self._send(event.frame, event.socket_frame)
        LIVE.inc()
        delay = event.delay()
        if delay is not None:
            metrics.DELIVERY_DELAY.observe(delay)
