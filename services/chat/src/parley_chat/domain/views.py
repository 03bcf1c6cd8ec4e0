"""What the chat domain hands out: frozen views built from rows inside the domain.

The API and the stream map these to the wire (`parley_chat.api.schemas`,
`parley_chat.realtime.wire`); no ORM row leaves the domain, so a row's lazy state or a
change to the tables never reaches a response by accident (the auth service does the same).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from parley_chat.storage.models import Chat, Member, Message


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking, as their access token says."""

    tenant: str
    user_id: uuid.UUID
    username: str


@dataclass(frozen=True, slots=True)
class MemberView:
    user_id: uuid.UUID
    username: str
    role: str
    joined_at: datetime

    @classmethod
    def of(cls, member: Member) -> MemberView:
        return cls(member.user_id, member.username, member.role, member.joined_at)


@dataclass(frozen=True, slots=True)
class ChatView:
    """A chat as one of its members sees it."""

    id: uuid.UUID
    kind: str
    title: str | None
    created_at: datetime
    last_activity_at: datetime
    last_seq: int
    last_read_seq: int
    """The caller's read marker."""
    members: tuple[MemberView, ...]

    @property
    def unread(self) -> int:
        return max(0, self.last_seq - self.last_read_seq)

    @classmethod
    def of(cls, chat: Chat, me: Member, members: list[Member]) -> ChatView:
        return cls(
            id=chat.id,
            kind=chat.kind,
            title=chat.title,
            created_at=chat.created_at,
            last_activity_at=chat.last_activity_at,
            last_seq=chat.last_seq,
            last_read_seq=me.last_read_seq,
            members=tuple(MemberView.of(member) for member in members),
        )


@dataclass(frozen=True, slots=True)
class ChatPage:
    chats: list[ChatView]
    next_cursor: str | None
    """Where the next page starts; None on the last page."""


@dataclass(frozen=True, slots=True)
class MessageView:
    id: uuid.UUID
    chat_id: uuid.UUID
    seq: int
    sender_id: uuid.UUID
    sender_username: str
    body: str
    client_msg_id: str | None
    created_at: datetime
    edited_at: datetime | None
    deleted: bool

    @classmethod
    def of(cls, message: Message) -> MessageView:
        return cls(
            id=message.id,
            chat_id=message.chat_id,
            seq=message.seq,
            sender_id=message.sender_id,
            sender_username=message.sender_username,
            body=message.body,
            client_msg_id=message.client_msg_id,
            created_at=message.created_at,
            edited_at=message.edited_at,
            deleted=message.deleted,
        )


@dataclass(frozen=True, slots=True)
class Page:
    messages: list[MessageView]
    has_more: bool
