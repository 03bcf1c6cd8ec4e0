"""What the chat domain hands out: frozen views built from rows inside the domain.

The API and the stream map these to the wire (`parley_chat.api.schemas`,
`parley_chat.realtime.wire`); no ORM row leaves the domain, so a row's lazy state or a
change to the tables never reaches a response by accident (the auth service does the same).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from parley_chat.domain.directory import TenantPolicy
from parley_chat.storage.models import Chat, Member
from parley_core import views


class StoredMessage(Protocol):
    """A message's columns as the log stores them: an ORM `Message`, or a row of
    `storage.queries.MESSAGE_COLUMNS` (the stream's replay reads no ORM objects)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def chat_id(self) -> uuid.UUID: ...
    @property
    def seq(self) -> int: ...
    @property
    def sender_id(self) -> uuid.UUID: ...
    @property
    def sender_username(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def client_msg_id(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def edited_at(self) -> datetime | None: ...
    @property
    def deleted(self) -> bool: ...
    @property
    def reply_to(self) -> int | None: ...
    @property
    def thread_replies(self) -> int: ...
    @property
    def thread_last_seq(self) -> int | None: ...
    @property
    def thread_last_at(self) -> datetime | None: ...
    @property
    def mentions(self) -> list[str] | None: ...


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking, as their access token says."""

    tenant: str
    user_id: uuid.UUID
    username: str
    policy: TenantPolicy | None = field(default=None, compare=False)
    """The tenant policy the request was admitted under (`domain.access`), so the rules
    that need it (body length, send rate) do not ask auth a second time."""


@dataclass(frozen=True, slots=True)
class MemberView:
    user_id: uuid.UUID
    username: str
    role: str
    joined_at: datetime

    @classmethod
    def of(cls, member: Member) -> MemberView:
        return views.copy_fields(cls, member)


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
    unread_mentions: int
    """Mentions of the caller after their read marker."""

    @property
    def unread(self) -> int:
        return max(0, self.last_seq - self.last_read_seq)

    @classmethod
    def of(
        cls, chat: Chat, me: Member, members: list[Member], *, unread_mentions: int = 0
    ) -> ChatView:
        return views.copy_fields(
            cls,
            chat,
            last_read_seq=me.last_read_seq,
            members=tuple(MemberView.of(member) for member in members),
            unread_mentions=unread_mentions,
        )


@dataclass(frozen=True, slots=True)
class ChatPage:
    chats: list[ChatView]
    next_cursor: str | None
    """Where the next page starts; None on the last page."""


@dataclass(frozen=True, slots=True)
class ThreadView:
    """A root's summary of its replies."""

    replies: int
    last_reply_seq: int
    last_reply_at: datetime


@dataclass(frozen=True, slots=True)
class ReactionView:
    emoji: str
    count: int
    me: bool
    """Whether the reader is among them; always False where one view goes to many readers
    (stream frames)."""


@dataclass(frozen=True, slots=True)
class AttachmentView:
    """docs/api.md "Attachments": a file sent with a message (`domain.attachments`)."""

    id: uuid.UUID
    filename: str
    content_type: str
    """As it is served: the declared type when it is on the allow-list, else
    `application/octet-stream`."""
    size: int
    url: str
    width: int | None = None
    """An image's size in pixels, read from its header; None for anything else."""
    height: int | None = None


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
    reply_to: int | None
    thread: ThreadView | None
    reactions: tuple[ReactionView, ...]
    mentions: tuple[uuid.UUID, ...]
    attachments: tuple[AttachmentView, ...]

    @classmethod
    def of(
        cls,
        message: StoredMessage,
        reactions: tuple[ReactionView, ...] = (),
        attachments: tuple[AttachmentView, ...] = (),
    ) -> MessageView:
        """The message with `reactions` as its reader sees them (`domain.reading`)."""
        thread = None
        if message.thread_replies and message.thread_last_seq and message.thread_last_at:
            thread = ThreadView(
                message.thread_replies, message.thread_last_seq, message.thread_last_at
            )
        return views.copy_fields(
            cls,
            message,
            thread=thread,
            reactions=reactions,
            mentions=tuple(uuid.UUID(user_id) for user_id in message.mentions or ()),
            attachments=attachments,
        )

    def for_everyone(self) -> MessageView:
        """The view as one frame shows it to every member: `me` says nothing there."""
        if not any(reaction.me for reaction in self.reactions):
            return self
        shared = tuple(replace(reaction, me=False) for reaction in self.reactions)
        return replace(self, reactions=shared)


@dataclass(frozen=True, slots=True)
class Page:
    messages: list[MessageView]
    has_more: bool
