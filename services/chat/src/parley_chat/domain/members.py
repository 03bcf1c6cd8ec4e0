"""Who is in a chat: the part of `ChatService` that adds and removes members. The owner
adds; anyone leaves; when the owner leaves, the longest-standing member takes over."""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from parley_chat.domain import errors, events, limits
from parley_chat.domain.base import ServiceBase, new_member
from parley_chat.domain.views import Caller, MemberView
from parley_chat.storage import queries
from parley_core.db import utcnow


class Members(ServiceBase):
    async def add_member(self, caller: Caller, chat_id: uuid.UUID, username: str) -> MemberView:
        await self.action_limits.spend(
            limits.MEMBER_ADDS, tenant=caller.tenant, user_id=caller.user_id
        )
        # Refuse strangers and non-owners before asking auth about the username.
        view = await self.get_chat(caller, chat_id)
        my_role = next(m.role for m in view.members if m.user_id == caller.user_id)
        _check_may_add(view.kind, my_role)
        user = (await self.directory.users(caller.tenant, [username])).get(username)
        if user is None:
            raise errors.UnknownUsers([username])
        if any(member.user_id == user.id for member in view.members):
            raise errors.AlreadyMember()  # before counting: a 409 puts nobody anywhere
        await self.action_limits.spend_each(
            limits.CHATS_JOINED, tenant=caller.tenant, user_ids=[user.id]
        )
        try:
            async with self.sessions() as session, session.begin():
                chat = await queries.lock_chat(session, chat_id, tenant=caller.tenant)
                me = await queries.member(session, chat_id, caller.user_id, tenant=caller.tenant)
                if chat is None or me is None:
                    raise errors.ChatNotFound()
                _check_may_add(chat.kind, me.role)
                if await queries.member(session, chat_id, user.id, tenant=caller.tenant):
                    raise errors.AlreadyMember()
                # A newcomer starts with nothing unread: the history is there to page.
                member = new_member(
                    chat_id, caller.tenant, user, joined_at=utcnow(), last_read_seq=chat.last_seq
                )
                session.add(member)
                added = MemberView.of(member)
                joined = events.MemberEvent(
                    "member.joined", chat_id, added, chat.last_seq, caller.tenant
                )
                await self._record(session, joined, tenant=caller.tenant, at=added.joined_at)
        except IntegrityError:
            raise errors.AlreadyMember() from None
        await self.publisher.publish(joined)
        return added

    async def remove_member(self, caller: Caller, chat_id: uuid.UUID, username: str) -> MemberView:
        """Remove `username`: the owner removes anyone, anyone removes themselves. When
        the owner leaves, the longest-standing member becomes the owner."""
        async with self.sessions() as session, session.begin():
            chat = await queries.lock_chat(session, chat_id, tenant=caller.tenant)
            me = await queries.member(session, chat_id, caller.user_id, tenant=caller.tenant)
            if chat is None or me is None:
                raise errors.ChatNotFound()
            target = await queries.member_by_username(
                session, chat_id, username, tenant=caller.tenant
            )
            if target is None:
                raise errors.MemberNotFound()
            if target.user_id != me.user_id and me.role != "owner":
                raise errors.NotOwner()
            removed = MemberView.of(target)
            await queries.remove_member(session, chat_id, target.user_id, tenant=caller.tenant)
            if target.role == "owner":
                await _hand_over(session, chat_id, tenant=caller.tenant)
            left = events.MemberEvent("member.left", chat_id, removed, chat.last_seq, caller.tenant)
            await self._record(session, left, tenant=caller.tenant, at=utcnow())
        await self.publisher.publish(left)
        return removed


async def _hand_over(session: AsyncSession, chat_id: uuid.UUID, *, tenant: str) -> None:
    """Make the longest-standing member the owner; `members_of` lists them by joining."""
    rest = (await queries.members_of(session, [chat_id], tenant=tenant))[chat_id]
    if rest:
        rest[0].role = "owner"
        session.add(rest[0])


def _check_may_add(kind: str, my_role: str) -> None:
    if my_role != "owner":
        raise errors.NotOwner()
    if kind == "direct":
        raise errors.DirectChatIsClosed()
