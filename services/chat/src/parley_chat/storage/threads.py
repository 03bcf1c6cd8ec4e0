"""Queries of threads: a reply counted on its root's summary, and a root's replies.

Every function takes `*, tenant` and runs inside the caller's transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from parley_chat.storage.models import Message


async def count_reply(
    session: AsyncSession,
    chat_id: uuid.UUID,
    root_seq: int,
    reply_seq: int,
    *,
    tenant: str,
    now: datetime,
) -> Message | None:
    """Count the reply `reply_seq` on its root's summary and return the root as updated;
    None when `root_seq` names no live message of the chat that may have replies.

    One row-level atomic increment, in the reply's transaction: concurrent replies never
    lose a count (PostgreSQL re-checks the row after waiting on its lock), and a reply
    that rolls back takes its count back with it. Replies to one chat are serialised by
    the chat's counter row already, so `reply_seq` only ever grows here.
    """
    statement = (
        sa.update(Message)
        .where(
            col(Message.tenant) == tenant,
            col(Message.chat_id) == chat_id,
            col(Message.seq) == root_seq,
            col(Message.reply_to).is_(None),
            col(Message.deleted).is_(False),
        )
        .values(
            thread_replies=col(Message.thread_replies) + 1,
            thread_last_seq=reply_seq,
            thread_last_at=now,
        )
        .returning(Message)
        .execution_options(synchronize_session=False)
    )
    root: Message | None = (await session.exec(statement)).scalar_one_or_none()
    return root


async def replies_after(
    session: AsyncSession,
    chat_id: uuid.UUID,
    root_seq: int,
    after_seq: int,
    limit: int,
    *,
    tenant: str,
) -> list[Message]:
    """Up to `limit` replies to the root with seq above `after_seq`, ascending (the
    partial index `ix_messages_thread`)."""
    statement = (
        select(Message)
        .where(
            Message.tenant == tenant,
            Message.chat_id == chat_id,
            Message.reply_to == root_seq,
            Message.seq > after_seq,
        )
        .order_by(col(Message.seq))
        .limit(limit)
    )
    return list(await session.exec(statement))
