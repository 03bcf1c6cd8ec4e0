"""Messages as one reader sees them: rows with their reactions (`me` for that reader) and
attachments, one query each per page whatever its length. History, threads, edits,
repeats, the stream's replay and search all read here."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from parley_chat.domain import attachments
from parley_chat.domain.views import MessageView, ReactionView, StoredMessage
from parley_chat.storage import attachments as attachment_rows
from parley_chat.storage import reactions


async def views_of(
    session: AsyncSession, rows: Sequence[StoredMessage], reader: uuid.UUID, *, tenant: str
) -> list[MessageView]:
    """`rows`, all of one chat, as `reader` sees them."""
    if not rows:
        return []
    # A deleted message has no reactions or files (they go with its body): no lookup.
    seqs = [row.seq for row in rows if not row.deleted]
    chat_id = rows[0].chat_id
    found = await reactions.summaries(session, chat_id, seqs, reader, tenant=tenant)
    files = await attachment_rows.of_messages(session, chat_id, seqs, tenant=tenant)
    return [
        MessageView.of(
            row,
            tuple(ReactionView(*summary) for summary in found.get(row.seq, ())),
            tuple(attachments.view_of(file) for file in files.get(row.seq, ())),
        )
        for row in rows
    ]


async def views_across_chats(
    session: AsyncSession, rows: Sequence[StoredMessage], reader: uuid.UUID, *, tenant: str
) -> list[MessageView]:
    """`rows` of any chats (search results), in their order, as `reader` sees them: one
    reactions query per chat on the page."""
    by_chat: dict[uuid.UUID, list[StoredMessage]] = {}
    for row in rows:
        by_chat.setdefault(row.chat_id, []).append(row)
    seen: dict[tuple[uuid.UUID, int], MessageView] = {}
    for chat_rows in by_chat.values():
        for view in await views_of(session, chat_rows, reader, tenant=tenant):
            seen[(view.chat_id, view.seq)] = view
    return [seen[(row.chat_id, row.seq)] for row in rows]
