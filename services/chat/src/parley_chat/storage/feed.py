"""The tenant event feed, which is also the webhooks' outbox (docs/integrations.md "The
event feed"). Every function takes `*, tenant` where it touches one tenant's events, and
runs inside the caller's transaction without committing.

Numbered after commit. On PostgreSQL a writer inserts its events with no `position` (the
send path in the same statement as the message, `APPEND_CTE`) and an insertion key
(`seq_id`, from a sequence, taken when the row is inserted). It touches no shared row, so
one tenant's writers no longer wait for each other. A sealer (`seal`, run by
domain/feed.py's `Sealer`) then numbers committed events, in a transaction of its own:

1. It takes the tenant's sealer lock (a transaction-level advisory lock), so sealers of
   one tenant, on any replica, run one after the other. Under READ COMMITTED its next
   statements take new snapshots, which see all that the previous sealer committed.
2. In one statement it reads the tenant's `last_position` (`event_positions`),
   numbers the unnumbered rows its snapshot sees, which are exactly the committed ones,
   in `seq_id` order, from `last_position + 1` on, and moves `last_position` to the last
   number given; then it commits.

Why a reader never sees an event appear behind its cursor: a position exists only once a
sealer committed it, and every sealer gives numbers above all those committed before it
(it read `last_position` under the lock the previous one held until its commit was
visible; a lock, not the counter row, since a tenant's first sealer has no row to lock).
One sealer's numbers appear together, at its commit. So a reader that sees
position N sees every position below N, and whatever is numbered later, however long ago
its writer started, gets a number above anything a reader has seen: no gap, no
duplicate, nothing behind a cursor. A writer's transaction that commits after a sealer's
snapshot was taken is simply left for the next sealer; a rolled-back one leaves no row
and so takes no number. The rows of one transaction commit together and are numbered
in the order it inserted them.

The order is the commit order as far as anyone can observe it: a transaction that waited
for another's lock (two sends to one chat wait on the chat's row) inserts its events
after that one committed, so with a later `seq_id`, and a sealer that sees the later one
sees the earlier one too: a chat's messages stay in `seq` order. `record` must therefore
come after a transaction's other writes. Events of transactions that never waited for
each other may be numbered in either order.

Why not the writer's transaction id with the snapshot's xmin, numbering only what is
older than every running transaction: that order is the one in which transactions
started writing, not the one in which they committed, and so would break the order above
(the later of two sends to one chat may have taken its id first); and one long
transaction anywhere on the database server would hold every tenant's numbering back.
The order is safe without it: what commits late is numbered late.

SQLite has one writer at a time: there a writer still numbers its events itself, taking
the next numbers from its tenant's row (`_ALLOCATE`) in its own transaction; the database
lock orders them, and no sealer runs.

Retention deletes whole prefixes of a tenant's numbered feed (`purge_older_than`), so what
is kept is always one unbroken run of positions: a cursor before it is gone (410), never a
hole.
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
    """An event about to be written; its `position` comes later (the module docstring)."""

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


# SQLite's numbering at insert time: takes the next positions and creates the row for a
# tenant's first event (SQLite >= 3.35). Also the sealer's counter on PostgreSQL.
_ALLOCATE = sa.text("""
INSERT INTO event_positions (tenant, last_position) VALUES (:tenant, :count)
ON CONFLICT (tenant) DO UPDATE SET last_position = event_positions.last_position + :count
RETURNING last_position
""")


async def record(session: AsyncSession, events: Sequence[NewEvent], *, tenant: str) -> None:
    """Write `events` to the tenant's feed, in order, after the transaction's other
    writes. On PostgreSQL they are numbered once committed (`seal`); on SQLite they take
    the tenant's next positions now."""
    if not events:
        return
    # Pending ORM rows go first, with whatever locks they wait for: the events' insertion
    # key must come after them (the module docstring, on the order).
    await session.flush()
    connection = await session.connection()
    rows: list[dict[str, Any]] = [
        {
            "tenant": tenant,
            "id": event.id,
            "type": event.type,
            "chat_id": event.chat_id,
            "occurred_at": event.occurred_at,
            "data": event.data(),
        }
        for event in events
    ]
    if connection.dialect.name != "postgresql":
        last = (
            await connection.execute(_ALLOCATE, {"tenant": tenant, "count": len(events)})
        ).scalar_one()
        first = last - len(events) + 1
        rows = [{**row, "position": first + offset} for offset, row in enumerate(rows)]
    await connection.execute(sa.insert(FeedEvent).values(rows))


# The send's outbox row, for queries._APPEND_POSTGRES to add to its one statement: the
# frame was encoded with `seq` 0, which the statement replaces with the appended one. No
# position: the sealer gives it once the statement has committed.
APPEND_CTE = """
, feed AS (
    INSERT INTO events (tenant, id, type, chat_id, occurred_at, data)
    SELECT CAST(:tenant AS varchar), CAST(:event_id AS uuid), 'message',
           CAST(:chat_id AS uuid), CAST(:created_at AS timestamptz),
           jsonb_set(CAST(:event_data AS jsonb), '{message,seq}', to_jsonb(appended.seq))
    FROM appended
)
"""

_HAS_UNNUMBERED = sa.text(
    "SELECT EXISTS (SELECT 1 FROM events WHERE tenant = :tenant AND position IS NULL)"
)

# Sealers of one tenant, and its purge, take turns on this lock (any replica, same
# database); a transaction lock, so it goes at commit, once the commit is visible.
_LOCK_TENANT = sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:lock, 0))")

# One statement, which names `events` before `event_positions`: the order in which
# everything else that takes both (a reader's `bounds`, a tenant's purge, TRUNCATE in the
# tests) locks them, so none of them waits for the other in a circle.
_NUMBER = sa.text("""
WITH ready AS (
    SELECT seq_id, row_number() OVER (ORDER BY seq_id) AS n FROM (
        SELECT seq_id FROM events
        WHERE tenant = :tenant AND position IS NULL
        ORDER BY seq_id
        LIMIT :limit
    ) AS oldest
), last AS (
    SELECT coalesce(max(last_position), 0) AS position FROM event_positions
    WHERE tenant = :tenant
), numbered AS (
    UPDATE events SET position = last.position + ready.n
    FROM ready, last WHERE events.seq_id = ready.seq_id
    RETURNING events.position
)
INSERT INTO event_positions (tenant, last_position)
SELECT CAST(:tenant AS varchar), max(position) FROM numbered HAVING count(*) > 0
ON CONFLICT (tenant) DO UPDATE SET last_position = excluded.last_position
RETURNING (SELECT count(*) FROM numbered)
""")


async def _lock(session: AsyncSession, *, tenant: str) -> None:
    connection = await session.connection()
    await connection.execute(_LOCK_TENANT, {"lock": f"parley:feed:{tenant}"})


async def sealable(session: AsyncSession, *, tenant: str) -> bool:
    """Whether the tenant has committed events `seal` would number now; takes no lock."""
    connection = await session.connection()
    return bool((await connection.execute(_HAS_UNNUMBERED, {"tenant": tenant})).scalar_one())


async def seal(session: AsyncSession, *, tenant: str, limit: int) -> int:
    """Number up to `limit` of the tenant's committed, unnumbered events, oldest insert
    first, after its last position (PostgreSQL; the module docstring says how and why).
    The tenant's sealer lock is held until the caller's transaction ends: commit right
    after. How many were numbered."""
    await _lock(session, tenant=tenant)
    connection = await session.connection()
    numbered = (
        await connection.execute(_NUMBER, {"tenant": tenant, "limit": limit})
    ).scalar_one_or_none()
    return numbered or 0


async def unnumbered_tenants(session: AsyncSession) -> list[str]:
    """The tenants with events still to number, in one order on every replica."""
    connection = await session.connection()
    statement = (
        sa.select(col(FeedEvent.tenant))
        .where(col(FeedEvent.position).is_(None))
        .distinct()
        .order_by(col(FeedEvent.tenant))
    )
    return list((await connection.execute(statement)).scalars())


@dataclass(frozen=True, slots=True)
class Backlog:
    events: int
    """Committed events that have no position yet."""
    oldest: datetime | None
    """When the oldest of them happened."""


async def backlog(session: AsyncSession) -> Backlog:
    connection = await session.connection()
    statement = sa.select(sa.func.count(), sa.func.min(col(FeedEvent.occurred_at))).where(
        col(FeedEvent.position).is_(None)
    )
    count, oldest = (await connection.execute(statement)).one()
    return Backlog(int(count), oldest)


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
    return [
        StoredEvent(position, event_id, kind, chat, at, data)
        for position, event_id, kind, chat, at, data in rows
        if position is not None  # always, by the WHERE clause
    ]


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
    if (await session.connection()).dialect.name == "postgresql":
        # After a sealer at work, not beside it: it would write the counter row again.
        await _lock(session, tenant=tenant)
    for model in (FeedEvent, FeedPosition):
        await session.exec(sa.delete(model).where(col(model.tenant) == tenant))
