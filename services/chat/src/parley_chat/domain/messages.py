"""The message log: the part of `ChatService` that appends, pages, edits and marks read.

Writes append to a per-chat log (`messages`, numbered by `chats.last_seq`); the chat list
order, `last_seq` and `unread` are read models updated in the same transaction as the
append, so they can never disagree with the log (docs/architecture.md).
"""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from parley_chat import metrics
from parley_chat.domain import errors, events, limits
from parley_chat.domain.base import ServiceBase
from parley_chat.domain.views import Caller, MessageView, Page
from parley_chat.storage import queries
from parley_chat.storage.models import Message
from parley_core import names
from parley_core.db import utcnow
from parley_core.errors import InvalidField
from parley_core.metrics import RATE_LIMITED

SEND_WINDOW_SECONDS = 60
"""docs/api.md: `messages_per_minute` is counted per user over a minute."""


class Messages(ServiceBase):
    async def send(
        self, caller: Caller, chat_id: uuid.UUID, *, body: str, client_msg_id: str | None
    ) -> tuple[MessageView, bool]:
        """Append a message; `(message, False)` when `client_msg_id` was already used."""
        policy = await self._policy(caller)
        _check_body(body, policy.max_message_chars)
        if client_msg_id is not None and (
            problem := names.control_problem(client_msg_id, multiline=True)
        ):
            raise InvalidField("client_msg_id", problem)
        window = await self.send_counter.hit(
            f"send:{caller.tenant}:{caller.user_id}", window_seconds=SEND_WINDOW_SECONDS
        )
        if window.count > policy.messages_per_minute:
            # A retry of a send that was stored must still get its message back.
            if client_msg_id and (repeat := await self._repeat(caller, chat_id, client_msg_id)):
                return repeat, False
            RATE_LIMITED.labels(limit="messages_per_minute").inc()
            raise errors.SendingTooFast(retry_after=window.resets_in)

        message = queries.NewMessage(
            id=uuid.uuid4(),
            chat_id=chat_id,
            sender_id=caller.user_id,
            sender_username=caller.username,
            body=body,
            client_msg_id=client_msg_id,
            created_at=utcnow(),
        )
        try:
            async with self.sessions() as session:
                seq = await queries.append(session, message, tenant=caller.tenant)
        except IntegrityError:
            # The same client_msg_id committed first; this attempt rolled back, and its seq
            # with it, so the log has no hole.
            if client_msg_id and (repeat := await self._repeat(caller, chat_id, client_msg_id)):
                return repeat, False
            raise
        if seq is None:
            raise errors.ChatNotFound()
        metrics.MESSAGES_PERSISTED.inc()
        sent = MessageView(
            id=message.id,
            chat_id=chat_id,
            seq=seq,
            sender_id=message.sender_id,
            sender_username=message.sender_username,
            body=body,
            client_msg_id=client_msg_id,
            created_at=message.created_at,
            edited_at=None,
            deleted=False,
        )
        await self.publisher.publish(events.MessageEvent("message", sent))
        return sent, True

    async def _repeat(
        self, caller: Caller, chat_id: uuid.UUID, client_msg_id: str
    ) -> MessageView | None:
        async with self.sessions() as session:
            message = await queries.message_by_client_id(
                session, chat_id, caller.user_id, client_msg_id, tenant=caller.tenant
            )
            return None if message is None else MessageView.of(message)

    async def history(
        self,
        caller: Caller,
        chat_id: uuid.UUID,
        *,
        after_seq: int | None,
        before_seq: int | None,
        limit: int,
    ) -> Page:
        """One page in ascending `seq`: after a cursor, before one, or the latest."""
        if after_seq is not None and before_seq is not None:
            raise InvalidField(
                "before_seq", "give after_seq or before_seq, not both", source="query"
            )
        async with self.sessions() as session:
            chat, _ = await self._membership(session, caller, chat_id)
            if after_seq is not None:
                rows = await queries.page_after(
                    session, chat_id, after_seq, limit + 1, tenant=caller.tenant
                )
                return Page([MessageView.of(row) for row in rows[:limit]], len(rows) > limit)
            before = before_seq if before_seq is not None else chat.last_seq + 1
            rows = await queries.page_before(
                session, chat_id, before, limit + 1, tenant=caller.tenant
            )
            return Page([MessageView.of(row) for row in rows[-limit:]], len(rows) > limit)

    async def replay(
        self, caller: Caller, chat_id: uuid.UUID, *, after_seq: int, limit: int
    ) -> Page:
        """`history` after a cursor, for the stream's catch-up: one query a page while the
        caller is a member (an empty page makes sure it still is)."""
        async with self.sessions() as session:
            rows = await queries.rows_after(
                session, chat_id, caller.user_id, after_seq, limit + 1, tenant=caller.tenant
            )
            if not rows:
                await self._membership(session, caller, chat_id)
        messages = [MessageView(*row) for row in rows[:limit]]
        return Page(messages, len(rows) > limit)

    async def edit(self, caller: Caller, chat_id: uuid.UUID, seq: int, *, body: str) -> MessageView:
        policy = await self._policy(caller)
        _check_body(body, policy.max_message_chars)
        await self.action_limits.spend(
            limits.MESSAGE_EDITS, tenant=caller.tenant, user_id=caller.user_id
        )
        async with self.sessions() as session, session.begin():
            message = await self._own_message(session, caller, chat_id, seq)
            if message.deleted:
                raise errors.MessageNotFound("message was deleted")
            message.body = body
            message.edited_at = utcnow()
            session.add(message)
            edited = MessageView.of(message)
        await self.publisher.publish(events.MessageEvent("message.updated", edited))
        return edited

    async def delete_message(self, caller: Caller, chat_id: uuid.UUID, seq: int) -> MessageView:
        """Tombstone a message: it keeps its `seq`, loses its body. Deleting twice is fine."""
        await self.action_limits.spend(
            limits.MESSAGE_EDITS, tenant=caller.tenant, user_id=caller.user_id
        )
        async with self.sessions() as session, session.begin():
            message = await self._own_message(session, caller, chat_id, seq)
            changed = not message.deleted
            if changed:
                message.deleted = True
                message.body = ""
                message.edited_at = utcnow()
                session.add(message)
            deleted = MessageView.of(message)
        if changed:
            await self.publisher.publish(events.MessageEvent("message.updated", deleted))
        return deleted

    async def _own_message(
        self, session: AsyncSession, caller: Caller, chat_id: uuid.UUID, seq: int
    ) -> Message:
        if await queries.member(session, chat_id, caller.user_id, tenant=caller.tenant) is None:
            raise errors.ChatNotFound()
        message = await queries.message(session, chat_id, seq, tenant=caller.tenant, lock=True)
        if message is None:
            raise errors.MessageNotFound()
        if message.sender_id != caller.user_id:
            raise errors.NotSender()
        return message

    async def mark_read(self, caller: Caller, chat_id: uuid.UUID, seq: int) -> None:
        await self.action_limits.spend(
            limits.READ_MARKERS, tenant=caller.tenant, user_id=caller.user_id
        )
        async with self.sessions() as session, session.begin():
            chat, _ = await self._membership(session, caller, chat_id)
            if seq > chat.last_seq:
                raise InvalidField("seq", f"beyond the chat's last message ({chat.last_seq})")
            await queries.advance_read_marker(
                session, chat_id, caller.user_id, seq, tenant=caller.tenant
            )


def _check_body(body: str, max_chars: int) -> None:
    """docs/api.md "Names": 1 to max_message_chars characters, not all white space."""
    if problem := names.text_problem(body, multiline=True):
        raise InvalidField("body", problem)
    if len(body) > max_chars:
        raise InvalidField("body", f"longer than this tenant's {max_chars} characters")
