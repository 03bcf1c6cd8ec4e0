"""One client's stream: subscriptions that follow membership, resume from the log, gap
fill, a bounded queue per connection, typing relay, liveness and the close codes.

Everything a connection writes goes through one dispatcher task, in order: live events
from the broker, replayed pages from the database, and answers to the client's frames.
What to write, drop or read back from the log is decided by its `Sequencer`
(realtime/sequencer.py), which holds no I/O; this module does the I/O around it: the
socket, the subscriptions, the queue and its tasks, metrics and tracing. That is what
makes "no gap and no duplicate" hold whatever order the broker delivers in, whichever
replica published, and whether or not a publish was lost. Why a socket closes, and with
which code, is `parley_chat.closes.CloseCode` (docs/stream.md says what clients do).

How frames are written, counted and traced is realtime/writer.py.
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
from litestar.channels import Subscriber
from litestar.exceptions import WebSocketDisconnect
from opentelemetry import trace
from sqlalchemy import exc as sa_exc

from parley_chat import metrics
from parley_chat.closes import CloseCode
from parley_chat.domain import access, errors
from parley_chat.domain.service import Caller, ChatService
from parley_chat.realtime import sequencer as sequencing
from parley_chat.realtime import wire
from parley_chat.realtime import writer as writing
from parley_chat.realtime.broker import ChannelsPublisher, ResilientChannels
from parley_chat.realtime.presence import PresenceHub
from parley_core.errors import DependencyUnavailable

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StreamPolicy:
    queue_size: int = 1024
    """Frames waiting for one slow client before it is closed with 4429."""
    idle_seconds: float = 120.0
    """Silence from the client before it is closed with 4408; clients ping more often."""
    typing_interval_seconds: float = 2.0
    """At most one typing frame per chat per connection in this long; the rest are dropped."""
    replay_page: int = 1000
    """Messages read from the log per query while replaying: a client 10,000 behind is
    caught up in ten queries."""
    resume_grace_seconds: float = 1.0
    """After `ready`, how long live events wait for the client's first frame (its resume)."""
    recheck_seconds: float = 30.0
    """How often a connection re-reads its user's chats from the database (dropping the
    ones left while a `member.left` was lost, and reading any message that never came
    live) and its tenant's standing (suspended: 4403; deleted or created again: 4401)."""


@dataclass(frozen=True, slots=True)
class Shared:
    """What every connection of the process works with."""

    chats: ChatService
    channels: ResilientChannels
    publisher: ChannelsPublisher
    policy: StreamPolicy
    tracer: trace.Tracer | None = None
    presence: PresenceHub | None = None
    """Presence frames, and the stream's part in its user's presence (realtime/presence.py)."""


# What the dispatcher takes from a connection's queue, in order.


@dataclass(frozen=True, slots=True)
class Live:
    payload: bytes
    """An envelope from the broker (wire.envelope)."""


@dataclass(frozen=True, slots=True)
class Reply:
    frame: bytes
    """An answer to the client's own frame: pong, error."""


@dataclass(frozen=True, slots=True)
class Resume:
    cursors: dict[uuid.UUID, int]


@dataclass(frozen=True, slots=True)
class Resync:
    """The broker lost events: catch every chat up from the log."""


@dataclass(frozen=True, slots=True)
class Recheck:
    """Re-read the user's chats: drop the ones left, catch up the ones behind."""


Item = Live | Reply | Resume | Resync | Recheck


class Connection:
    def __init__(
        self,
        socket: WebSocket[Any, Any, Any],
        caller: Caller,
        expires_at: datetime,
        shared: Shared,
        *,
        standing: Callable[[], Awaitable[access.Standing]] | None = None,
    ) -> None:
        self.socket = socket
        self.caller = caller
        self.expires_at = expires_at
        self._shared = shared
        self._policy = shared.policy
        self._standing = standing
        self._writer = writing.Writer(socket, shared.tracer)
        self._inbox: asyncio.Queue[Item] = asyncio.Queue(maxsize=self._policy.queue_size)
        # In no chat until `serve` has read the user's chats.
        self._sequencer = sequencing.Sequencer(
            caller.user_id, {}, typing_interval=self._policy.typing_interval_seconds
        )
        self._chat_subscriber: Subscriber | None = None
        """Subscribed at connect to the chats the user was in then."""
        self._joined: dict[uuid.UUID, Subscriber] = {}
        """One subscriber per chat joined since connecting."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._done = asyncio.Event()
        self._first_frame = asyncio.Event()
        self.closing: CloseCode | None = None
        """Why the stream ends, when the server ends it; the handler closes with it."""

    # -- life cycle ----------------------------------------------------------------------

    async def serve(self) -> None:
        """Subscribe, announce `ready`, and stream until one side ends it."""
        me = self.caller.user_id
        channels = self._shared.channels
        subscribers = [await channels.subscribe([wire.user_channel(me)])]
        try:
            first = await self._shared.chats.positions(self.caller)
            if first:
                names = [wire.chat_channel(chat_id) for chat_id in first]
                self._chat_subscriber = await channels.subscribe(names)
                subscribers.append(self._chat_subscriber)
            # Read positions only after subscribing: whatever commits later arrives live,
            # and whatever the broker delivered early is at or below them and dropped.
            latest = await self._shared.chats.positions(self.caller)
            self._sequencer = sequencing.Sequencer(
                me,
                {chat_id: latest[chat_id] for chat_id in first if chat_id in latest},
                typing_interval=self._policy.typing_interval_seconds,
            )
            await self._writer.control(wire.ready_frame(me))
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
                    await channels.unsubscribe(subscriber)

    def push(self, frame: bytes) -> None:
        """A frame that is no chat's (presence), written after what is queued."""
        self._enqueue(Reply(frame))

    def resync(self) -> None:
        """The broker lost events (it was down): catch every chat up from the log."""
        self._enqueue(Resync())

    def _start(self, work: Awaitable[None], *, ends_stream: bool) -> None:
        async def run() -> None:
            try:
                await work
            except (WebSocketDisconnect, asyncio.CancelledError):
                pass
            except sa_exc.SQLAlchemyError as exc:
                # The log could not be read (a replay, a gap fill): the client resumes later.
                logger.warning("stream lost the database", extra={"error.type": type(exc).__name__})
                self.closing = self.closing or CloseCode.DATABASE_UNAVAILABLE
            except Exception:
                logger.exception("stream task failed", extra={"user.id": str(self.caller.user_id)})
                self.closing = self.closing or CloseCode.INTERNAL_ERROR
            finally:
                if ends_stream:
                    self._done.set()

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _crowded(self) -> bool:
        return self._inbox.qsize() >= self._policy.queue_size // 2

    def _enqueue(self, item: Item) -> None:
        if self._crowded():
            self._first_frame.set()  # stop holding live events: the queue is the limit
        try:
            self._inbox.put_nowait(item)
        except asyncio.QueueFull:
            self.closing = self.closing or CloseCode.SLOW_CONSUMER
            self._done.set()

    # -- the producers -------------------------------------------------------------------

    async def _pump(self, subscriber: Subscriber) -> None:
        async for payload in subscriber.iter_events():
            self._enqueue(Live(payload))
            if self._done.is_set():
                return

    async def _read_client(self) -> None:
        while True:
            try:
                text = await asyncio.wait_for(
                    self.socket.receive_data("text"), self._policy.idle_seconds
                )
            except TimeoutError:
                self.closing = CloseCode.IDLE
                return
            if self._sequencer.holding:
                self._first_frame.set()
            try:
                frame = wire.read_client_frame(text)
            except wire.BadFrame as exc:
                self._enqueue(Reply(wire.error_frame(str(exc))))
                continue
            if isinstance(frame, wire.Ping):
                self._enqueue(Reply(wire.PONG))
            elif isinstance(frame, wire.Typing):
                await self._typing(frame.chat_id)
            elif not self._sequencer.take_early(frame.cursors):
                self._enqueue(Resume(frame.cursors))

    async def _expire(self) -> None:
        await asyncio.sleep(max(0.0, self.expires_at.timestamp() - time.time()))
        self.closing = CloseCode.EXPIRED

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
                    self.closing = CloseCode.EXPIRED if gone else CloseCode.SUSPENDED
                    self._done.set()
                    return
            self._enqueue(Recheck())

    async def _typing(self, chat_id: uuid.UUID) -> None:
        verdict = self._sequencer.typing(chat_id, time.monotonic())
        if verdict is sequencing.TypingVerdict.NOT_A_MEMBER:
            self._enqueue(Reply(wire.error_frame("not a member of that chat")))
            return
        if verdict is sequencing.TypingVerdict.TOO_SOON:
            return  # relayed at most once per interval; the rest are dropped
        try:
            await self._shared.chats.count_typing(self.caller)
        except errors.LimitReached as exc:
            # Dropped, and said so; the stream stays open.
            self._enqueue(Reply(wire.error_frame(exc.detail)))
            return
        header = wire.Header("typing", chat_id, user_id=self.caller.user_id)
        frame = wire.typing_frame(chat_id, self.caller.user_id, self.caller.username)
        await self._shared.publisher.send(
            wire.envelope(header, frame), [wire.chat_channel(chat_id)]
        )

    # -- the one writer ------------------------------------------------------------------

    async def _dispatch(self) -> None:
        # Live events wait for the client's first frame, or the grace period
        # (sequencer.py says why); a resume sent as that frame is replayed first.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_frame.wait(), self._policy.resume_grace_seconds)
        early = self._sequencer.release()
        if early is not None:
            await self._resume(early)
        while True:
            match await self._inbox.get():
                case Live(payload):
                    await self._live(payload)
                case Reply(frame):
                    await self._writer.control(frame)
                case Resume(cursors):
                    await self._resume(cursors)
                case Resync():
                    await self._resync()
                case Recheck():
                    await self._recheck_membership()

    async def _live(self, payload: bytes) -> None:
        header, frame = wire.open_envelope(payload)
        verdict = self._sequencer.live(header, crowded=self._crowded())
        if verdict.subscribe is not None:
            subscriber = await self._shared.channels.subscribe([wire.chat_channel(header.chat_id)])
            self._joined[header.chat_id] = subscriber
            self._start(self._pump(subscriber), ends_stream=False)
        if verdict.write:
            await self._writer.live(header, frame)
        if verdict.fill is not None:
            await self._catch_up(verdict.fill)
        if verdict.leave is not None:
            await self._unsubscribe(verdict.leave)
        if header.kind.startswith("member.") and self._shared.presence is not None:
            self._shared.presence.membership_changed(self)

    async def _leave(self, chat_id: uuid.UUID) -> None:
        self._sequencer.leave(chat_id)
        await self._unsubscribe(chat_id)

    async def _unsubscribe(self, chat_id: uuid.UUID) -> None:
        subscriber = self._joined.pop(chat_id, None)
        if subscriber is not None:
            await self._shared.channels.unsubscribe(subscriber)
        elif self._chat_subscriber is not None:
            await self._shared.channels.unsubscribe(
                self._chat_subscriber, [wire.chat_channel(chat_id)]
            )

    async def _catch_up(self, fill: sequencing.Fill) -> None:
        """Write what `fill` asks for from the log, in `seq` order, a page at a time."""
        chat_id = fill.chat_id
        while (after := self._sequencer.position(chat_id)) is not None:
            try:
                page = await self._shared.chats.replay(
                    self.caller, chat_id, after_seq=after, limit=self._policy.replay_page
                )
            except errors.ChatNotFound:
                await self._leave(chat_id)
                return
            frames = [
                wire.message_frame("message", message)
                for message in page.messages
                if self._sequencer.replayed(chat_id, message.seq)
            ]
            await self._writer.replay(frames, fill.cause)
            if self._sequencer.filled(fill, has_more=page.has_more):
                return

    async def _resume(self, cursors: dict[uuid.UUID, int]) -> None:
        # Live events wait in the inbox meanwhile, and are dropped if the replay covered them.
        metrics.RESUMES.inc()
        for fill in self._sequencer.resume(cursors):
            await self._catch_up(fill)

    async def _recheck_membership(self) -> None:
        try:
            latest = await self._shared.chats.positions(self.caller)
        except sa_exc.SQLAlchemyError as exc:
            # Nothing commits while the database is down, so nothing new can leak; the
            # next re-check catches up. Closing every stream for it would be worse.
            logger.warning("stream re-check skipped", extra={"error.type": type(exc).__name__})
            return
        # The same read also catches up a chat whose last message never came live (its
        # publish was lost and no later message pulled it in through a gap).
        gone, fills = self._sequencer.resync(latest)
        await self._drop(gone)
        for fill in fills:
            await self._catch_up(fill)

    async def _drop(self, chats: list[uuid.UUID]) -> None:
        """Stop receiving the chats the user is no longer a member of."""
        for chat_id in chats:
            metrics.MEMBERSHIP_DROPS.inc()
            await self._unsubscribe(chat_id)

    async def _resync(self) -> None:
        latest = await self._shared.chats.positions(self.caller)
        gone, fills = self._sequencer.resync(latest)
        await self._drop(gone)
        for fill in fills:
            await self._catch_up(fill)
