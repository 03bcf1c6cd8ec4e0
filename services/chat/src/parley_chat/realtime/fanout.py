"""Handing one broker event to every connection of the process that listens on its
channel, in one pass and without awaiting (docs/stream.md "Fan-out").

The envelope is opened once per event per process (`wire.Event`), not once per socket;
each listener decides with its own sequencer and, in the common case, writes the
ready-made frame to its transport right there (`Connection.offer`). What cannot be done
at once (a slow socket, a gap to fill, a chat to subscribe to) is queued for that
connection's dispatcher, in order. Metrics and tracing are per event too: one increment of
parley_stream_frames_sent_total by the number of sockets written, one delivery delay
observation, and with tracing on one `deliver` span that links to the publishing span.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from opentelemetry import trace

from parley_chat import metrics
from parley_chat.realtime import wire
from parley_chat.realtime import writer as writing
from parley_core import telemetry


class Listener(Protocol):
    def offer(self, event: wire.Event) -> bool:
        """Take a live event; True when its frame was written to the socket at once."""
        ...


def deliver(
    payload: bytes, listeners: Iterable[Listener], tracer: trace.Tracer | None = None
) -> wire.Event:
    event = wire.Event.opened(payload)
    header = event.header
    if tracer is None or header.kind == "typing":  # typing is ephemeral and not traced
        _offer(event, listeners)
        return event
    producer = telemetry.span_context(header.traceparent) if header.traceparent else None
    with tracer.start_as_current_span(
        f"deliver {header.kind}",
        kind=trace.SpanKind.CONSUMER,
        links=[trace.Link(producer)] if producer else None,
        attributes={
            "messaging.operation.type": "process",
            "messaging.destination.name": "parley:chat",
            "parley.chat.id": str(header.chat_id),
            "parley.seq": header.seq,
        },
    ) as span:
        span.set_attribute("parley.stream.sockets_written", _offer(event, listeners))
    return event


def _offer(event: wire.Event, listeners: Iterable[Listener]) -> int:
    written = 0
    for listener in listeners:
        if listener.offer(event):
            written += 1
    if written:
        writing.LIVE.inc(written)
        delay = event.delay()
        if delay is not None:
            metrics.DELIVERY_DELAY.observe(delay)
    return written
