"""Queries over `attachments` and `leases`. Every function on attachments takes `*, tenant`
except the sweep's, which works across tenants on rows already due for deletion."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from parley_chat.storage.models import Attachment, Lease, Member

MESSAGE_DELETED = "message_deleted"
TENANT_PURGED = "tenant_purged"


def key_of(row: Attachment) -> str:
    """The file's key in the store (`storage.files`)."""
    return f"{row.tenant}/{row.id}"


async def get(session: AsyncSession, attachment_id: uuid.UUID, *, tenant: str) -> Attachment | None:
    statement = select(Attachment).where(
        Attachment.id == attachment_id,
        Attachment.tenant == tenant,
        col(Attachment.doomed).is_(None),
    )
    return (await session.exec(statement)).first()


async def by_ids(
    session: AsyncSession, ids: Sequence[uuid.UUID], *, tenant: str
) -> list[Attachment]:
    statement = select(Attachment).where(
        col(Attachment.id).in_(ids), Attachment.tenant == tenant, col(Attachment.doomed).is_(None)
    )
    return list(await session.exec(statement))


async def complete(
    session: AsyncSession,
    attachment_id: uuid.UUID,
    *,
    tenant: str,
    at: datetime,
    width: int | None,
    height: int | None,
) -> None:
    await session.exec(
        sa.update(Attachment)
        .where(col(Attachment.id) == attachment_id, col(Attachment.tenant) == tenant)
        .values(completed_at=at, width=width, height=height)
        .execution_options(synchronize_session=False)
    )


async def attach(
    session: AsyncSession,
    ids: Sequence[uuid.UUID],
    chat_id: uuid.UUID,
    seq: int,
    uploader_id: uuid.UUID,
    *,
    tenant: str,
) -> int:
    """Tie the uploads to the message at `seq`: only complete uploads of `uploader_id`
    that no message has yet. How many it tied (fewer than `ids`: the send must fail)."""
    result = await session.exec(
        sa.update(Attachment)
        .where(
            col(Attachment.id).in_(ids),
            col(Attachment.tenant) == tenant,
            col(Attachment.uploader_id) == uploader_id,
            col(Attachment.chat_id).is_(None),
            col(Attachment.completed_at).is_not(None),
            col(Attachment.doomed).is_(None),
        )
        .values(chat_id=chat_id, seq=seq)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)


async def of_messages(
    session: AsyncSession, chat_id: uuid.UUID, seqs: Sequence[int], *, tenant: str
) -> dict[int, list[Attachment]]:
    """The attachments of each message at `seqs`, in the order they were created."""
    found: dict[int, list[Attachment]] = defaultdict(list)
    if not seqs:
        return found
    statement = (
        select(Attachment)
        .where(
            Attachment.tenant == tenant,
            Attachment.chat_id == chat_id,
            col(Attachment.seq).in_(seqs),
            col(Attachment.doomed).is_(None),
        )
        .order_by(col(Attachment.created_at), col(Attachment.id))
    )
    for row in await session.exec(statement):
        if row.seq is not None:
            found[row.seq].append(row)
    return found


async def may_read(
    session: AsyncSession, row: Attachment, user_id: uuid.UUID, *, tenant: str
) -> bool:
    """docs/api.md: its uploader, or a member now of the chat it was sent in."""
    if row.uploader_id == user_id:
        return True
    if row.chat_id is None:
        return False
    statement = select(Member.user_id).where(
        Member.tenant == tenant, Member.chat_id == row.chat_id, Member.user_id == user_id
    )
    return (await session.exec(statement)).first() is not None


async def doom_message(session: AsyncSession, chat_id: uuid.UUID, seq: int, *, tenant: str) -> None:
    """A deleted message's files are due for deletion (the sweep deletes them)."""
    await session.exec(
        sa.update(Attachment)
        .where(
            col(Attachment.tenant) == tenant,
            col(Attachment.chat_id) == chat_id,
            col(Attachment.seq) == seq,
        )
        .values(doomed=MESSAGE_DELETED)
        .execution_options(synchronize_session=False)
    )


async def doom_tenant(session: AsyncSession, *, tenant: str) -> None:
    """A purged tenant's files are due; their rows stay until the sweep deleted them."""
    await session.exec(
        sa.update(Attachment)
        # One already due keeps its reason (a deleted message's file is counted as such).
        .where(col(Attachment.tenant) == tenant, col(Attachment.doomed).is_(None))
        .values(doomed=TENANT_PURGED)
        .execution_options(synchronize_session=False)
    )


async def due(session: AsyncSession, *, unsent_before: datetime, limit: int) -> list[Attachment]:
    """Rows whose files should go: doomed ones, and uploads never sent that are older
    than `unsent_before`."""
    statement = (
        select(Attachment)
        .where(
            sa.or_(
                col(Attachment.doomed).is_not(None),
                sa.and_(
                    col(Attachment.chat_id).is_(None), col(Attachment.created_at) < unsent_before
                ),
            )
        )
        .limit(limit)
    )
    return list(await session.exec(statement))


async def forget(session: AsyncSession, row: Attachment, *, unsent_before: datetime) -> bool:
    """Delete the row if it is still due (a send may have taken an upload since it was
    read): True when it was, and its file may go."""
    still_due = sa.or_(
        col(Attachment.doomed).is_not(None),
        sa.and_(col(Attachment.chat_id).is_(None), col(Attachment.created_at) < unsent_before),
    )
    result = await session.exec(
        sa.delete(Attachment).where(col(Attachment.id) == row.id, still_due)
    )
    return int(result.rowcount) == 1


async def take_lease(
    session: AsyncSession, name: str, holder: str, *, now: datetime, until: datetime
) -> bool:
    """Hold the lease `name` until `until` when it is free, expired or already ours; False
    when another holder has it. Run in a transaction of its own."""
    result = await session.exec(
        sa.update(Lease)
        .where(
            col(Lease.name) == name,
            sa.or_(col(Lease.holder) == holder, col(Lease.expires_at) < now),
        )
        .values(holder=holder, expires_at=until)
        .execution_options(synchronize_session=False)
    )
    if int(result.rowcount) == 1:
        return True
    # Another replica may create it first: then the insert does nothing and it is theirs.
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    created = await session.exec(
        dialect.insert(Lease)
        .values(name=name, holder=holder, expires_at=until)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(col(Lease.name))
    )
    return created.first() is not None
