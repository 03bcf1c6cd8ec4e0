"""Messages as one reader sees them: rows with their reactions (`me` for that reader), one
query per page whatever its length. History, threads, edits and repeats all read here."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from parley_chat.domain.views import MessageView, ReactionView, StoredMessage
from parley_chat.storage import reactions


async def views_of(
    session: AsyncSession, rows: Sequence[StoredMessage], reader: uuid.UUID, *, tenant: str
) -> list[MessageView]:
    """`rows`, all of one chat, as `reader` sees them."""
    if not rows:
        return []
    # A deleted message has no reactions (they go with its body), so it needs no lookup.
    seqs = [row.seq for row in rows if not row.deleted]
    found = await reactions.summaries(session, rows[0].chat_id, seqs, reader, tenant=tenant)
    return [
        MessageView.of(row, tuple(ReactionView(*summary) for summary in found.get(row.seq, ())))
        for row in rows
    ]
