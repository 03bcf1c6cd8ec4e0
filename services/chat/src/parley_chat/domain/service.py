"""The chat service's operations. Each is one or two short transactions; the API layer
only translates.

Writes append to a per-chat log (`messages`, numbered by `chats.last_seq`); the chat list
order, `last_seq` and `unread` are read models updated in the same transaction as the
append, so they can never disagree with the log (docs/architecture.md).
"""

from __future__ import annotations

import base64
import logging
import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from parley_chat import metrics
from parley_chat.domain import errors, events, limits
from parley_chat.domain.directory import Directory, TenantPolicy, UserRef
from parley_chat.storage import queries
from parley_chat.storage.models import Chat, Member, Message
from parley_core import names, ratelimit
from parley_core.db import utcnow
from parley_core.errors import InvalidField
from parley_core.metrics import RATE_LIMITED

logger = logging.getLogger(__name__)

SEND_WINDOW_SECONDS = 60
"""shared/API.md: `messages_per_minute` is counted per user over a minute."""

# NUL cannot be stored in PostgreSQL text and lone surrogates cannot be encoded; other
# control characters than tab and line breaks (Cc) only hide or garble text.
_FORBIDDEN_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking, as their access token says."""

    tenant: str
    user_id: uuid.UUID
    username: str


@dataclass(frozen=True, slots=True)
class ChatView:
    chat: Chat
    me: Member
    members: list[Member]

    @property
    def unread(self) -> int:
        return max(0, self.chat.last_seq - self.me.last_read_seq)


@dataclass(frozen=True, slots=True)
class ChatPage:
    chats: list[ChatView]
    next_cursor: str | None
    """Where the next page starts; None on the last page."""


@dataclass(frozen=True, slots=True)
class Page:
    messages: list[Message]
    has_more: bool


class ChatService:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        directory: Directory,
        send_counter: ratelimit.WindowCounter,
        action_limits: limits.Limits,
        publisher: events.Publisher,
    ) -> None:
        self._sessions = sessions
        self._directory = directory
        self._send_counter = send_counter
        self._limits = action_limits
        self._publisher = publisher

    # -- chats and members ---------------------------------------------------------------

    async def create_chat(
        self,
        caller: Caller,
        *,
        kind: Literal["group", "direct"],
        title: str | None,
        usernames: Sequence[str],
    ) -> tuple[ChatView, bool]:
        """A new chat owned by the caller; for a pair's existing direct chat, that one."""
        if title is not None and (problem := names.label_problem(title)):
            raise InvalidField("title", problem)
        others = sorted(set(usernames) - {caller.username})
        if kind == "direct" and len(others) != 1:
            raise InvalidField("members", "a direct chat names exactly one other user")
        await self._limits.spend(
            limits.CHAT_CREATIONS, tenant=caller.tenant, user_id=caller.user_id
        )
        found = await self._directory.users(caller.tenant, others) if others else {}
        if missing := [name for name in others if name not in found]:
            raise errors.UnknownUsers(missing)

        direct_key = None
        if kind == "direct":
            other = found[others[0]]
            direct_key = ":".join(sorted([str(caller.user_id), str(other.id)]))
            if existing := await self._direct_chat(caller, direct_key, other):
                return existing, False

        await self._limits.spend_each(
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
        me = Member(
            chat_id=chat.id,
            user_id=caller.user_id,
            tenant=caller.tenant,
            username=caller.username,
            role="owner",
            joined_at=now,
        )
        members = [me] + [
            Member(
                chat_id=chat.id,
                user_id=user.id,
                tenant=caller.tenant,
                username=user.username,
                role="member",
                joined_at=now,
            )
            for user in (found[name] for name in others)
        ]
        try:
            async with self._sessions() as session, session.begin():
                session.add(chat)
                await session.flush()
                session.add_all(members)
        except IntegrityError:
            # Two people opened the same direct chat at once: both get the one that won.
            if direct_key and (
                existing := await self._direct_chat(caller, direct_key, found[others[0]])
            ):
                return existing, False
            raise
        logger.info("chat created", extra={"tenant": caller.tenant, "chat.id": str(chat.id)})
        for member in members:
            await self._publisher.publish(events.MemberEvent("member.joined", chat.id, member, 0))
        return ChatView(chat, me, members), True

    async def _direct_chat(
        self, caller: Caller, direct_key: str, other: UserRef
    ) -> ChatView | None:
        async with self._sessions() as session:
            chat = await queries.direct_chat(session, direct_key, tenant=caller.tenant)
            if chat is None:
                return None
            members = (await queries.members_of(session, [chat.id], tenant=caller.tenant))[chat.id]
        if len(members) < 2:
            # One of the pair left; opening the direct chat again brings both back.
            pair = [UserRef(caller.user_id, caller.username), other]
            await self._restore_direct(caller, chat, pair)
            return await self.get_chat(caller, chat.id)
        me = next(m for m in members if m.user_id == caller.user_id)
        return ChatView(chat, me, members)

    async def _restore_direct(self, caller: Caller, chat: Chat, pair: list[UserRef]) -> None:
        restored = []
        async with self._sessions() as session, session.begin():
            locked = await queries.lock_chat(session, chat.id, tenant=caller.tenant)
            if locked is None:
                raise errors.ChatNotFound()
            for user in pair:
                if await queries.member(session, chat.id, user.id, tenant=caller.tenant) is None:
                    member = Member(
                        chat_id=chat.id,
                        user_id=user.id,
                        tenant=caller.tenant,
                        username=user.username,
                        role="member",
                        joined_at=utcnow(),
                        last_read_seq=locked.last_seq,
                    )
                    session.add(member)
                    restored.append(member)
        for member in restored:
            await self._publisher.publish(
                events.MemberEvent("member.joined", chat.id, member, locked.last_seq)
            )

    async def list_chats(
        self, caller: Caller, *, limit: int | None = None, cursor: str | None = None
    ) -> ChatPage:
        """The caller's chats, most recent activity first: all of them, or `limit` after
        `cursor` (the `next_cursor` of the page before)."""
        after = _read_cursor(cursor) if cursor is not None else None
        async with self._sessions() as session:
            rows = await queries.chats_of(
                session,
                caller.user_id,
                tenant=caller.tenant,
                after=after,
                limit=None if limit is None else limit + 1,
            )
            more = limit is not None and len(rows) > limit
            rows = rows[:limit]
            members = await queries.members_of(
                session, [chat.id for chat, _ in rows], tenant=caller.tenant
            )
        views = [ChatView(chat, me, members[chat.id]) for chat, me in rows]
        next_cursor = _cursor(views[-1].chat) if more else None
        return ChatPage(views, next_cursor)

    async def get_chat(self, caller: Caller, chat_id: uuid.UUID) -> ChatView:
        async with self._sessions() as session:
            found = await queries.chat_as_member(
                session, chat_id, caller.user_id, tenant=caller.tenant
            )
            if found is None:
                raise errors.ChatNotFound()
            members = await queries.members_of(session, [chat_id], tenant=caller.tenant)
        chat, me = found
        return ChatView(chat, me, members[chat_id])

    async def add_member(self, caller: Caller, chat_id: uuid.UUID, username: str) -> Member:
        await self._limits.spend(limits.MEMBER_ADDS, tenant=caller.tenant, user_id=caller.user_id)
        # Refuse strangers and non-owners before asking auth about the username.
        view = await self.get_chat(caller, chat_id)
        _check_may_add(view.chat, view.me)
        user = (await self._directory.users(caller.tenant, [username])).get(username)
        if user is None:
            raise errors.UnknownUsers([username])
        if any(member.user_id == user.id for member in view.members):
            raise errors.AlreadyMember()  # before counting: a 409 puts nobody anywhere
        await self._limits.spend_each(limits.CHATS_JOINED, tenant=caller.tenant, user_ids=[user.id])
        try:
            async with self._sessions() as session, session.begin():
                chat = await queries.lock_chat(session, chat_id, tenant=caller.tenant)
                me = await queries.member(session, chat_id, caller.user_id, tenant=caller.tenant)
                if chat is None or me is None:
                    raise errors.ChatNotFound()
                _check_may_add(chat, me)
                if await queries.member(session, chat_id, user.id, tenant=caller.tenant):
                    raise errors.AlreadyMember()
                # A newcomer starts with nothing unread: the history is there to page.
                member = Member(
                    chat_id=chat_id,
                    user_id=user.id,
                    tenant=caller.tenant,
                    username=user.username,
                    role="member",
                    joined_at=utcnow(),
                    last_read_seq=chat.last_seq,
                )
                session.add(member)
        except IntegrityError:
            raise errors.AlreadyMember() from None
        await self._publisher.publish(
            events.MemberEvent("member.joined", chat_id, member, member.last_read_seq)
        )
        return member

    async def remove_member(self, caller: Caller, chat_id: uuid.UUID, username: str) -> Member:
        """Remove `username`: the owner removes anyone, anyone removes themselves. When
        the owner leaves, the longest-standing member becomes the owner."""
        async with self._sessions() as session, session.begin():
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
            await queries.remove_member(session, chat_id, target.user_id, tenant=caller.tenant)
            if target.role == "owner":
                rest = (await queries.members_of(session, [chat_id], tenant=caller.tenant))[chat_id]
                if rest:
                    rest[0].role = "owner"
                    session.add(rest[0])
        await self._publisher.publish(
            events.MemberEvent("member.left", chat_id, target, chat.last_seq)
        )
        return target

    # -- the message log -----------------------------------------------------------------

    async def send(
        self, caller: Caller, chat_id: uuid.UUID, *, body: str, client_msg_id: str | None
    ) -> tuple[Message, bool]:
        """Append a message; `(message, False)` when `client_msg_id` was already used."""
        policy = await self._policy(caller.tenant)
        _check_body(body, policy.max_message_chars)
        if client_msg_id is not None and _FORBIDDEN_CHARS.search(client_msg_id):
            raise InvalidField("client_msg_id", "must not contain control characters")
        window = await self._send_counter.hit(
            f"send:{caller.tenant}:{caller.user_id}", window_seconds=SEND_WINDOW_SECONDS
        )
        if window.count > policy.messages_per_minute:
            # A retry of a send that was stored must still get its message back.
            if client_msg_id and (repeat := await self._repeat(caller, chat_id, client_msg_id)):
                return repeat, False
            RATE_LIMITED.labels(limit="messages_per_minute").inc()
            raise errors.SendingTooFast(retry_after=window.resets_in)

        now = utcnow()
        try:
            async with self._sessions() as session, session.begin():
                seq = await queries.allocate_seq(
                    session, chat_id, caller.user_id, tenant=caller.tenant, now=now
                )
                if seq is None:
                    raise errors.ChatNotFound()
                message = Message(
                    chat_id=chat_id,
                    seq=seq,
                    tenant=caller.tenant,
                    sender_id=caller.user_id,
                    sender_username=caller.username,
                    body=body,
                    client_msg_id=client_msg_id,
                    created_at=now,
                )
                await queries.append(session, message)
                # What I sent, I have read.
                await queries.advance_read_marker(
                    session, chat_id, caller.user_id, seq, tenant=caller.tenant
                )
        except IntegrityError:
            # The same client_msg_id committed first; this attempt rolled back, and its seq
            # with it, so the log has no hole.
            if client_msg_id and (repeat := await self._repeat(caller, chat_id, client_msg_id)):
                return repeat, False
            raise
        metrics.MESSAGES_PERSISTED.inc()
        await self._publisher.publish(events.MessageEvent("message", message))
        return message, True

    async def _repeat(
        self, caller: Caller, chat_id: uuid.UUID, client_msg_id: str
    ) -> Message | None:
        async with self._sessions() as session:
            return await queries.message_by_client_id(
                session, chat_id, caller.user_id, client_msg_id, tenant=caller.tenant
            )

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
        async with self._sessions() as session:
            found = await queries.chat_as_member(
                session, chat_id, caller.user_id, tenant=caller.tenant
            )
            if found is None:
                raise errors.ChatNotFound()
            if after_seq is not None:
                rows = await queries.page_after(
                    session, chat_id, after_seq, limit + 1, tenant=caller.tenant
                )
                return Page(rows[:limit], len(rows) > limit)
            before = before_seq if before_seq is not None else found[0].last_seq + 1
            rows = await queries.page_before(
                session, chat_id, before, limit + 1, tenant=caller.tenant
            )
            return Page(rows[-limit:], len(rows) > limit)

    async def edit(self, caller: Caller, chat_id: uuid.UUID, seq: int, *, body: str) -> Message:
        policy = await self._policy(caller.tenant)
        _check_body(body, policy.max_message_chars)
        await self._limits.spend(limits.MESSAGE_EDITS, tenant=caller.tenant, user_id=caller.user_id)
        async with self._sessions() as session, session.begin():
            message = await self._own_message(session, caller, chat_id, seq)
            if message.deleted:
                raise errors.MessageNotFound("message was deleted")
            message.body = body
            message.edited_at = utcnow()
            session.add(message)
        await self._publisher.publish(events.MessageEvent("message.updated", message))
        return message

    async def delete_message(self, caller: Caller, chat_id: uuid.UUID, seq: int) -> Message:
        """Tombstone a message: it keeps its `seq`, loses its body. Deleting twice is fine."""
        await self._limits.spend(limits.MESSAGE_EDITS, tenant=caller.tenant, user_id=caller.user_id)
        async with self._sessions() as session, session.begin():
            message = await self._own_message(session, caller, chat_id, seq)
            changed = not message.deleted
            if changed:
                message.deleted = True
                message.body = ""
                message.edited_at = utcnow()
                session.add(message)
        if changed:
            await self._publisher.publish(events.MessageEvent("message.updated", message))
        return message

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
        await self._limits.spend(limits.READ_MARKERS, tenant=caller.tenant, user_id=caller.user_id)
        async with self._sessions() as session, session.begin():
            found = await queries.chat_as_member(
                session, chat_id, caller.user_id, tenant=caller.tenant
            )
            if found is None:
                raise errors.ChatNotFound()
            if seq > found[0].last_seq:
                raise InvalidField("seq", f"beyond the chat's last message ({found[0].last_seq})")
            await queries.advance_read_marker(
                session, chat_id, caller.user_id, seq, tenant=caller.tenant
            )

    # -- the stream ---------------------------------------------------------------------

    async def count_typing(self, caller: Caller) -> None:
        """Count one typing frame of the caller's; past the limit, `errors.LimitReached`."""
        await self._limits.spend(limits.TYPING, tenant=caller.tenant, user_id=caller.user_id)

    async def positions(self, caller: Caller) -> dict[uuid.UUID, int]:
        """Each chat the caller belongs to, with its last `seq`: where a stream starts."""
        async with self._sessions() as session:
            return await queries.last_seqs(session, caller.user_id, tenant=caller.tenant)

    # -- tenants -------------------------------------------------------------------------

    async def purge_tenant(self, tenant: str) -> None:
        """shared/API.md: every chat, member and message of the tenant goes; idempotent."""
        async with self._sessions() as session, session.begin():
            await queries.purge_tenant(session, tenant=tenant)
        logger.info("tenant purged", extra={"tenant": tenant})

    async def _policy(self, tenant: str) -> TenantPolicy:
        policy = await self._directory.policy(tenant)
        if policy is None:
            raise errors.TenantGone()
        if policy.suspended:
            raise errors.TenantSuspended()
        return policy


def _cursor(chat: Chat) -> str:
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


def _check_may_add(chat: Chat, me: Member) -> None:
    if me.role != "owner":
        raise errors.NotOwner()
    if chat.kind == "direct":
        raise errors.DirectChatIsClosed()


def _visible(text: str) -> bool:
    """Whether anything in `text` shows: not only white space and invisible format
    characters (zero-width spaces, direction marks). Stops at the first visible one."""
    return any(not char.isspace() and unicodedata.category(char) != "Cf" for char in text)


def _check_body(body: str, max_chars: int) -> None:
    """shared/API.md "Names": 1 to max_message_chars characters, not all white space."""
    if not _visible(body):
        raise InvalidField("body", "must contain something besides white space")
    if len(body) > max_chars:
        raise InvalidField("body", f"longer than this tenant's {max_chars} characters")
    if forbidden := _FORBIDDEN_CHARS.search(body):
        code = ord(forbidden.group())
        raise InvalidField("body", f"contains the control character U+{code:04X}")
