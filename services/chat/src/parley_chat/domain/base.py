"""What every part of `ChatService` shares: its dependencies and the reads they all start
from. The parts (`chats`, `members`, `messages`) add operations; `service.ChatService`
puts them together as the one entry point the API and the stream call.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from parley_chat.domain import errors, events, limits
from parley_chat.domain.directory import Directory, TenantPolicy, UserRef
from parley_chat.domain.views import Caller, ChatView
from parley_chat.storage import feed, mentions, queries
from parley_chat.storage.files import FileStore
from parley_chat.storage.models import Chat, Member
from parley_core import ratelimit


@dataclass(frozen=True, slots=True)
class AttachmentPolicy:
    url_seconds: int = 300
    """Lifetime of upload URLs and of the download URLs a 302 points at."""
    unsent_seconds: int = 86_400
    """Uploads not sent within this long go in the next sweep."""


@dataclass(frozen=True, kw_only=True)
class ServiceBase:
    sessions: async_sessionmaker[AsyncSession]
    directory: Directory
    send_counter: ratelimit.WindowCounter
    """Counts `messages_per_minute`, the one limit each tenant sets for itself."""
    action_limits: limits.Limits
    publisher: events.Publisher
    frames: events.FrameEncoder
    files: FileStore
    """Where attachment bytes live (`storage.files`)."""
    attachment_policy: AttachmentPolicy = AttachmentPolicy()

    def _feed_event(self, event: events.ChatEvent, *, at: datetime) -> feed.NewEvent:
        return feed.NewEvent(
            uuid.uuid4(), event.kind, events.chat_of(event), at, self.frames(event)
        )

    async def _record(
        self, session: AsyncSession, *chat_events: events.ChatEvent, tenant: str, at: datetime
    ) -> None:
        """Write `chat_events` to the tenant's feed in the change's own transaction; they are
        numbered after it commits (storage/feed.py)."""
        new = [self._feed_event(event, at=at) for event in chat_events]
        await feed.record(session, new, tenant=tenant)

    async def get_chat(self, caller: Caller, chat_id: uuid.UUID) -> ChatView:
        async with self.sessions() as session:
            chat, me = await self._membership(session, caller, chat_id)
            members = await queries.members_of(session, [chat_id], tenant=caller.tenant)
            unread = await mentions.unread(session, caller.user_id, [chat_id], tenant=caller.tenant)
        return ChatView.of(chat, me, members[chat_id], unread_mentions=unread.get(chat_id, 0))

    async def _membership(
        self, session: AsyncSession, caller: Caller, chat_id: uuid.UUID
    ) -> tuple[Chat, Member]:
        """The chat and the caller's membership. A chat the caller is not in is not found
        (404, not 403), so nobody learns which chats exist."""
        found = await queries.chat_as_member(session, chat_id, caller.user_id, tenant=caller.tenant)
        if found is None:
            raise errors.ChatNotFound()
        return found

    async def _policy(self, caller: Caller) -> TenantPolicy:
        policy = caller.policy or await self.directory.policy(caller.tenant)
        if policy is None:
            raise errors.TenantGone()
        if policy.suspended:
            raise errors.TenantSuspended()
        return policy


def new_member(
    chat_id: uuid.UUID,
    tenant: str,
    user: UserRef,
    *,
    joined_at: datetime,
    role: str = "member",
    last_read_seq: int = 0,
) -> Member:
    return Member(
        chat_id=chat_id,
        user_id=user.id,
        tenant=tenant,
        username=user.username,
        role=role,
        joined_at=joined_at,
        last_read_seq=last_read_seq,
    )
