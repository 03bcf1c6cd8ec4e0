"""Queries of reactions. Writes run with the message's row locked (`lock_live_message`),
so everything one transaction reads about one message's reactions is exact.

Every function takes `*, tenant` and runs inside the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from parley_chat.storage.models import Message, Reaction


async def lock_live_message(
    session: AsyncSession, chat_id: uuid.UUID, seq: int, *, tenant: str
) -> bool:
    """Lock the message's row until commit; False when it is missing or deleted.

    The lock serialises reactions to one message (and a deletion racing them, which
    locks the row too), so a count read after a change is the count that change made.
    """
    where = (
        col(Message.tenant) == tenant,
        col(Message.chat_id) == chat_id,
        col(Message.seq) == seq,
        col(Message.deleted).is_(False),
    )
    if (await session.connection()).dialect.name == "sqlite":
        # SQLite ignores FOR UPDATE; a no-op write takes the database's write lock.
        result = await session.exec(
            sa.update(Message)
            .where(*where)
            .values(deleted=col(Message.deleted))
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)
    statement = select(Message.seq).where(*where).with_for_update()
    return (await session.exec(statement)).first() is not None


def _key(chat_id: uuid.UUID, seq: int, *, tenant: str) -> tuple[sa.ColumnElement[bool], ...]:
    return (
        col(Reaction.tenant) == tenant,
        col(Reaction.chat_id) == chat_id,
        col(Reaction.seq) == seq,
    )


async def add(
    session: AsyncSession,
    chat_id: uuid.UUID,
    seq: int,
    emoji: str,
    user_id: uuid.UUID,
    *,
    tenant: str,
    now: datetime,
) -> bool:
    """Add the user's reaction; False when it was there already (the message is locked,
    so nobody else adds it meanwhile)."""
    exists = select(Reaction.user_id).where(
        *_key(chat_id, seq, tenant=tenant), Reaction.emoji == emoji, Reaction.user_id == user_id
    )
    if (await session.exec(exists)).first() is not None:
        return False
    await session.exec(
        sa.insert(Reaction).values(
            chat_id=chat_id, seq=seq, emoji=emoji, user_id=user_id, tenant=tenant, created_at=now
        )
    )
    return True


async def remove(
    session: AsyncSession,
    chat_id: uuid.UUID,
    seq: int,
    emoji: str,
    user_id: uuid.UUID,
    *,
    tenant: str,
) -> bool:
    """Remove the user's reaction; False when there was none."""
    result = await session.exec(
        sa.delete(Reaction).where(
            *_key(chat_id, seq, tenant=tenant),
            col(Reaction.emoji) == emoji,
            col(Reaction.user_id) == user_id,
        )
    )
    return bool(result.rowcount)


async def count(
    session: AsyncSession, chat_id: uuid.UUID, seq: int, emoji: str, *, tenant: str
) -> int:
    statement = select(sa.func.count()).where(
        *_key(chat_id, seq, tenant=tenant), Reaction.emoji == emoji
    )
    return (await session.exec(statement)).one()


async def kinds(session: AsyncSession, chat_id: uuid.UUID, seq: int, *, tenant: str) -> int:
    """How many different emoji the message holds."""
    statement = select(sa.func.count(sa.distinct(col(Reaction.emoji)))).where(
        *_key(chat_id, seq, tenant=tenant)
    )
    return (await session.exec(statement)).one()


async def clear(session: AsyncSession, chat_id: uuid.UUID, seq: int, *, tenant: str) -> None:
    """Every reaction to the message (it was deleted)."""
    await session.exec(sa.delete(Reaction).where(*_key(chat_id, seq, tenant=tenant)))


Summary = tuple[str, int, bool]
"""(emoji, count, whether `viewer` is among them)."""


async def summaries(
    session: AsyncSession,
    chat_id: uuid.UUID,
    seqs: Collection[int],
    viewer: uuid.UUID,
    *,
    tenant: str,
) -> dict[int, list[Summary]]:
    """Each message's reactions, grouped by emoji in the order each emoji first came;
    one query for a whole page (the primary key's range)."""
    found: dict[int, list[Summary]] = defaultdict(list)
    if not seqs:
        return found
    first = sa.func.min(Reaction.created_at)
    statement = (
        select(
            Reaction.seq,
            Reaction.emoji,
            sa.func.count(),
            sa.func.max(sa.case((col(Reaction.user_id) == viewer, 1), else_=0)),
        )
        .where(
            Reaction.tenant == tenant,
            Reaction.chat_id == chat_id,
            # The range bounds the primary key's scan; the list picks a thread's seqs.
            col(Reaction.seq).between(min(seqs), max(seqs)),
            col(Reaction.seq).in_(list(seqs)),
        )
        .group_by(col(Reaction.seq), col(Reaction.emoji))
        .order_by(col(Reaction.seq), first, col(Reaction.emoji))
    )
    for seq, emoji, number, mine in await session.exec(statement):
        found[seq].append((emoji, number, bool(mine)))
    return found
