"""One client's stream: subscriptions that follow membership, resume from the log, gap
fill, a bounded queue per connection, typing relay, liveness and the close codes.

Everything a connection writes is written in one order: live events from the broker,
replayed pages from the database, and answers to the client's frames. A live event that
finds nothing queued and nothing being written is written at once by the fan-out
(realtime/fanout.py); everything else goes through the connection's queue and its one
dispatcher task, which runs only while the queue holds something.
What to write, drop or read back from the log is decided by its `Sequencer`
(realtime/sequencer.py), which holds no I/O; this module does the I/O around it: the
socket, the subscriptions, the queue, the timers and the tasks. That is what
makes "no gap and no duplicate" hold whatever order the broker delivers in, whichever
replica published, and whether or not a publish was lost. Why a socket closes, and with
which code, is `parley_chat.closes.CloseCode` (docs/stream.md says what clients do).

How frames are written and counted is realtime/writer.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar.exceptions import WebSocketDisconnect
from opentelemetry import trace
from sqlalchemy import exc as sa_exc

from parley_chat import metrics
from parley_chat.closes import CloseCode
from parley_chat.domain import access, errors
from parley_chat.domain.service import Caller, ChatService
from parley_chat.realtime import items, wire
from parley_chat.realtime import sequencer as sequencing
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


class Connection:
    """Costs one task while idle (the handler's, reading the client), a few timer handles
    and a small queue: the dispatcher task exists only while something waits in the queue,
    and the idle, expiry, grace and re-check clocks are the event loop's timers."""

    def __init__(
        self,
        socket: writing.Socket,
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
        self._writer = writing.Writer(socket)
        self._inbox: deque[items.Item] = deque()
        # In no chat until `serve` has read the user's chats.
        self._sequencer = sequencing.Sequencer(
            caller.user_id, {}, typing_interval=self._policy.typing_interval_seconds
        )
        self._channels: set[str] = set()
        """The broker channels this connection listens on."""
        self._ready = False
        self._dispatcher: asyncio.Task[None] | None = None
        self._chores: set[asyncio.Task[None]] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._heard = 0.0
        self._ending = False
        self.closing: CloseCode | None = None
        """Why the stream ends, when the server ends it; the handler closes with it."""

    # -- life cycle ----------------------------------------------------------------------

    async def serve(self) -> None:
        """Subscribe, announce `ready`, and stream until one side ends it."""
        me = self.caller.user_id
        loop = asyncio.get_running_loop()
        try:
            await self._listen([wire.user_channel(me)])
            first = await self._shared.chats.positions(self.caller)
            if first:
                await self._listen([wire.chat_channel(chat_id) for chat_id in first])
            # Read positions only after subscribing: whatever commits later arrives live,
            # and whatever the broker delivered early is at or below them and dropped.
            latest = await self._shared.chats.positions(self.caller)
            self._sequencer = sequencing.Sequencer(
                me,
                {chat_id: latest[chat_id] for chat_id in first if chat_id in latest},
                typing_interval=self._policy.typing_interval_seconds,
            )
            await self._writer.control(wire.ready_frame(me))
            self._ready = True
            self._heard = loop.time()
            self._timers["grace"] = loop.call_later(
                self._policy.resume_grace_seconds, self._release
            )
            self._timers["idle"] = loop.call_later(self._policy.idle_seconds, self._check_idle)
            self._timers["expiry"] = loop.call_later(
                max(0.0, self.expires_at.timestamp() - time.time()), self._end, CloseCode.EXPIRED
            )
            self._schedule_recheck()
            if self._crowded():
                self._release()
            await self._guarded(self._read_client())
        finally:
            self._ending = True
            for timer in self._timers.values():
                timer.cancel()
            tasks = [*self._chores, *([self._dispatcher] if self._dispatcher else [])]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self._shared.channels.unlisten(self, list(self._channels))

    def end(self, close: CloseCode) -> None:
        """End the stream from outside (a gRPC server stopping: docs/grpc.md)."""
        self._end(close)

    def push(self, frame: bytes) -> None:
        """A frame that is no chat's (presence), written after what is queued."""
        self._enqueue(items.Reply(frame))

    def resync(self) -> None:
        """The broker lost events (it was down): catch every chat up from the log."""
        self._enqueue(items.Resync())

    async def _guarded(self, work: Awaitable[None]) -> None:
        """Run `work`; whatever ends it ends the stream, with the close code it calls for."""
        try:
            await work
        except (WebSocketDisconnect, asyncio.CancelledError):
            pass
        except sa_exc.SQLAlchemyError as exc:
            # The log could not be read (a replay, a gap fill): the client resumes later.
            logger.warning("stream lost the database", extra={"error.type": type(exc).__name__})
            self._end(CloseCode.DATABASE_UNAVAILABLE)
        except DependencyUnavailable:
            # The broker would not take a chat joined meanwhile: the client resumes later.
            logger.warning("stream lost the broker")
            self._end(CloseCode.BROKER_UNAVAILABLE)
        except Exception:
            logger.exception("stream task failed", extra={"user.id": str(self.caller.user_id)})
            self._end(CloseCode.INTERNAL_ERROR)

    def _end(self, close: CloseCode) -> None:
        """End the stream from anywhere: stop the dispatcher and close the socket, which
        ends the handler's read of the client."""
        self.closing = self.closing or close
        if self._ending:
            return
        self._ending = True
        dispatcher = self._dispatcher
        if dispatcher is not None and dispatcher is not asyncio.current_task():
            dispatcher.cancel()
        self._chore(self._close())

    async def _close(self) -> None:
        close = self.closing or CloseCode.INTERNAL_ERROR
        with contextlib.suppress(Exception):
            await self.socket.close(close.code, close.reason)

    def _chore(self, work: Coroutine[Any, Any, None]) -> None:
        """A short task of its own (a re-check, a close), kept until it is done."""
        task = asyncio.get_running_loop().create_task(work)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    async def _listen(self, channels: list[str]) -> None:
        self._channels.update(channels)
        await self._shared.channels.listen(self, channels)

    async def _unlisten(self, channels: list[str]) -> None:
        self._channels.difference_update(channels)
        await self._shared.channels.unlisten(self, channels)

    # -- the queue -----------------------------------------------------------------------

    def _crowded(self) -> bool:
        return len(self._inbox) >= self._policy.queue_size // 2

    def _enqueue(self, item: items.Item) -> None:
        if self._ending:
            return
        if len(self._inbox) >= self._policy.queue_size:
            self._end(CloseCode.SLOW_CONSUMER)
            return
        self._inbox.append(item)
        if self._ready and self._crowded():
            self._release()  # stop holding live events: the queue is the limit
        self._kick()

    def _kick(self) -> None:
        """Start the dispatcher when something waits for it and it is not running."""
        if (
            self._dispatcher is None
            and self._inbox
            and not self._sequencer.holding
            and not self._ending
        ):
            self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch())

    def _release(self) -> None:
        """Stop holding live events (sequencer.py says why they wait); a resume sent as
        the client's first frame goes ahead of every event that queued up meanwhile."""
        if not self._ready or not self._sequencer.holding:
            return
        grace = self._timers.pop("grace", None)
        if grace is not None:
            grace.cancel()
        early = self._sequencer.release()
        if early is not None:
            self._inbox.appendleft(items.Resume(early))
        self._kick()

    # -- the producers -------------------------------------------------------------------

    def offer(self, event: wire.Event) -> bool:
        """A live event from the broker (realtime/fanout.py): True when written at once.

        At once only when nothing is queued or being written for this connection, so the
        order is the one the dispatcher would have kept; the sequencer decides as it would
        there (the queue is empty, so not crowded)."""
        if self._dispatcher is not None or self._inbox or self._sequencer.holding:
            self._enqueue(items.Live(event))
            return False
        verdict = self._sequencer.live(event.header)
        if verdict.fill is None and verdict.subscribe is None and verdict.leave is None:
            if not verdict.write:
                return False
            if self._writer.write_now(event.socket_frame):
                return True
            self._enqueue(items.Decided(event, sequencing.WRITE))
            return False
        self._enqueue(items.Decided(event, verdict))
        return False

    async def _read_client(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            text = await self.socket.receive_data("text")
            self._heard = loop.time()
            try:
                frame = wire.read_client_frame(text)
            except wire.BadFrame as exc:
                self._release()
                self._enqueue(items.Reply(wire.error_frame(str(exc))))
                continue
            if self._sequencer.holding:
                cursors = frame.cursors if isinstance(frame, wire.Resume) else None
                taken = self._sequencer.take_early(cursors)
                self._release()
                if taken:
                    continue
            if isinstance(frame, wire.Ping):
                self._enqueue(items.Reply(wire.PONG))
            elif isinstance(frame, wire.Typing):
                await self._typing(frame.chat_id)
            else:
                self._enqueue(items.Resume(frame.cursors))

    def _check_idle(self) -> None:
        loop = asyncio.get_running_loop()
        left = self._heard + self._policy.idle_seconds - loop.time()
        if left <= 0:
            self._end(CloseCode.IDLE)
        else:
            self._timers["idle"] = loop.call_later(left, self._check_idle)

    def _schedule_recheck(self) -> None:
        # Jittered, so connections opened together do not query together for ever.
        delay = self._policy.recheck_seconds * random.uniform(0.8, 1.2)
        self._timers["recheck"] = asyncio.get_running_loop().call_later(
            delay, lambda: self._chore(self._recheck_guarded())
        )

    async def _recheck_guarded(self) -> None:
        await self._guarded(self._recheck())

    async def _recheck(self) -> None:
        # A lost `member.left` (a publish that timed out or was skipped) must not leave a
        # removed member reading the chat: the database, not the broker, says who is in.
        if self._standing is not None:
            try:
                standing = await self._standing()
            except DependencyUnavailable:
                standing = access.Standing.ACTIVE  # auth is down: keep serving
            if standing is not access.Standing.ACTIVE:
                gone = standing is access.Standing.GONE
                self._end(CloseCode.EXPIRED if gone else CloseCode.SUSPENDED)
                return
        self._enqueue(items.Recheck())
        self._schedule_recheck()

    async def _typing(self, chat_id: uuid.UUID) -> None:
        verdict = self._sequencer.typing(chat_id, time.monotonic())
        if verdict is sequencing.TypingVerdict.NOT_A_MEMBER:
            self._enqueue(items.Reply(wire.error_frame("not a member of that chat")))
            return
        if verdict is sequencing.TypingVerdict.TOO_SOON:
            return  # relayed at most once per interval; the rest are dropped
        try:
            await self._shared.chats.count_typing(self.caller)
        except errors.LimitReached as exc:
            # Dropped, and said so; the stream stays open.
            self._enqueue(items.Reply(wire.error_frame(exc.detail)))
            return
        header = wire.Header("typing", chat_id, user_id=self.caller.user_id)
        frame = wire.typing_frame(chat_id, self.caller.user_id, self.caller.username)
        await self._shared.publisher.send(
            wire.envelope(header, frame), [wire.chat_channel(chat_id)]
        )

    # -- the one writer ------------------------------------------------------------------

    async def _dispatch(self) -> None:
        try:
            await self._guarded(self._drain())
        finally:
            self._dispatcher = None
        self._kick()  # anything queued after the drain ended, unless the stream is ending

    async def _drain(self) -> None:
        while self._inbox:
            match self._inbox.popleft():
                case items.Live(event):
                    verdict = self._sequencer.live(event.header, crowded=self._crowded())
                    await self._act(event, verdict)
                case items.Decided(event, verdict):
                    await self._act(event, verdict)
                case items.Reply(frame):
                    await self._writer.control(frame)
                case items.Resume(cursors):
                    await self._resume(cursors)
                case items.Resync():
                    await self._resync()
                case items.Recheck():
                    await self._recheck_membership()

    async def _act(self, event: wire.Event, verdict: sequencing.Verdict) -> None:
        if verdict.subscribe is not None:
            await self._listen([wire.chat_channel(verdict.subscribe)])
        if verdict.write:
            await self._writer.live(event)
        if verdict.fill is not None:
            await self._catch_up(verdict.fill)
        if verdict.leave is not None:
            await self._unlisten([wire.chat_channel(verdict.leave)])
        if event.header.kind.startswith("member.") and self._shared.presence is not None:
            self._shared.presence.membership_changed(self)

    async def _leave(self, chat_id: uuid.UUID) -> None:
        self._sequencer.leave(chat_id)
        await self._unlisten([wire.chat_channel(chat_id)])

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
            await self._unlisten([wire.chat_channel(chat_id)])

    async def _resync(self) -> None:
        latest = await self._shared.chats.positions(self.caller)
        gone, fills = self._sequencer.resync(latest)
        await self._drop(gone)
        for fill in fills:
            await self._catch_up(fill)
