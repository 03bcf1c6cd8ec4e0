"""Threads: the part of `ChatService` that reads a root's replies, and the step of a
send that counts a reply on its root (docs/api.md "Threads, reactions, mentions").

A reply is an ordinary message of the chat's log with the next `seq`; it names its root
in `reply_to`. The root is a message of the same chat that is neither a reply nor
deleted (a thread under a tombstone would start a conversation about nothing; the
replies a deleted root already has stay readable). The root's summary is kept in the
reply's own transaction (`storage.threads.count_reply`), so it is exact under any number
of concurrent replies and never counts one that rolled back.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from parley_chat.domain import errors, reading
from parley_chat.domain.base import ServiceBase
from parley_chat.domain.views import Caller, MessageView, Page
from parley_chat.storage import queries, threads
from parley_chat.storage.models import Message
from parley_core.errors import InvalidField


class Threads(ServiceBase):
    async def thread(
        self, caller: Caller, chat_id: uuid.UUID, seq: int, *, after_seq: int, limit: int
    ) -> Page:
        """The root's replies after `after_seq`, ascending; a `seq` that names no root
        (no such message, or a reply) is not found."""
        async with self.sessions() as session:
            await self._membership(session, caller, chat_id)
            root = await queries.message(session, chat_id, seq, tenant=caller.tenant)
            if root is None or root.reply_to is not None:
                raise errors.MessageNotFound("thread not found")
            rows = await threads.replies_after(
                session, chat_id, seq, after_seq, limit + 1, tenant=caller.tenant
            )
            views = await reading.views_of(
                session, rows[:limit], caller.user_id, tenant=caller.tenant
            )
        return Page(views, len(rows) > limit)


async def count_reply(
    session: AsyncSession,
    caller: Caller,
    chat_id: uuid.UUID,
    root_seq: int,
    reply_seq: int,
    *,
    now: datetime,
) -> MessageView:
    """Count a reply on its root, inside the send's transaction; the root as updated, for
    its `message.updated` frame. 422 naming `reply_to` when the root may not have replies:
    raised inside the transaction, so the reply's `seq` goes back with the rollback."""
    tenant = caller.tenant
    root = await threads.count_reply(session, chat_id, root_seq, reply_seq, tenant=tenant, now=now)
    if root is None:
        raise InvalidField("reply_to", await _why_not_a_root(session, chat_id, root_seq, tenant))
    (view,) = await reading.views_of(session, [root], caller.user_id, tenant=tenant)
    return view


async def _why_not_a_root(session: AsyncSession, chat_id: uuid.UUID, seq: int, tenant: str) -> str:
    found: Message | None = await queries.message(session, chat_id, seq, tenant=tenant)
    if found is None:
        return "not a message of this chat"
    if found.reply_to is not None:
        return "that message is itself a reply; reply to its root"
    return "that message was deleted"
