"""Presence (docs/api.md "Presence"): who is online, away, busy or offline, shown only to
users who share a chat with them.

What a user *is* comes from their open streams: none is `offline`, one or more is the
status they chose (`online` unless they set `away` or `dnd`; the choice outlives their
streams). Counting streams across replicas is a `PresenceStore`'s job (Redis with
heartbeats, or the process's memory: realtime/presence_store.py); telling the users who
share a chat is an `Announcer`'s (realtime/presence.py, once per change and never per
chat). This module holds the rules between them and knows neither.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from parley_chat.domain.views import Caller
from parley_chat.storage import contacts as contact_queries

Status = Literal["online", "away", "dnd", "offline"]
Chosen = Literal["online", "away", "dnd"]
CHOSEN: tuple[Chosen, ...] = ("online", "away", "dnd")
MAX_IDS = 100
"""docs/api.md: `GET /v1/presence` takes at most this many `user_id`s."""


@dataclass(frozen=True, slots=True)
class PresenceView:
    user_id: uuid.UUID
    status: Status
    last_seen_at: datetime | None
    """When the user's streams last opened or closed: for `offline`, when the last one
    closed; None for a user never seen on a stream."""


@dataclass(frozen=True, slots=True)
class Change:
    """A user's shown presence changed; those who share a chat with them are told."""

    tenant: str
    presence: PresenceView


class PresenceStore(Protocol):
    """Streams per user and each user's chosen status. Each method answers the change it
    made to what the user shows, or None when what they show stayed the same."""

    async def connected(self, tenant: str, user_id: uuid.UUID) -> Change | None: ...

    async def disconnected(self, tenant: str, user_id: uuid.UUID) -> Change | None: ...

    async def choose(self, tenant: str, user_id: uuid.UUID, status: Chosen) -> Change | None: ...

    async def read(
        self, tenant: str, user_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, PresenceView]: ...


class Announcer(Protocol):
    async def announce(self, change: Change) -> None:
        """Tell every user who shares a chat with the changed one. Must not raise."""
        ...


@dataclass(frozen=True, kw_only=True)
class PresenceService:
    sessions: async_sessionmaker[AsyncSession]
    store: PresenceStore
    announcer: Announcer

    async def choose(self, caller: Caller, status: Chosen) -> None:
        """`PUT /v1/presence`: kept across reconnects; shown while a stream is open."""
        change = await self.store.choose(caller.tenant, caller.user_id, status)
        if change is not None:
            await self.announcer.announce(change)

    async def presence_of(
        self, caller: Caller, user_ids: Sequence[uuid.UUID]
    ) -> list[PresenceView]:
        """`GET /v1/presence`: the caller and those of `user_ids` who share a chat with
        the caller, in the order asked; the others are left out, never an error (so the
        answer tells a stranger nothing about who exists)."""
        wanted = list(dict.fromkeys(user_ids))
        async with self.sessions() as session:
            visible = await contact_queries.contacts_among(
                session, caller.user_id, wanted, tenant=caller.tenant
            )
        visible.add(caller.user_id)
        shown = [user_id for user_id in wanted if user_id in visible]
        found = await self.store.read(caller.tenant, shown)
        return [found[user_id] for user_id in shown if user_id in found]

    async def contacts(self, caller: Caller) -> set[uuid.UUID]:
        """Everyone who shares a chat with the caller: whose changes their streams carry."""
        async with self.sessions() as session:
            return await contact_queries.contacts(session, caller.user_id, tenant=caller.tenant)

    async def connected(self, caller: Caller) -> None:
        change = await self.store.connected(caller.tenant, caller.user_id)
        if change is not None:
            await self.announcer.announce(change)

    async def disconnected(self, caller: Caller) -> None:
        change = await self.store.disconnected(caller.tenant, caller.user_id)
        if change is not None:
            await self.announcer.announce(change)
