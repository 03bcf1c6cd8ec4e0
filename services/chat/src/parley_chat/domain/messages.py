"""The message log: the part of `ChatService` that appends, pages, edits and marks read.

Writes append to a per-chat log (`messages`, numbered by `chats.last_seq`); the chat list
order, `last_seq` and `unread` are read models updated in the same transaction as the
append, so they can never disagree with the log (docs/architecture.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from parley_chat import metrics
from parley_chat.domain import errors, events, limits, mentions, reading, threads
from parley_chat.domain.attachments import Attachments
from parley_chat.domain.views import Caller, MessageView, Page
from parley_chat.storage import attachments as attachment_rows
from parley_chat.storage import mentions as mention_rows
from parley_chat.storage import queries, reactions
from parley_chat.storage.models import Message
from parley_core import names
from parley_core.db import utcnow
from parley_core.errors import InvalidField
from parley_core.metrics import RATE_LIMITED

SEND_WINDOW_SECONDS = 60
"""docs/api.md: `messages_per_minute` is counted per user over a minute."""


class Messages(Attachments):
    async def send(
        self,
        caller: Caller,
        chat_id: uuid.UUID,
        *,
        body: str,
        client_msg_id: str | None,
        reply_to: int | None = None,
        attachments: Sequence[uuid.UUID] = (),
    ) -> tuple[MessageView, bool]:
        """Append a message (a reply to the root `reply_to`, with the uploads
        `attachments`); `(message, False)` when `client_msg_id` was already used."""
        policy = await self._policy(caller)
        # A message of files alone needs no text.
        if body or not attachments:
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
        mentioned = await self._mentioned(caller, chat_id, body)
        files = []
        if attachments:
            # A retry of a send that was stored: its uploads are taken, by that very send.
            if client_msg_id and (repeat := await self._repeat(caller, chat_id, client_msg_id)):
                return repeat, False
            files = await self._attachable(caller, attachments)
        root: MessageView | None = None
        try:
            async with self.sessions() as session:
                if reply_to is None and not mentioned and not files:
                    # Most sends: one statement, one round trip (queries.append).
                    seq = await queries.append(session, message, tenant=caller.tenant)
                else:
                    async with session.begin():
                        seq = await queries.append_in_transaction(
                            session,
                            message,
                            tenant=caller.tenant,
                            reply_to=reply_to,
                            mentions=[str(user_id) for user_id in mentioned] or None,
                        )
                        if seq is not None:
                            root = await self._thread_and_mentions(
                                session, caller, message, seq, reply_to, mentioned
                            )
                        if seq is not None and files:
                            await self._attach(session, caller, message, seq, attachments)
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
            reply_to=reply_to,
            thread=None,
            reactions=(),
            mentions=tuple(mentioned),
            attachments=tuple(files),
        )
        await self.publisher.publish(events.MessageEvent("message", sent))
        if root is not None:
            # The root's new thread summary; the stream writes it for a seq already sent.
            await self.publisher.publish(events.MessageEvent("message.updated", root))
        return sent, True

    async def _mentioned(self, caller: Caller, chat_id: uuid.UUID, body: str) -> list[uuid.UUID]:
        """The members `body` mentions; no session at all for a body without an `@`."""
        if "@" not in body:
            return []
        async with self.sessions() as session:
            return await mentions.resolve(session, chat_id, body, tenant=caller.tenant)

    async def _thread_and_mentions(
        self,
        session: AsyncSession,
        caller: Caller,
        message: queries.NewMessage,
        seq: int,
        reply_to: int | None,
        mentioned: list[uuid.UUID],
    ) -> MessageView | None:
        """In the send's transaction: count a reply on its root (the root as updated, for
        its `message.updated`) and record the mentions."""
        root = None
        if reply_to is not None:
            root = await threads.count_reply(
                session, caller, message.chat_id, reply_to, seq, now=message.created_at
            )
        await mention_rows.record(session, message.chat_id, seq, mentioned, tenant=caller.tenant)
        return root

    async def _attach(
        self,
        session: AsyncSession,
        caller: Caller,
        message: queries.NewMessage,
        seq: int,
        ids: Sequence[uuid.UUID],
    ) -> None:
        """In the send's transaction: tie the uploads to the message, each once. One sent
        by a racing send meanwhile fails this one whole (its seq rolls back with it)."""
        tied = await attachment_rows.attach(
            session, ids, message.chat_id, seq, caller.user_id, tenant=caller.tenant
        )
        if tied != len(ids):
            raise InvalidField("attachments", "an attachment was sent in another message")

    async def _repeat(
        self, caller: Caller, chat_id: uuid.UUID, client_msg_id: str
    ) -> MessageView | None:
        async with self.sessions() as session:
            message = await queries.message_by_client_id(
                session, chat_id, caller.user_id, client_msg_id, tenant=caller.tenant
            )
            if message is None:
                return None
            (view,) = await reading.views_of(
                session, [message], caller.user_id, tenant=caller.tenant
            )
            return view

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
                page = rows[:limit]
            else:
                before = before_seq if before_seq is not None else chat.last_seq + 1
                rows = await queries.page_before(
                    session, chat_id, before, limit + 1, tenant=caller.tenant
                )
                page = rows[-limit:]
            views = await reading.views_of(session, page, caller.user_id, tenant=caller.tenant)
            return Page(views, len(rows) > limit)

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
            messages = await reading.views_of(
                session, rows[:limit], caller.user_id, tenant=caller.tenant
            )
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
            # Mentions follow the body: the ones it no longer names are no longer unread.
            mentioned = await mentions.resolve(session, chat_id, body, tenant=caller.tenant)
            message.mentions = [str(user_id) for user_id in mentioned] or None
            await mention_rows.forget(session, chat_id, seq, tenant=caller.tenant)
            await mention_rows.record(session, chat_id, seq, mentioned, tenant=caller.tenant)
            session.add(message)
            await session.flush()
            (edited,) = await reading.views_of(
                session, [message], caller.user_id, tenant=caller.tenant
            )
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
                message.mentions = None
                session.add(message)
                # Its reactions and mentions go with its body; its thread's replies stay.
                await reactions.clear(session, chat_id, seq, tenant=caller.tenant)
                await mention_rows.forget(session, chat_id, seq, tenant=caller.tenant)
                await attachment_rows.doom_message(session, chat_id, seq, tenant=caller.tenant)
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
