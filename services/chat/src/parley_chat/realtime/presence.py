"""Presence on the stream (docs/stream.md "Presence"): counting each replica's streams,
and carrying `presence` frames to the users who share a chat with the one who changed.

**Cost.** A change is published once, on the changed user's own presence channel
(`parley:presence:<user id>`), however many chats they are in: a user in 500 chats who
goes away is one publish through Redis, not 500 times the members. Each replica keeps a
local index of which of its streams watch which users (everyone who shares a chat with a
stream's user, read from the database when the stream opens and again when its chats
change) and listens, once per replica, to the presence channels of the users its streams
watch. A frame that arrives is written to the local streams that watch its user, and to
no other; a replica with no stream watching a user never receives that user's changes.

Per stream the cost is one set of the user ids it watches (held here, not in the
connection) and one slot in each watched user's set of watchers.

**Across replicas** (Redis): each replica heartbeats every `PARLEY_PRESENCE_HEARTBEAT_SECONDS`,
promising to heartbeat again within `PARLEY_PRESENCE_TTL_SECONDS`, and sweeps for replicas
that broke that promise: their streams are taken back and the users left with none go
offline, announced by the sweeper (realtime/presence_store.py). A replica killed with
SIGKILL thus takes its users offline within TTL + one heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec
from sqlalchemy import exc as sa_exc

from parley_chat.domain.presence import Change, PresenceService
from parley_chat.domain.views import Caller
from parley_chat.realtime.broker import ChannelsPublisher, ResilientChannels
from parley_chat.realtime.presence_store import RedisPresence
from parley_core.errors import DependencyUnavailable

logger = logging.getLogger(__name__)

_CHANNEL_PREFIX = "parley:presence:"


def presence_channel(user_id: uuid.UUID) -> str:
    return f"{_CHANNEL_PREFIX}{user_id}"


class _PresenceFrame(msgspec.Struct):
    user_id: uuid.UUID
    status: str
    last_seen_at: str | None
    type: str = "presence"


_encode = msgspec.json.Encoder().encode


def presence_frame(change: Change) -> bytes:
    seen = change.presence.last_seen_at
    return _encode(
        _PresenceFrame(
            change.presence.user_id,
            change.presence.status,
            seen.isoformat().replace("+00:00", "Z") if seen else None,
        )
    )


def _user_of(channel: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(channel.removeprefix(_CHANNEL_PREFIX))
    except ValueError:
        return None


class ChannelAnnouncer:
    """The domain's `Announcer`: one publish per change, on the user's presence channel."""

    def __init__(self, publisher: ChannelsPublisher) -> None:
        self._publisher = publisher

    async def announce(self, change: Change) -> None:
        # Never fails: a lost presence frame is corrected by the next change or a GET.
        await self._publisher.send(
            presence_frame(change), [presence_channel(change.presence.user_id)]
        )


class Watcher(Protocol):
    """A stream, as presence sees it (realtime/connection.py)."""

    caller: Caller

    def push(self, frame: bytes) -> None:
        """Write `frame` to the client after what is already queued for it."""
        ...


@dataclass(frozen=True, slots=True)
class PresencePolicy:
    heartbeat_seconds: float = 10.0
    """How often a replica says it lives, and sweeps for replicas that stopped saying so."""
    ttl_seconds: float = 30.0
    """How long a replica that stops heartbeating still counts as alive."""


class PresenceHub:
    """The replica's streams, as presence sees them: who watches whom, and how many
    streams each user has open here."""

    def __init__(
        self,
        service: PresenceService,
        channels: ResilientChannels,
        announcer: ChannelAnnouncer,
        *,
        redis_store: RedisPresence | None,
        policy: PresencePolicy,
    ) -> None:
        self._service = service
        self._channels = channels
        self._announcer = announcer
        self._redis = redis_store
        self._policy = policy
        self._watching: dict[Watcher, frozenset[uuid.UUID]] = {}
        self._watchers: dict[uuid.UUID, set[Watcher]] = {}
        self._streams: Counter[tuple[str, uuid.UUID]] = Counter()
        """Open streams of each user on this replica: what `sync` writes back."""
        self._refreshing: set[Watcher] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._subscribing = asyncio.Lock()
        self._out_of_step = False
        """A count was not written to Redis (it did not answer): the next heartbeat
        writes this replica's counts back whole."""

    # -- streams ---------------------------------------------------------------------------

    async def attach(self, watcher: Watcher) -> None:
        """A stream opened: its user may come online, and it starts watching its contacts."""
        caller = watcher.caller
        self._streams[(caller.tenant, caller.user_id)] += 1
        self._watching[watcher] = frozenset()
        await self._quietly(self._service.connected(caller), "connect")
        await self.refresh(watcher)

    async def detach(self, watcher: Watcher) -> None:
        """A stream closed: it stops watching, and its user may go offline."""
        caller = watcher.caller
        await self._watch(watcher, frozenset())
        self._watching.pop(watcher, None)
        key = (caller.tenant, caller.user_id)
        self._streams[key] -= 1
        if self._streams[key] <= 0:
            del self._streams[key]
        await self._quietly(self._service.disconnected(caller), "disconnect")

    async def refresh(self, watcher: Watcher) -> None:
        """Re-read whom the stream's user shares a chat with."""
        try:
            contacts = await self._service.contacts(watcher.caller)
        except sa_exc.SQLAlchemyError as exc:
            logger.warning("presence contacts unread", extra={"error.type": type(exc).__name__})
            return
        if watcher in self._watching:  # not closed meanwhile
            await self._watch(watcher, frozenset(contacts))

    def membership_changed(self, watcher: Watcher) -> None:
        """The stream's chats, or their members, changed: refresh once, soon."""
        if watcher in self._refreshing:
            return
        self._refreshing.add(watcher)

        async def run() -> None:
            try:
                await asyncio.sleep(0.2)  # a burst of joins is one refresh
                if watcher in self._watching:
                    before = self._watching[watcher]
                    await self.refresh(watcher)
                    await self._tell_current(watcher, self._watching.get(watcher, before) - before)
            finally:
                self._refreshing.discard(watcher)

        self._spawn(run())

    async def _tell_current(self, watcher: Watcher, user_ids: frozenset[uuid.UUID]) -> None:
        """Push what `user_ids` show now to a stream that has just started watching them.
        Read after subscribing, so a change made while the chat was being joined, before
        the subscription, is not lost until that user's next change."""
        if not user_ids:
            return
        tenant = watcher.caller.tenant
        try:
            found = await self._service.store.read(tenant, list(user_ids))
        except DependencyUnavailable:
            return  # the next change, or a GET, says it
        for view in found.values():
            watcher.push(presence_frame(Change(tenant, view)))

    async def _watch(self, watcher: Watcher, contacts: frozenset[uuid.UUID]) -> None:
        before = self._watching.get(watcher, frozenset())
        self._watching[watcher] = contacts
        first, last = [], []
        for user_id in contacts - before:
            watchers = self._watchers.setdefault(user_id, set())
            if not watchers:
                first.append(presence_channel(user_id))
            watchers.add(watcher)
        for user_id in before - contacts:
            watchers = self._watchers.get(user_id, set())
            watchers.discard(watcher)
            if not watchers:
                self._watchers.pop(user_id, None)
                last.append(presence_channel(user_id))
        if not first and not last:
            return
        # One at a time, each deciding from the index as it is then: a channel one stream
        # drops while another takes it up stays listened to, whatever order the two
        # streams' calls reach the broker in.
        async with self._subscribing:
            wanted = [c for c in first if _user_of(c) in self._watchers]
            unwanted = [c for c in last if _user_of(c) not in self._watchers]
            try:
                if wanted:
                    await self._channels.watch(wanted, self._deliver)
                if unwanted:
                    await self._channels.unwatch(unwanted)
            except Exception as exc:  # the broker: frames are lost until it is back
                logger.warning(
                    "presence subscription failed", extra={"error.type": type(exc).__name__}
                )

    def _deliver(self, channel: str, payload: bytes) -> None:
        user_id = _user_of(channel)
        for watcher in list(self._watchers.get(user_id, ()) if user_id else ()):
            watcher.push(payload)

    # -- the replica: heartbeat and sweep --------------------------------------------------

    @asynccontextmanager
    async def running(self, _: Any = None) -> AsyncIterator[None]:
        """The app's lifespan: heartbeats and sweeps while the replica serves."""
        task = None
        if self._redis is not None:
            await self._beat()
            task = asyncio.create_task(self._heartbeats())
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for pending in list(self._tasks):
                pending.cancel()
            if self._redis is not None:
                # Whatever streams are left are taken back now, not a TTL later.
                with contextlib.suppress(DependencyUnavailable):
                    await self._announce_all(await self._redis.leave())

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self._policy.heartbeat_seconds * random.uniform(0.9, 1.1))
            await self._beat()

    async def _beat(self) -> None:
        assert self._redis is not None
        try:
            known = await self._redis.heartbeat()
            if not known or self._out_of_step:
                self._out_of_step = False
                await self._announce_all(await self._redis.sync(dict(self._streams)))
            await self._announce_all(await self._redis.sweep())
        except DependencyUnavailable:
            logger.warning("presence heartbeat failed: redis unavailable")

    async def _announce_all(self, changes: list[Change]) -> None:
        for change in changes:
            await self._announcer.announce(change)

    async def _quietly(self, work: Awaitable[None], what: str) -> None:
        # Presence must never cost a stream: with Redis down the stream still serves.
        try:
            await work
        except DependencyUnavailable:
            self._out_of_step = True
            logger.warning("presence %s not recorded: redis unavailable", what)

    def _spawn(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            with contextlib.suppress(asyncio.CancelledError):
                await work

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
