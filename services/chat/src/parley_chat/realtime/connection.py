"""One client's stream: subscriptions that follow membership, resume from the log, gap
fill, a bounded queue per connection, typing relay, liveness and the close codes.

Everything a connection writes goes through one dispatcher task, in order: live events
from the broker, replayed pages from the database, and answers to the client's frames.
Per chat it remembers the last `seq` written, so a live event already covered by a replay
is dropped and a live event that skips ahead first pulls the missing ones from the log.
That is what makes "no gap and no duplicate" hold whatever order the broker delivers in,
whichever replica published, and whether or not a publish was lost.

Close codes (docs/stream.md):
- 4401: the token is missing, bad or has expired, or its tenant no longer exists (or was
  created again since); get a new one and reconnect.
- 4403: the tenant is suspended (shared/API.md v1 additions).
- 4408: the client sent nothing (not even a ping) for `idle_seconds`.
- 4429: the client did not read fast enough (its queue filled); reconnect and resume.
- 1011 / 1013: an unexpected error / the database did not answer; reconnect and resume.
- 1012: the server is restarting; reconnect (to any replica) and resume.

Metrics (parley_chat.metrics): every frame written counts in parley_stream_frames_sent_total
by source, live frames observe parley_stream_delivery_delay_seconds, and replays count in
parley_stream_replayed_messages_total by cause. With tracing on, writing a live frame is a
span that links to the span that published the event (docs/observability.md, "Traces").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar import WebSocket
from litestar.channels import ChannelsPlugin, Subscriber
from litestar.exceptions import WebSocketDisconnect
from opentelemetry import trace
from sqlalchemy import exc as sa_exc

from parley_chat import metrics
from parley_chat.domain import access, errors
from parley_chat.domain.service import Caller, ChatService
from parley_chat.realtime import wire
from parley_chat.realtime.broker import ChannelsPublisher
from parley_core import telemetry
from parley_core.errors import DependencyUnavailable

logger = logging.getLogger(__name__)

CLOSE_INTERNAL_ERROR = 1011
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_IDLE = 4408
CLOSE_SLOW_CONSUMER = 4429


@dataclass(frozen=True, slots=True)
class StreamPolicy:
    queue_size: int = 1024
    """Frames waiting for one slow client before it is closed with 4429."""
    idle_seconds: float = 120.0
    """Silence from the client before it is closed with 4408; clients ping more often."""
    typing_interval_seconds: float = 2.0
    """At most one typing frame per chat per connection in this long; the rest are dropped."""
    replay_page: int = 200
    """Messages read from the log per query while replaying."""
    resume_grace_seconds: float = 1.0
    """After `ready`, how long live events wait for the client's first frame (its resume)."""
    recheck_seconds: float = 30.0
    """How often a connection re-reads its user's chats from the database (dropping the
    ones left while a `member.left` was lost) and its tenant's standing (suspended: 4403;
    deleted or created again: 4401)."""


Item = tuple[str, Any]

_LIVE = metrics.FRAMES_SENT.labels(source="live")
_REPLAY = metrics.FRAMES_SENT.labels(source="replay")
_CONTROL = metrics.FRAMES_SENT.labels(source="control")


class Connection:
    def __init__(
        self,
        socket: WebSocket[Any, Any, Any],
        caller: Caller,
        expires_at: datetime,
        *,
        chats: ChatService,
        channels: ChannelsPlugin,
        publisher: ChannelsPublisher,
        policy: StreamPolicy,
        on_frame: Callable[[float | None], None] = lambda delay: None,
        tracer: trace.Tracer | None = None,
        standing: Callable[[], Awaitable[access.Standing]] | None = None,
    ) -> None:
        self.socket = socket
        self.caller = caller
        self.expires_at = expires_at
        self._chats = chats
        self._channels = channels
        self._publisher = publisher
        self._policy = policy
        self._on_frame = on_frame
        self._tracer = tracer
        self._standing = standing
        self._inbox: asyncio.Queue[Item] = asyncio.Queue(maxsize=policy.queue_size)
        self._sent: dict[uuid.UUID, int] = {}
        """The chats this connection writes frames of, with the last `seq` written. A live
        frame of any other chat is dropped: membership is this set, not the channels."""
        self._chat_subscriber: Subscriber | None = None
        """Subscribed at connect to the chats the user was in then."""
        self._joined: dict[uuid.UUID, Subscriber] = {}
        """One subscriber per chat joined since connecting."""
        self._typing_at: dict[uuid.UUID, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._done = asyncio.Event()
        self._first_frame = asyncio.Event()
        self._first_resume: dict[uuid.UUID, int] | None = None
        self._holding_done = False
        self.close_code: int | None = None

    # -- life cycle ----------------------------------------------------------------------

    async def serve(self) -> None:
        """Subscribe, announce `ready`, and stream until one side ends it."""
        me = self.caller.user_id
        subscribers = [await self._channels.subscribe([wire.user_channel(me)])]
        try:
            first = await self._chats.positions(self.caller)
            if first:
                channels = [wire.chat_channel(chat_id) for chat_id in first]
                self._chat_subscriber = await self._channels.subscribe(channels)
                subscribers.append(self._chat_subscriber)
            # Read positions only after subscribing: whatever commits later arrives live,
            # and whatever the broker delivered early is at or below them and dropped.
            latest = await self._chats.positions(self.caller)
            self._sent = {chat_id: latest[chat_id] for chat_id in first if chat_id in latest}
            await self.socket.send_text(wire.ready_frame(me))
            _CONTROL.inc()
            for subscriber in subscribers:
                # A subscriber ends when it loses its last channel (the user left every
                # chat); that does not end the stream.
                self._start(self._pump(subscriber), ends_stream=False)
            self._start(self._read_client(), ends_stream=True)
            self._start(self._dispatch(), ends_stream=True)
            self._start(self._expire(), ends_stream=True)
            self._start(self._recheck(), ends_stream=False)
            await self._done.wait()
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            for subscriber in [*subscribers, *self._joined.values()]:
                with contextlib.suppress(Exception):
                    await self._channels.unsubscribe(subscriber)

    def resync(self) -> None:
        """The broker lost events (it was down): catch every chat up from the log."""
        self._enqueue(("resync", None))

    def _start(self, work: Awaitable[None], *, ends_stream: bool) -> None:
        async def run() -> None:
            try:
                await work
            except (WebSocketDisconnect, asyncio.CancelledError):
                pass
            except sa_exc.SQLAlchemyError as exc:
                # The log could not be read (a replay, a gap fill): the client resumes later.
                logger.warning("stream lost the database", extra={"error.type": type(exc).__name__})
                self.close_code = self.close_code or CLOSE_TRY_AGAIN_LATER
            except Exception:
                logger.exception("stream task failed", extra={"user.id": str(self.caller.user_id)})
                self.close_code = self.close_code or CLOSE_INTERNAL_ERROR
            finally:
                if ends_stream:
                    self._done.set()

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _enqueue(self, item: Item) -> None:
        if self._inbox.qsize() >= self._policy.queue_size // 2:
            self._first_frame.set()  # stop holding live events: the queue is the limit
        try:
            self._inbox.put_nowait(item)
        except asyncio.QueueFull:
            self.close_code = self.close_code or CLOSE_SLOW_CONSUMER
            self._done.set()

    # -- the producers -------------------------------------------------------------------

    async def _pump(self, subscriber: Subscriber) -> None:
        async for payload in subscriber.iter_events():
            self._enqueue(("live", payload))
            if self._done.is_set():
                return

    async def _read_client(self) -> None:
        while True:
            try:
                text = await asyncio.wait_for(
                    self.socket.receive_data("text"), self._policy.idle_seconds
                )
            except TimeoutError:
                self.close_code = CLOSE_IDLE
                return
            try:
                frame = wire.read_client_frame(text)
            except wire.BadFrame as exc:
                self._enqueue(("frame", wire.error_frame(str(exc))))
                self._first_frame.set()
                continue
            if not self._holding_done and self._first_resume is None:
                self._first_frame.set()
                if isinstance(frame, wire.Resume):
                    # Taken before any live event that queued up since `ready`.
                    self._first_resume = frame.cursors
                    continue
            if isinstance(frame, wire.Ping):
                self._enqueue(("frame", wire.PONG))
            elif isinstance(frame, wire.Typing):
                await self._typing(frame.chat_id)
            else:
                self._enqueue(("resume", frame.cursors))

    async def _expire(self) -> None:
        await asyncio.sleep(max(0.0, self.expires_at.timestamp() - time.time()))
        self.close_code = CLOSE_UNAUTHORIZED

    async def _recheck(self) -> None:
        # A lost `member.left` (a publish that timed out or was skipped) must not leave a
        # removed member reading the chat: the database, not the broker, says who is in.
        while True:
            # Jittered, so connections opened together do not query together for ever.
            await asyncio.sleep(self._policy.recheck_seconds * random.uniform(0.8, 1.2))
            if self._standing is not None:
                try:
                    standing = await self._standing()
                except DependencyUnavailable:
                    standing = access.Standing.ACTIVE  # auth is down: keep serving
                if standing is not access.Standing.ACTIVE:
                    gone = standing is access.Standing.GONE
                    self.close_code = CLOSE_UNAUTHORIZED if gone else CLOSE_FORBIDDEN
                    self._done.set()
                    return
            self._enqueue(("membership", None))

    async def _typing(self, chat_id: uuid.UUID) -> None:
        if chat_id not in self._sent:
            self._enqueue(("frame", wire.error_frame("not a member of that chat")))
            return
        now = time.monotonic()
        if now - self._typing_at.get(chat_id, float("-inf")) < self._policy.typing_interval_seconds:
            return  # relayed at most once per interval; the rest are dropped
        self._typing_at[chat_id] = now
        try:
            await self._chats.count_typing(self.caller)
        except errors.LimitReached as exc:
            # Dropped, and said so; the stream stays open.
            self._enqueue(("frame", wire.error_frame(exc.detail)))
            return
        header = wire.Header("typing", chat_id, user_id=self.caller.user_id)
        frame = wire.typing_frame(chat_id, self.caller.user_id, self.caller.username)
        await self._publisher.send(wire.envelope(header, frame), [wire.chat_channel(chat_id)])

    # -- the one writer ------------------------------------------------------------------

    async def _dispatch(self) -> None:
        # A live event written before the client's resume would make the replay either
        # repeat it or go out of order: hold live events until the client's first frame
        # (or the grace period), and when that frame is a resume, replay it first.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_frame.wait(), self._policy.resume_grace_seconds)
        self._holding_done = True  # a resume from now on queues behind live events
        if self._first_resume is not None:
            await self._resume(self._first_resume)
        while True:
            kind, value = await self._inbox.get()
            if kind == "live":
                await self._live(value)
            elif kind == "frame":
                await self._write(value)
            elif kind == "resume":
                await self._resume(value)
            elif kind == "resync":
                await self._resync()
            elif kind == "membership":
                await self._recheck_membership()

    async def _write(self, frame: bytes) -> None:
        """Write an answer to the client's own frame (pong, error)."""
        await self.socket.send_text(frame)
        _CONTROL.inc()
        self._on_frame(None)

    async def _replay(self, frame: bytes, cause: str) -> None:
        """Write a message read back from the log."""
        await self.socket.send_text(frame)
        _REPLAY.inc()
        metrics.REPLAYED_MESSAGES.labels(cause=cause).inc()
        self._on_frame(None)

    async def _deliver(self, header: wire.Header, frame: bytes) -> None:
        """Write a live frame from the broker; with tracing on, as a span linked to the
        span that published it (on whichever replica)."""
        if self._tracer is None:
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
        await self.socket.send_text(frame)
        _LIVE.inc()
        delay = None
        if header.at:
            # Clocks of two replicas may disagree by a little: never a negative delay.
            delay = max(0.0, time.time() - header.at)
            metrics.DELIVERY_DELAY.observe(delay)
        self._on_frame(delay)

    async def _live(self, payload: bytes) -> None:
        header, frame = wire.open_envelope(payload)
        chat_id = header.chat_id
        if header.kind == "message":
            last = self._sent.get(chat_id)
            if last is None or header.seq <= last:
                return  # not (or no longer) a member here, or already written
            if header.seq > last + 1:
                await self._catch_up(chat_id, "gap", through=header.seq)  # read the log
                return
            await self._deliver(header, frame)
            self._sent[chat_id] = header.seq
        elif header.kind == "message.updated":
            last = self._sent.get(chat_id)
            if last is None:
                return
            if header.seq > last:
                # The log holds the message as edited; reading it closes the gap too.
                await self._catch_up(chat_id, "gap", through=header.seq)
                return
            await self._deliver(header, frame)
        elif header.kind == "member.joined":
            if header.user_id == self.caller.user_id:
                if chat_id in self._sent:
                    return  # the copy from the other channel
                subscriber = await self._channels.subscribe([wire.chat_channel(chat_id)])
                self._joined[chat_id] = subscriber
                self._start(self._pump(subscriber), ends_stream=False)
                self._sent[chat_id] = header.last_seq
                await self._deliver(header, frame)
                await self._catch_up(chat_id, "join")  # sent between joining and subscribing
            elif chat_id in self._sent:
                await self._deliver(header, frame)
        elif header.kind == "member.left":
            if chat_id not in self._sent:
                return
            await self._deliver(header, frame)
            if header.user_id == self.caller.user_id:
                await self._leave(chat_id)
        elif (
            # Typing is ephemeral: dropped first when the client falls behind.
            header.kind == "typing"
            and chat_id in self._sent
            and header.user_id != self.caller.user_id
            and self._inbox.qsize() < self._policy.queue_size // 2
        ):
            await self._write_live(header, frame)

    async def _leave(self, chat_id: uuid.UUID) -> None:
        self._sent.pop(chat_id, None)
        subscriber = self._joined.pop(chat_id, None)
        if subscriber is not None:
            await self._channels.unsubscribe(subscriber)
        elif self._chat_subscriber is not None:
            await self._channels.unsubscribe(self._chat_subscriber, [wire.chat_channel(chat_id)])

    async def _catch_up(self, chat_id: uuid.UUID, cause: str, through: int | None = None) -> None:
        """Write every logged message after the last one written, up to `through` (or
        the end), in `seq` order. `cause` labels the replayed messages' metric."""
        while chat_id in self._sent:
            try:
                page = await self._chats.history(
                    self.caller,
                    chat_id,
                    after_seq=self._sent[chat_id],
                    before_seq=None,
                    limit=self._policy.replay_page,
                )
            except errors.ChatNotFound:
                await self._leave(chat_id)
                return
            for message in page.messages:
                await self._replay(wire.message_frame("message", message), cause)
                self._sent[chat_id] = message.seq
            if not page.has_more or (through is not None and self._sent[chat_id] >= through):
                return

    async def _resume(self, cursors: dict[uuid.UUID, int]) -> None:
        # shared/API.md: every message after each cursor, in seq order, then live ones. Live
        # events wait in the inbox meanwhile and are dropped if the replay covered them.
        metrics.RESUMES.inc()
        for chat_id, cursor in cursors.items():
            position = self._sent.get(chat_id)
            if position is None:
                continue  # not a member: nothing to say, not even that the chat exists
            if cursor < position:
                self._sent[chat_id] = cursor
                await self._catch_up(chat_id, "resume", through=position)
            else:
                self._sent[chat_id] = cursor

    async def _recheck_membership(self) -> None:
        try:
            latest = await self._chats.positions(self.caller)
        except sa_exc.SQLAlchemyError as exc:
            # Nothing commits while the database is down, so nothing new can leak; the
            # next re-check catches up. Closing every stream for it would be worse.
            logger.warning("stream re-check skipped", extra={"error.type": type(exc).__name__})
            return
        await self._drop_left_chats(latest)

    async def _drop_left_chats(self, latest: dict[uuid.UUID, int]) -> None:
        """Stop writing (and receiving) every chat the user is no longer a member of."""
        for chat_id in [chat_id for chat_id in self._sent if chat_id not in latest]:
            metrics.MEMBERSHIP_DROPS.inc()
            await self._leave(chat_id)

    async def _resync(self) -> None:
        latest = await self._chats.positions(self.caller)
        await self._drop_left_chats(latest)
        for chat_id, position in list(self._sent.items()):
            if latest.get(chat_id, 0) > position:
                await self._catch_up(chat_id, "resync")
