"""Queries over the chat tables. Every function takes `*, tenant` (the tenant slug; shared/
STYLE.md rule 3) and runs inside the caller's transaction without committing.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from parley_chat.storage import feed
from parley_chat.storage.models import Chat, Member, Mention, Message, Reaction, Webhook
from parley_core.db import UTCDateTime


async def lock_chat(session: AsyncSession, chat_id: uuid.UUID, *, tenant: str) -> Chat | None:
    """The chat row, locked until commit: membership changes of one chat run one at a time."""
    if (await session.connection()).dialect.name == "sqlite":
        # SQLite ignores FOR UPDATE and pysqlite begins only before the first write; a
        # no-op write takes the database's write lock for the rest of the transaction.
        await session.exec(
            sa.update(Chat)
            .where(col(Chat.id) == chat_id, col(Chat.tenant) == tenant)
            .values(last_seq=Chat.last_seq)
        )
    statement = select(Chat).where(Chat.id == chat_id, Chat.tenant == tenant).with_for_update()
    return (await session.exec(statement)).first()


async def chat_as_member(
    session: AsyncSession, chat_id: uuid.UUID, user_id: uuid.UUID, *, tenant: str
) -> tuple[Chat, Member] | None:
    """The chat and the caller's membership, or None when either is missing."""
    statement = (
        select(Chat, Member)
        .join(Member, col(Member.chat_id) == col(Chat.id))
        .where(Chat.id == chat_id, Chat.tenant == tenant, Member.user_id == user_id)
    )
    row = (await session.exec(statement)).first()
    return (row[0], row[1]) if row else None


async def chats_of(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    tenant: str,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int | None = None,
) -> Sequence[tuple[Chat, Member]]:
    """The user's chats with their membership, most recent activity first (then by id);
    `after` a (last_activity_at, id) position of that order, only the chats past it."""
    statement = (
        select(Chat, Member)
        .join(Member, col(Member.chat_id) == col(Chat.id))
        .where(Member.tenant == tenant, Member.user_id == user_id, Chat.tenant == tenant)
        .order_by(col(Chat.last_activity_at).desc(), col(Chat.id))
        .limit(limit)
    )
    if after is not None:
        at, chat_id = after
        statement = statement.where(
            sa.or_(
                col(Chat.last_activity_at) < at,
                sa.and_(col(Chat.last_activity_at) == at, col(Chat.id) > chat_id),
            )
        )
    return [(chat, member) for chat, member in await session.exec(statement)]


async def last_seqs(
    session: AsyncSession, user_id: uuid.UUID, *, tenant: str
) -> dict[uuid.UUID, int]:
    """The user's chats and each one's last `seq`."""
    statement = (
        select(Chat.id, Chat.last_seq)
        .join(Member, col(Member.chat_id) == col(Chat.id))
        .where(Member.tenant == tenant, Member.user_id == user_id, Chat.tenant == tenant)
    )
    return dict((await session.exec(statement)).all())


async def members_of(
    session: AsyncSession, chat_ids: Sequence[uuid.UUID], *, tenant: str
) -> dict[uuid.UUID, list[Member]]:
    """Every member of each chat, in joining order: one query for a whole chat list."""
    found: dict[uuid.UUID, list[Member]] = defaultdict(list)
    if not chat_ids:
        return found
    statement = (
        select(Member)
        .where(Member.tenant == tenant, col(Member.chat_id).in_(chat_ids))
        .order_by(col(Member.joined_at), col(Member.username))
    )
    for member in await session.exec(statement):
        found[member.chat_id].append(member)
    return found


async def member(
    session: AsyncSession, chat_id: uuid.UUID, user_id: uuid.UUID, *, tenant: str
) -> Member | None:
    statement = select(Member).where(
        Member.tenant == tenant, Member.chat_id == chat_id, Member.user_id == user_id
    )
    return (await session.exec(statement)).first()


async def member_by_username(
    session: AsyncSession, chat_id: uuid.UUID, username: str, *, tenant: str
) -> Member | None:
    statement = select(Member).where(
        Member.tenant == tenant, Member.chat_id == chat_id, Member.username == username
    )
    return (await session.exec(statement)).first()


async def direct_chat(session: AsyncSession, direct_key: str, *, tenant: str) -> Chat | None:
    statement = select(Chat).where(Chat.tenant == tenant, Chat.direct_key == direct_key)
    return (await session.exec(statement)).first()


async def remove_member(
    session: AsyncSession, chat_id: uuid.UUID, user_id: uuid.UUID, *, tenant: str
) -> None:
    await session.exec(
        sa.delete(Member).where(
            col(Member.tenant) == tenant,
            col(Member.chat_id) == chat_id,
            col(Member.user_id) == user_id,
        )
    )


@dataclass(frozen=True, slots=True)
class NewMessage:
    """The columns of a message about to be appended; its `seq` comes from the chat."""

    id: uuid.UUID
    chat_id: uuid.UUID
    sender_id: uuid.UUID
    sender_username: str
    body: str
    client_msg_id: str | None
    created_at: datetime


# docs/api.md: seq has no gaps. The UPDATE takes the chat's counter row lock until commit,
# so appends to one chat are serialised; a rolled-back append (a repeated client_msg_id
# fails the INSERT, and with it the whole statement) returns its number. No row comes
# back when the chat is missing or the sender is not a member. Sent as one statement, so
# a send is one round trip, and always the same text, so psycopg prepares it on each
# pooled connection after a few uses (psycopg's prepare_threshold).
_APPEND_POSTGRES = sa.text(
    """
WITH counter AS (
    UPDATE chats SET last_seq = last_seq + 1, last_activity_at = :created_at
    WHERE id = :chat_id AND tenant = :tenant AND EXISTS (
        SELECT 1 FROM chat_members
        WHERE chat_id = :chat_id AND user_id = :sender_id AND tenant = :tenant
    )
    RETURNING last_seq
), appended AS (
    INSERT INTO messages (chat_id, seq, id, tenant, sender_id, sender_username, body,
                          client_msg_id, created_at, edited_at, deleted)
    SELECT CAST(:chat_id AS uuid), last_seq, CAST(:id AS uuid), CAST(:tenant AS varchar),
           CAST(:sender_id AS uuid), CAST(:sender_username AS varchar), CAST(:body AS text),
           CAST(:client_msg_id AS varchar), CAST(:created_at AS timestamptz), NULL, false
    FROM counter
    RETURNING seq
), read_marker AS (
    -- What I sent, I have read; the marker never moves back.
    UPDATE chat_members SET last_read_seq = appended.seq FROM appended
    WHERE chat_members.chat_id = :chat_id AND chat_members.user_id = :sender_id
      AND chat_members.tenant = :tenant AND chat_members.last_read_seq < appended.seq
)"""
    # The outbox row, in the same statement and so the same transaction (storage/feed.py).
    + feed.APPEND_CTE
    + """
SELECT seq FROM appended
"""
).bindparams(sa.bindparam("created_at", type_=UTCDateTime()))


async def append(
    session: AsyncSession, message: NewMessage, event: feed.NewEvent, *, tenant: str
) -> int | None:
    """Append `message` at its chat's next `seq`, move the sender's read marker to it and
    write its `message` `event` (framed with `seq` 0) to the feed, as a transaction of its
    own (unlike the other queries here, it commits): that `seq`, or None when the sender
    is not a member of the chat. `session` must not be in a transaction yet.

    PostgreSQL does it in one statement, committed on its own (autocommit: one round
    trip, no BEGIN and COMMIT around it). SQLite has no data-modifying CTE, so there it
    is three statements in one transaction; the first write takes the database's write
    lock, which serialises appends as the row lock does on PostgreSQL.
    """
    if session.get_bind().dialect.name == "postgresql":
        connection = await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        params = {
            **_columns(message),
            "tenant": tenant,
            "event_id": event.id,
            "event_data": event.frame.decode(),
        }
        return (await connection.execute(_APPEND_POSTGRES, params)).scalar_one_or_none()
    async with session.begin():
        seq = await append_in_transaction(session, message, tenant=tenant)
        if seq is not None:
            await feed.record(session, [event.with_seq(seq)], tenant=tenant)
        return seq


async def append_in_transaction(
    session: AsyncSession,
    message: NewMessage,
    *,
    tenant: str,
    reply_to: int | None = None,
    mentions: list[str] | None = None,
) -> int | None:
    """`append` inside the caller's transaction, in three statements, for a send that
    writes more in the same transaction (a reply's thread summary, mentions) and for
    SQLite, which has no data-modifying CTE: the first write takes the chat's counter row
    lock (PostgreSQL) or the database's write lock (SQLite), which serialises appends."""
    seq = await allocate_seq(
        session, message.chat_id, message.sender_id, tenant=tenant, now=message.created_at
    )
    if seq is None:
        return None
    row = {**_columns(message), "seq": seq, "tenant": tenant}
    await session.exec(
        sa.insert(Message).values(
            edited_at=None, deleted=False, reply_to=reply_to, mentions=mentions, **row
        )
    )
    await advance_read_marker(session, message.chat_id, message.sender_id, seq, tenant=tenant)
    return seq


def _columns(message: NewMessage) -> dict[str, object]:
    return {field: getattr(message, field) for field in NewMessage.__slots__}


async def allocate_seq(
    session: AsyncSession, chat_id: uuid.UUID, sender_id: uuid.UUID, *, tenant: str, now: datetime
) -> int | None:
    """The chat's next `seq`, or None when the sender is not a member (SQLite's append;
    `_APPEND_POSTGRES` says why the counter row serialises appends)."""
    is_member = (
        sa.select(sa.literal(1))
        .where(
            col(Member.chat_id) == chat_id,
            col(Member.user_id) == sender_id,
            col(Member.tenant) == tenant,
        )
        .exists()
    )
    statement = (
        sa.update(Chat)
        .where(col(Chat.id) == chat_id, col(Chat.tenant) == tenant, is_member)
        .values(last_seq=col(Chat.last_seq) + 1, last_activity_at=now)
        .returning(col(Chat.last_seq))
        # The hot path: no loaded Chat objects to keep in step, so skip the ORM's
        # evaluation of the criteria in Python (a third of a send's time).
        .execution_options(synchronize_session=False)
    )
    return (await session.exec(statement)).scalar_one_or_none()


async def message_by_client_id(
    session: AsyncSession,
    chat_id: uuid.UUID,
    sender_id: uuid.UUID,
    client_msg_id: str,
    *,
    tenant: str,
) -> Message | None:
    statement = select(Message).where(
        Message.tenant == tenant,
        Message.chat_id == chat_id,
        Message.sender_id == sender_id,
        Message.client_msg_id == client_msg_id,
    )
    return (await session.exec(statement)).first()


async def advance_read_marker(
    session: AsyncSession, chat_id: uuid.UUID, user_id: uuid.UUID, seq: int, *, tenant: str
) -> None:
    """Move the user's read marker forward to `seq`; it never moves back."""
    await session.exec(
        sa.update(Member)
        .where(
            col(Member.tenant) == tenant,
            col(Member.chat_id) == chat_id,
            col(Member.user_id) == user_id,
            col(Member.last_read_seq) < seq,
        )
        .values(last_read_seq=seq)
        .execution_options(synchronize_session=False)
    )


async def message(
    session: AsyncSession, chat_id: uuid.UUID, seq: int, *, tenant: str, lock: bool = False
) -> Message | None:
    statement = select(Message).where(
        Message.tenant == tenant, Message.chat_id == chat_id, Message.seq == seq
    )
    if lock:
        # An edit racing a delete must not bring the deleted body back.
        statement = statement.with_for_update()
    return (await session.exec(statement)).first()


async def page_after(
    session: AsyncSession, chat_id: uuid.UUID, after_seq: int, limit: int, *, tenant: str
) -> list[Message]:
    """Up to `limit` messages with seq above `after_seq`, ascending."""
    statement = (
        select(Message)
        .where(Message.tenant == tenant, Message.chat_id == chat_id, Message.seq > after_seq)
        .order_by(col(Message.seq))
        .limit(limit)
    )
    return list(await session.exec(statement))


MESSAGE_COLUMNS = (
    col(Message.id),
    col(Message.chat_id),
    col(Message.seq),
    col(Message.sender_id),
    col(Message.sender_username),
    col(Message.body),
    col(Message.client_msg_id),
    col(Message.created_at),
    col(Message.edited_at),
    col(Message.deleted),
    col(Message.reply_to),
    col(Message.thread_replies),
    col(Message.thread_last_seq),
    col(Message.thread_last_at),
    col(Message.mentions),
)
"""The columns a message's view is made of (`domain.views.StoredMessage`), without the
ORM: rows whose attributes carry the same names."""


async def rows_after(
    session: AsyncSession,
    chat_id: uuid.UUID,
    member_id: uuid.UUID,
    after_seq: int,
    limit: int,
    *,
    tenant: str,
) -> Sequence[sa.Row[*tuple[Any, ...]]]:
    """Up to `limit` messages with seq above `after_seq`, ascending, as `MESSAGE_COLUMNS`
    rows; none unless `member_id` is a member. The stream's replay: one query a page and
    no ORM objects, so catching up on thousands of messages stays cheap."""
    is_member = (
        sa.select(sa.literal(1))
        .where(
            col(Member.chat_id) == chat_id,
            col(Member.user_id) == member_id,
            col(Member.tenant) == tenant,
        )
        .exists()
    )
    statement = (
        sa.select(*MESSAGE_COLUMNS)
        .where(
            col(Message.tenant) == tenant,
            col(Message.chat_id) == chat_id,
            col(Message.seq) > after_seq,
            is_member,
        )
        .order_by(col(Message.seq))
        .limit(limit)
    )
    return (await (await session.connection()).execute(statement)).all()


async def page_before(
    session: AsyncSession, chat_id: uuid.UUID, before_seq: int, limit: int, *, tenant: str
) -> list[Message]:
    """The `limit` messages just below `before_seq`, ascending."""
    statement = (
        select(Message)
        .where(Message.tenant == tenant, Message.chat_id == chat_id, Message.seq < before_seq)
        .order_by(col(Message.seq).desc())
        .limit(limit)
    )
    return list(reversed(list(await session.exec(statement))))


async def purge_tenant(session: AsyncSession, *, tenant: str) -> None:
    # Children first, so the purge does not depend on SQLite's foreign-key pragma.
    for model in (Webhook, Reaction, Mention, Message, Member, Chat):
        await session.exec(sa.delete(model).where(col(model.tenant) == tenant))
    await feed.purge_tenant(session, tenant=tenant)
