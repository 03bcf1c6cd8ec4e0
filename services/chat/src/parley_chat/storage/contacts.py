"""Who shares a chat with whom: the one question presence asks of the chat tables
(docs/api.md "Presence"). Every function takes `*, tenant` and runs in the caller's
transaction; both are served by the `chat_members` primary key `(chat_id, user_id)` and
its `(tenant, user_id)` index.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from parley_chat.storage.models import Member


async def contacts(session: AsyncSession, user_id: uuid.UUID, *, tenant: str) -> set[uuid.UUID]:
    """Every other user who shares at least one chat with `user_id`."""
    chats = select(Member.chat_id).where(Member.tenant == tenant, Member.user_id == user_id)
    statement = (
        select(Member.user_id)
        .where(Member.tenant == tenant, col(Member.chat_id).in_(chats), Member.user_id != user_id)
        .distinct()
    )
    return set(await session.exec(statement))


async def contacts_among(
    session: AsyncSession,
    user_id: uuid.UUID,
    candidates: Collection[uuid.UUID],
    *,
    tenant: str,
) -> set[uuid.UUID]:
    """The `candidates` who share at least one chat with `user_id`."""
    if not candidates:
        return set()
    chats = select(Member.chat_id).where(Member.tenant == tenant, Member.user_id == user_id)
    statement = (
        select(Member.user_id)
        .where(
            Member.tenant == tenant,
            col(Member.chat_id).in_(chats),
            col(Member.user_id).in_(list(candidates)),
        )
        .distinct()
    )
    return set(await session.exec(statement))
