"""A tenant's event feed (docs/integrations.md "The event feed"): what its backend reads
with a server key, and what webhooks deliver. The events themselves are written by the
changes that make them, in their own transactions (`ServiceBase._record`,
storage/feed.py); this module numbers them once committed (`Sealer`, PostgreSQL), reads
them, long-polls for new ones and ages them out.

A cursor is opaque to clients: the tenant and a feed position, base64url-encoded. One of
another tenant or one that is not a cursor is 422; one from before what retention kept
is 410, since the events after it are no longer all there.

`offline_member_ids` of a `message` event is computed when the event is read (or
delivered), not when it is written: the send path stays one statement with no call to
the presence store, and "who has no open stream" is most useful as of delivery, when a
tenant decides whom to push-notify. A re-read may therefore list other users; while the
presence store does not answer, every member is listed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from parley_chat import metrics
from parley_chat.domain.presence import PresenceView
from parley_chat.storage import feed, queries
from parley_core.db import utcnow
from parley_core.errors import ApiError, DependencyUnavailable, InvalidField

logger = logging.getLogger(__name__)

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_WAIT_SECONDS = 30.0
"""docs/api.md: `wait` long-polls up to 30 s."""
POLL_SECONDS = 1.0
"""How often a long poll looks at the table anyway, should a wake-up be lost."""
SEAL_DELAY_SECONDS = 0.03
"""How long a sealer woken by a local write waits for more writes to number together."""
SWEEP_SECONDS = 1.0
"""How often a sealer numbers every tenant's committed events anyway: those of writers on
replicas that crashed before their sealer ran, or whose sealing failed."""
SEAL_BATCH = 1000
"""The most events one sealer transaction numbers."""


class CursorExpired(
    ApiError,
    status_code=410,
    detail="cursor is older than the events kept; start again without `after`",
):
    """docs/api.md: a cursor from before the retention window."""


class Presence(Protocol):
    """Who has an open stream (realtime/presence_store.py)."""

    async def read(
        self, tenant: str, user_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, PresenceView]: ...


Wait = Callable[[float], Awaitable[None]]
"""Returns when the feed may have grown since the last return, or after the timeout."""


class Wakeups(Protocol):
    """Tells a long poll that its tenant's feed may have grown (realtime/feed.py)."""

    def listening(self, tenant: str) -> AbstractAsyncContextManager[Wait]:
        """Listen for the tenant's new events from now on: a long poll listens before
        it reads, so an event committed between its read and its wait still wakes it."""
        ...


Announce = Callable[[str], Awaitable[None]]
"""Tells the tenant's long polls, on every replica, that its feed grew. Must not raise."""


class Sealer:
    """Numbers committed feed events (storage/feed.py `seal`, PostgreSQL): right after this
    process's writes (`wake`, coalesced for `SEAL_DELAY_SECONDS`), before every read of
    the feed, and every `SWEEP_SECONDS` for all tenants. Any number of sealers, on any
    number of replicas, may run at once: a tenant's take turns on its sealer lock."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        announce: Announce,
        *,
        delay_seconds: float = SEAL_DELAY_SECONDS,
        sweep_seconds: float = SWEEP_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._announce = announce
        self._delay = delay_seconds
        self._sweep = sweep_seconds
        self._pending: set[str] = set()
        self._woken = asyncio.Event()

    def wake(self, tenant: str) -> None:
        """The tenant's events may have committed: number them soon (never blocks)."""
        self._pending.add(tenant)
        self._woken.set()

    async def seal(self, *, tenant: str) -> int:
        """Number the tenant's committed events now, then wake its long polls; how many."""
        total = 0
        while True:
            async with self._sessions() as session:
                if not await feed.sealable(session, tenant=tenant):
                    break
                await session.commit()
                async with session.begin():
                    numbered = await feed.seal(session, tenant=tenant, limit=SEAL_BATCH)
            total += numbered
            if numbered < SEAL_BATCH:
                break
        if total:
            await self._announce(tenant)
        return total

    async def sweep(self) -> int:
        """Number every tenant's committed events, and report what is left unnumbered."""
        async with self._sessions() as session:
            tenants = await feed.unnumbered_tenants(session)
        total = 0
        for tenant in tenants:
            total += await self.seal(tenant=tenant)
        async with self._sessions() as session:
            left = await feed.backlog(session)
        metrics.FEED_UNNUMBERED.set(left.events)
        age = (utcnow() - left.oldest).total_seconds() if left.oldest is not None else 0.0
        metrics.FEED_UNNUMBERED_AGE.set(max(age, 0.0))
        return total

    async def running(self) -> None:
        """Seal on wake-ups and sweep, for the app's lifetime."""
        next_sweep = time.monotonic()
        while True:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), max(next_sweep - time.monotonic(), 0.0))
            try:
                if self._woken.is_set():
                    await asyncio.sleep(self._delay)  # let more writes join this round
                    self._woken.clear()
                    tenants, self._pending = sorted(self._pending), set()
                    for tenant in tenants:
                        await self.seal(tenant=tenant)
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + self._sweep
                    await self.sweep()
            except Exception as exc:  # a database hiccup must not end the loop
                logger.warning("feed sealing failed", extra={"error.type": type(exc).__name__})
                await asyncio.sleep(self._delay)


@dataclass(frozen=True, slots=True)
class EventView:
    id: uuid.UUID
    cursor: str
    type: str
    tenant: str
    chat_id: uuid.UUID
    occurred_at: datetime
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FeedPage:
    events: list[EventView]
    cursor: str
    """Where the next read starts: after the last event here (or the same cursor)."""


def cursor_of(tenant: str, position: int) -> str:
    return base64.urlsafe_b64encode(f"{tenant}/{position}".encode()).decode().rstrip("=")


def read_cursor(cursor: str, *, tenant: str) -> int:
    """The position `cursor` names in `tenant`'s feed; 422 for anything else."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        owner, _, position = text.rpartition("/")
        if owner == tenant and position.isdigit() and len(position) < 19:
            return int(position)
    except (binascii.Error, ValueError):
        pass
    raise InvalidField("after", "not a cursor of this tenant's feed", source="query")


@dataclass(frozen=True, kw_only=True)
class Feed:
    sessions: async_sessionmaker[AsyncSession]
    presence: Presence
    wakeups: Wakeups
    retention_seconds: float
    sealer: Sealer | None = None
    """Numbers committed events before each read (PostgreSQL); None where writers
    number their own (SQLite)."""

    async def read(
        self, *, tenant: str, after: str | None, limit: int, wait: float = 0.0
    ) -> FeedPage:
        """Up to `limit` events after the cursor `after` (from the oldest kept without
        one), in commit order; with `wait`, up to that long for the first new one."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidField("limit", f"from 1 to {MAX_LIMIT}", source="query")
        if not 0 <= wait <= MAX_WAIT_SECONDS:
            raise InvalidField("wait", f"from 0 to {MAX_WAIT_SECONDS:g} seconds", source="query")
        position = read_cursor(after, tenant=tenant) if after is not None else None
        if wait <= 0:
            return await self._page(position, limit, tenant=tenant)
        deadline = time.monotonic() + wait
        async with self.wakeups.listening(tenant) as woken:
            while True:
                page = await self._page(position, limit, tenant=tenant)
                remaining = deadline - time.monotonic()
                if page.events or remaining <= 0:
                    return page
                position = read_cursor(page.cursor, tenant=tenant)
                await woken(min(remaining, POLL_SECONDS))

    async def _page(self, position: int | None, limit: int, *, tenant: str) -> FeedPage:
        if self.sealer is not None:
            # A read shows what committed before it, even before the sealer's next round.
            await self.sealer.seal(tenant=tenant)
        async with self.sessions() as session:
            start = await _start(session, position, tenant=tenant)
            stored = await feed.after(session, start, limit, tenant=tenant)
            views = await self._views(session, stored, tenant=tenant)
        last = stored[-1].position if stored else start
        return FeedPage(views, cursor_of(tenant, last))

    async def events_after(
        self,
        position: int,
        limit: int,
        *,
        tenant: str,
        chat_id: uuid.UUID | None = None,
    ) -> list[EventView]:
        """The events after `position` as the feed shows them (`offline_member_ids`
        computed now): for a deliverer, such as webhooks, that keeps its own position."""
        if self.sealer is not None:
            await self.sealer.seal(tenant=tenant)
        async with self.sessions() as session:
            stored = await feed.after(session, position, limit, tenant=tenant, chat_id=chat_id)
            return await self._views(session, stored, tenant=tenant)

    async def _views(
        self, session: AsyncSession, stored: list[feed.StoredEvent], *, tenant: str
    ) -> list[EventView]:
        offline = await self._offline(session, stored, tenant=tenant)
        views = []
        for event in stored:
            data = event.data
            if event.type == "message":
                data = {**data, "offline_member_ids": offline.get(event.chat_id, [])}
            views.append(
                EventView(
                    id=event.id,
                    cursor=cursor_of(tenant, event.position),
                    type=event.type,
                    tenant=tenant,
                    chat_id=event.chat_id,
                    occurred_at=event.occurred_at,
                    data=data,
                )
            )
        return views

    async def _offline(
        self, session: AsyncSession, stored: list[feed.StoredEvent], *, tenant: str
    ) -> dict[uuid.UUID, list[str]]:
        """Per chat with a `message` event, its members with no open stream, now."""
        chat_ids = list({event.chat_id for event in stored if event.type == "message"})
        if not chat_ids:
            return {}
        members = await queries.members_of(session, chat_ids, tenant=tenant)
        user_ids = list({member.user_id for found in members.values() for member in found})
        try:
            shown = await self.presence.read(tenant, user_ids) if user_ids else {}
            online = {user_id for user_id, view in shown.items() if view.status != "offline"}
        except DependencyUnavailable:
            # Presence unknown (Redis down): list every member, since a tenant that sends
            # one push too many does less harm than one that misses a person.
            logger.warning("presence unavailable; every member counts as offline")
            online = set()
        return {
            chat_id: [
                str(member.user_id)
                for member in members.get(chat_id, [])
                if member.user_id not in online
            ]
            for chat_id in chat_ids
        }

    async def purge_expired(self) -> int:
        """Delete the events older than the retention window; safe on every replica."""
        cutoff = utcnow() - timedelta(seconds=self.retention_seconds)
        async with self.sessions() as session, session.begin():
            deleted = await feed.purge_older_than(session, cutoff)
        if deleted:
            logger.info("feed events past retention deleted", extra={"events": deleted})
        return deleted


async def _start(session: AsyncSession, position: int | None, *, tenant: str) -> int:
    """The position to read after: the cursor's, or just before the oldest kept event.
    410 when events after the cursor were deleted; 422 for a position never given."""
    bounds = await feed.bounds(session, tenant=tenant)
    first_kept = bounds.first_kept if bounds.first_kept is not None else bounds.last + 1
    if position is None:
        return first_kept - 1
    if position > bounds.last:
        raise InvalidField("after", "not a cursor of this tenant's feed", source="query")
    if position < first_kept - 1:
        raise CursorExpired()
    return position
