"""Writing frames to one stream socket, and counting them: every frame written counts in
parley_stream_frames_sent_total by source, live frames observe
parley_stream_delivery_delay_seconds, and replays count in
parley_stream_replayed_messages_total by cause. With tracing on, writing a live frame is a
span that links to the span that published the event, on whichever replica
(docs/observability.md, "Traces").

`Connection` (realtime/connection.py) decides what to write; this is only how.
"""

from __future__ import annotations

import time
from typing import Any

from litestar import WebSocket
from opentelemetry import trace

from parley_chat import metrics
from parley_chat.realtime import wire
from parley_core import telemetry

_LIVE = metrics.FRAMES_SENT.labels(source="live")
_REPLAY = metrics.FRAMES_SENT.labels(source="replay")
_CONTROL = metrics.FRAMES_SENT.labels(source="control")


class Writer:
    def __init__(self, socket: WebSocket[Any, Any, Any], tracer: trace.Tracer | None) -> None:
        self._socket = socket
        self._tracer = tracer

    async def control(self, frame: bytes) -> None:
        """`ready`, and answers to the client's own frames (pong, error)."""
        await self._socket.send_text(frame)
        _CONTROL.inc()

    async def replay(self, frames: list[bytes], cause: str) -> None:
        """Messages read back from the log, a page at a time (counted once a page)."""
        for frame in frames:
            await self._socket.send_text(frame)
        _REPLAY.inc(len(frames))
        metrics.REPLAYED_MESSAGES.labels(cause=cause).inc(len(frames))

    async def live(self, header: wire.Header, frame: bytes) -> None:
        """A live frame from the broker. Typing is ephemeral and not traced."""
        if self._tracer is None or header.kind == "typing":
            await self._write_live(header, frame)
            return
        producer = telemetry.span_context(header.traceparent) if header.traceparent else None
        with self._tracer.start_as_current_span(
            f"deliver {header.kind}",
            kind=trace.SpanKind.CONSUMER,
            links=[trace.Link(producer)] if producer else None,
            attributes={
                "messaging.operation.type": "process",
                "messaging.destination.name": "parley:chat",
                "parley.chat.id": str(header.chat_id),
                "parley.seq": header.seq,
            },
        ):
            await self._write_live(header, frame)

    async def _write_live(self, header: wire.Header, frame: bytes) -> None:
        await self._socket.send_text(frame)
        _LIVE.inc()
        if header.at:
            # Clocks of two replicas may disagree by a little: never a negative delay.
            metrics.DELIVERY_DELAY.observe(max(0.0, time.time() - header.at))
