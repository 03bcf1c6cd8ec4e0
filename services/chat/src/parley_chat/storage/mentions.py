"""Queries of mentions: who a body names among a chat's members, and each member's unread
mentions per chat (the primary key of `message_mentions` is the index it reads).

Every function takes `*, tenant` and runs inside the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from parley_chat.storage.models import Member, Mention


async def members_named(
    session: AsyncSession, chat_id: uuid.UUID, usernames: Collection[str], *, tenant: str
) -> dict[str, uuid.UUID]:
    """The chat's members among `usernames`, by username."""
    if not usernames:
        return {}
    statement = select(Member.username, Member.user_id).where(
        Member.tenant == tenant, Member.chat_id == chat_id, col(Member.username).in_(usernames)
    )
    return dict((await session.exec(statement)).all())


async def record(
    session: AsyncSession,
    chat_id: uuid.UUID,
    seq: int,
    user_ids: Sequence[uuid.UUID],
    *,
    tenant: str,
) -> None:
    if user_ids:
        await session.exec(
            sa.insert(Mention).values(
                [
                    {"chat_id": chat_id, "seq": seq, "user_id": user_id, "tenant": tenant}
                    for user_id in user_ids
                ]
            )
        )


async def forget(session: AsyncSession, chat_id: uuid.UUID, seq: int, *, tenant: str) -> None:
    """The message's mentions (its body changed or went)."""
    await session.exec(
        sa.delete(Mention).where(
            col(Mention.tenant) == tenant, col(Mention.chat_id) == chat_id, col(Mention.seq) == seq
        )
    )


async def unread(
    session: AsyncSession, user_id: uuid.UUID, chat_ids: Collection[uuid.UUID], *, tenant: str
) -> dict[uuid.UUID, int]:
    """For each chat, the user's mentions after their read marker: a range of the primary
    key (chat_id, user_id, seq) per chat, one query for a whole chat list."""
    if not chat_ids:
        return {}
    statement = (
        select(Mention.chat_id, sa.func.count())
        .join(
            Member,
            sa.and_(
                col(Member.chat_id) == col(Mention.chat_id),
                col(Member.user_id) == col(Mention.user_id),
            ),
        )
        .where(
            Mention.tenant == tenant,
            Mention.user_id == user_id,
            col(Mention.chat_id).in_(list(chat_ids)),
            col(Mention.seq) > col(Member.last_read_seq),
        )
        .group_by(col(Mention.chat_id))
    )
    return dict((await session.exec(statement)).all())
