"""Opening chats and listing them: the part of `ChatService` that creates chats and
finds a pair's direct chat again."""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy.exc import IntegrityError

from parley_chat.domain import errors, events, limits
from parley_chat.domain.base import ServiceBase, new_member
from parley_chat.domain.directory import UserRef
from parley_chat.domain.views import Caller, ChatPage, ChatView, MemberView
from parley_chat.storage import mentions, queries
from parley_chat.storage.models import Chat
from parley_core import names
from parley_core.db import utcnow
from parley_core.errors import InvalidField

logger = logging.getLogger(__name__)


class Chats(ServiceBase):
    async def create_chat(
        self,
        caller: Caller,
        *,
        kind: Literal["group", "direct"],
        title: str | None,
        usernames: Sequence[str],
    ) -> tuple[ChatView, bool]:
        """A new chat owned by the caller; for a pair's existing direct chat, that one."""
        if title is not None and (problem := names.text_problem(title)):
            raise InvalidField("title", problem)
        others = sorted(set(usernames) - {caller.username})
        if kind == "direct" and len(others) != 1:
            raise InvalidField("members", "a direct chat names exactly one other user")
        await self.action_limits.spend(
            limits.CHAT_CREATIONS, tenant=caller.tenant, user_id=caller.user_id
        )
        found = await self.directory.users(caller.tenant, others) if others else {}
        if missing := [name for name in others if name not in found]:
            raise errors.UnknownUsers(missing)

        direct_key = None
        if kind == "direct":
            other = found[others[0]]
            direct_key = ":".join(sorted([str(caller.user_id), str(other.id)]))
            if existing := await self._direct_chat(caller, direct_key, other):
                return existing, False

        await self.action_limits.spend_each(
            limits.CHATS_JOINED, tenant=caller.tenant, user_ids=[found[n].id for n in others]
        )
        now = utcnow()
        chat = Chat(
            tenant=caller.tenant,
            kind=kind,
            title=title if kind == "group" else None,
            direct_key=direct_key,
            created_by=caller.user_id,
            created_at=now,
            last_activity_at=now,
        )
        me = new_member(
            chat.id,
            caller.tenant,
            UserRef(caller.user_id, caller.username),
            joined_at=now,
            role="owner",
        )
        members = [me] + [
            new_member(chat.id, caller.tenant, found[name], joined_at=now) for name in others
        ]
        try:
            async with self.sessions() as session, session.begin():
                session.add(chat)
                await session.flush()
                session.add_all(members)
                joined = [
                    events.MemberEvent(
                        "member.joined", chat.id, MemberView.of(member), 0, caller.tenant
                    )
                    for member in members
                ]
                await self._record(session, *joined, tenant=caller.tenant, at=now)
        except IntegrityError:
            # Two people opened the same direct chat at once: both get the one that won.
            if direct_key and (
                existing := await self._direct_chat(caller, direct_key, found[others[0]])
            ):
                return existing, False
            raise
        logger.info("chat created", extra={"tenant": caller.tenant, "chat.id": str(chat.id)})
        view = ChatView.of(chat, me, members)
        for event in joined:
            await self.publisher.publish(event)
        return view, True

    async def _direct_chat(
        self, caller: Caller, direct_key: str, other: UserRef
    ) -> ChatView | None:
        async with self.sessions() as session:
            chat = await queries.direct_chat(session, direct_key, tenant=caller.tenant)
            if chat is None:
                return None
            members = (await queries.members_of(session, [chat.id], tenant=caller.tenant))[chat.id]
        if len(members) < 2:
            # One of the pair left; opening the direct chat again brings both back.
            pair = [UserRef(caller.user_id, caller.username), other]
            await self._restore_direct(caller, chat.id, pair)
        return await self.get_chat(caller, chat.id)

    async def _restore_direct(
        self, caller: Caller, chat_id: uuid.UUID, pair: list[UserRef]
    ) -> None:
        restored = []
        async with self.sessions() as session, session.begin():
            locked = await queries.lock_chat(session, chat_id, tenant=caller.tenant)
            if locked is None:
                raise errors.ChatNotFound()
            for user in pair:
                if await queries.member(session, chat_id, user.id, tenant=caller.tenant) is None:
                    member = new_member(
                        chat_id,
                        caller.tenant,
                        user,
                        joined_at=utcnow(),
                        last_read_seq=locked.last_seq,
                    )
                    session.add(member)
                    restored.append(
                        events.MemberEvent(
                            "member.joined",
                            chat_id,
                            MemberView.of(member),
                            locked.last_seq,
                            caller.tenant,
                        )
                    )
            await self._record(session, *restored, tenant=caller.tenant, at=utcnow())
        for event in restored:
            await self.publisher.publish(event)

    async def list_chats(
        self, caller: Caller, *, limit: int | None = None, cursor: str | None = None
    ) -> ChatPage:
        """The caller's chats, most recent activity first: all of them, or `limit` after
        `cursor` (the `next_cursor` of the page before)."""
        after = _read_cursor(cursor) if cursor is not None else None
        async with self.sessions() as session:
            rows = await queries.chats_of(
                session,
                caller.user_id,
                tenant=caller.tenant,
                after=after,
                limit=None if limit is None else limit + 1,
            )
            more = limit is not None and len(rows) > limit
            rows = rows[:limit]
            chat_ids = [chat.id for chat, _ in rows]
            members = await queries.members_of(session, chat_ids, tenant=caller.tenant)
            unread = await mentions.unread(session, caller.user_id, chat_ids, tenant=caller.tenant)
        views = [
            ChatView.of(chat, me, members[chat.id], unread_mentions=unread.get(chat.id, 0))
            for chat, me in rows
        ]
        next_cursor = _cursor(views[-1]) if more else None
        return ChatPage(views, next_cursor)


def _cursor(chat: ChatView) -> str:
    """A position in the chat list as a keyset (last_activity_at, id), not an offset: chats
    that move to the top while a client pages never shift the pages after it, so each chat
    that did not move is listed exactly once (and the moved ones arrive on the stream)."""
    position = f"{chat.last_activity_at.isoformat()}|{chat.id}"
    return base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")


def _read_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        position = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, chat_id = position.split("|")
        when = datetime.fromisoformat(at)
        if when.tzinfo is None:
            raise ValueError("naive time")
        return when.astimezone(UTC), uuid.UUID(chat_id)
    # binascii.Error and UnicodeDecodeError are ValueErrors; a time near year 1 or 9999
    # with an offset overflows when moved to UTC.
    except (ValueError, OverflowError):
        raise InvalidField("cursor", "not a cursor this server gave", source="query") from None
