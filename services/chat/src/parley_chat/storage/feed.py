"""The tenant event feed, which is also the webhooks' outbox (docs/integrations.md "The
event feed"). Every function takes `*, tenant` where it touches one tenant's events, and
runs inside the caller's transaction without committing.

Why a reader never sees an event appear behind its cursor: a tenant's events are numbered
by its row in `event_positions`, which each writing transaction updates (`allocate`) as
its last statement and whose row lock it then holds until it commits. A transaction that
takes position N+1 therefore waits until the one that took N has committed (PostgreSQL
releases row locks only after the commit is visible to new snapshots), so positions
commit in their own order, with no gap (a rollback gives its number back, as `seq` does
per chat) and no duplicate. A read that sees position N+1 sees every position below it.
The price is that one tenant's writes commit one at a time from their feed statement on;
taking the lock last keeps that window to the commit itself. SQLite has one writer at a
time anyway, and the same statements work there.

Retention deletes whole prefixes of a tenant's feed (`purge_older_than`), so what is kept
is always one unbroken run of positions: a cursor before it is gone (410), never a hole.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from parley_chat.storage.models import FeedEvent, FeedPosition
from parley_core.db import UTCDateTime

TYPES = ("message", "message.updated", "member.joined", "member.left", "reaction")
"""docs/api.md "Tenant backends": the stream frame types the feed carries."""


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event about to be written; its `position` comes from the tenant's counter."""

    id: uuid.UUID
    type: str
    chat_id: uuid.UUID
    occurred_at: datetime
    frame: bytes
    """The stream frame as clients receive it (JSON); the event's `data`."""

    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.frame)
        return data

    def with_seq(self, seq: int) -> NewEvent:
        """A `message` event framed before its `seq` was known, with that `seq`."""
        data = self.data()
        data["message"]["seq"] = seq
        return replace(self, frame=json.dumps(data, separators=(",", ":")).encode())


# Takes the tenant's counter row lock until commit (the module docstring says why) and
# creates the row for a tenant's first event. Valid on PostgreSQL and SQLite (>= 3.35).
_ALLOCATE = sa.text("""
INSERT INTO event_positions (tenant, last_position) VALUES (:tenant, :count)
ON CONFLICT (tenant) DO UPDATE SET last_position = event_positions.last_position + :count
RETURNING last_position
""")


async def record(session: AsyncSession, events: Sequence[NewEvent], *, tenant: str) -> None:
    """Write `events` at the tenant's next positions, in order. Call it last in the
    transaction: from here to the commit, the tenant's other writers wait."""
    if not events:
        return
    # Pending ORM rows go first: flushing after would take their locks under ours.
    await session.flush()
    connection = await session.connection()
    last = (
        await connection.execute(_ALLOCATE, {"tenant": tenant, "count": len(events)})
    ).scalar_one()
    first = last - len(events) + 1
    await connection.execute(
        sa.insert(FeedEvent).values(
            [
                {
                    "tenant": tenant,
                    "position": first + offset,
                    "id": event.id,
                    "type": event.type,
                    "chat_id": event.chat_id,
                    "occurred_at": event.occurred_at,
                    "data": event.data(),
                }
                for offset, event in enumerate(events)
            ]
        )
    )


# The send's outbox row, for queries._APPEND_POSTGRES to add to its one statement: the
# frame was encoded with `seq` 0, which the statement replaces with the appended one.
APPEND_CTE = """
, feed_position AS (
    INSERT INTO event_positions (tenant, last_position)
    SELECT CAST(:tenant AS varchar), 1 FROM appended
    ON CONFLICT (tenant) DO UPDATE SET last_position = event_positions.last_position + 1
    RETURNING last_position
), feed AS (
    INSERT INTO events (tenant, position, id, type, chat_id, occurred_at, data)
    SELECT CAST(:tenant AS varchar), feed_position.last_position, CAST(:event_id AS uuid),
           'message', CAST(:chat_id AS uuid), CAST(:created_at AS timestamptz),
           jsonb_set(CAST(:event_data AS jsonb), '{message,seq}', to_jsonb(appended.seq))
    FROM feed_position, appended
)
"""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    position: int
    id: uuid.UUID
    type: str
    chat_id: uuid.UUID
    occurred_at: datetime
    data: dict[str, Any]


_COLUMNS = (
    col(FeedEvent.position),
    col(FeedEvent.id),
    col(FeedEvent.type),
    col(FeedEvent.chat_id),
    col(FeedEvent.occurred_at),
    col(FeedEvent.data),
)


async def after(
    session: AsyncSession,
    position: int,
    limit: int,
    *,
    tenant: str,
    chat_id: uuid.UUID | None = None,
) -> list[StoredEvent]:
    """Up to `limit` events after `position`, in feed (commit) order; only `chat_id`'s
    when given."""
    statement = (
        sa.select(*_COLUMNS)
        .where(col(FeedEvent.tenant) == tenant, col(FeedEvent.position) > position)
        .order_by(col(FeedEvent.position))
        .limit(limit)
    )
    if chat_id is not None:
        statement = statement.where(col(FeedEvent.chat_id) == chat_id)
    rows = (await (await session.connection()).execute(statement)).all()
    return [StoredEvent(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class Bounds:
    first_kept: int | None
    """The oldest position still kept; None when retention left none."""
    last: int
    """The tenant's last position ever given (0 before its first event)."""


async def bounds(session: AsyncSession, *, tenant: str) -> Bounds:
    connection = await session.connection()
    first = (
        await connection.execute(
            sa.select(sa.func.min(col(FeedEvent.position))).where(col(FeedEvent.tenant) == tenant)
        )
    ).scalar_one_or_none()
    last = (
        await connection.execute(
            sa.select(col(FeedPosition.last_position)).where(col(FeedPosition.tenant) == tenant)
        )
    ).scalar_one_or_none()
    return Bounds(first, last or 0)


_CUTOFF = sa.bindparam("cutoff", type_=UTCDateTime())


async def purge_older_than(session: AsyncSession, cutoff: datetime) -> int:
    """Delete, for every tenant, its feed up to its newest event older than `cutoff`: a
    prefix, so what is kept has no hole. Several replicas may run it at once; a row one
    deleted the other skips. How many events went."""
    newest_old = (
        sa.select(col(FeedEvent.tenant), sa.func.max(col(FeedEvent.position)))
        .where(col(FeedEvent.occurred_at) < _CUTOFF)
        .group_by(col(FeedEvent.tenant))
        # One order on every replica, so two purges lock rows in the same order.
        .order_by(col(FeedEvent.tenant))
    )
    connection = await session.connection()
    deleted = 0
    for tenant, upto in (await connection.execute(newest_old, {"cutoff": cutoff})).all():
        result = await connection.execute(
            sa.delete(FeedEvent).where(
                col(FeedEvent.tenant) == tenant, col(FeedEvent.position) <= upto
            )
        )
        deleted += result.rowcount
    return deleted


async def purge_tenant(session: AsyncSession, *, tenant: str) -> None:
    for model in (FeedEvent, FeedPosition):
        await session.exec(sa.delete(model).where(col(model.tenant) == tenant))
