"""Request and response bodies of shared/API.md "Chat API".

msgspec validates while it decodes: wrong types, missing fields and out-of-range values are
a 422 naming the field before any handler runs. Rules that depend on the tenant (a
message's length) are the domain's. Unknown fields are ignored.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from parley_chat.domain import service
from parley_chat.storage.models import Member, Message
from parley_core import names

MAX_SEQ = 2**31 - 1
"""`seq` is a 32-bit column; larger cursors are refused, not overflowed into a 500."""

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
# The tenant's max_message_chars (at most 100 000) is checked by the domain.
Body = Annotated[str, msgspec.Meta(max_length=100_000)]
ClientMessageId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Seq = Annotated[int, msgspec.Meta(ge=0, le=MAX_SEQ)]


class CreateChatBody(msgspec.Struct):
    kind: Literal["group", "direct"]
    members: Annotated[list[names.Username], msgspec.Meta(max_length=256)]
    title: Title | None = None


class AddMemberBody(msgspec.Struct):
    username: names.Username


class SendBody(msgspec.Struct):
    body: Body
    client_msg_id: ClientMessageId | None = None


class EditBody(msgspec.Struct):
    body: Body


class ReadBody(msgspec.Struct):
    seq: Seq


class MemberOut(msgspec.Struct):
    user_id: uuid.UUID
    username: str
    role: str
    joined_at: datetime

    @classmethod
    def of(cls, member: Member) -> MemberOut:
        return cls(member.user_id, member.username, member.role, member.joined_at)


class ChatOut(msgspec.Struct):
    id: uuid.UUID
    kind: str
    title: str | None
    created_at: datetime
    last_seq: int
    last_read_seq: int
    unread: int
    members: list[MemberOut]
    last_activity_at: datetime

    @classmethod
    def of(cls, view: service.ChatView) -> ChatOut:
        chat = view.chat
        return cls(
            id=chat.id,
            kind=chat.kind,
            title=chat.title,
            created_at=chat.created_at,
            last_seq=chat.last_seq,
            last_read_seq=view.me.last_read_seq,
            unread=view.unread,
            members=[MemberOut.of(member) for member in view.members],
            last_activity_at=chat.last_activity_at,
        )


class ChatsOut(msgspec.Struct):
    chats: list[ChatOut]
    next_cursor: str | None
    """Where the next page starts (`?cursor=`); null on the last page and without `limit`."""


class MessageOut(msgspec.Struct):
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
    def of(cls, message: Message) -> MessageOut:
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


class MessagesOut(msgspec.Struct):
    messages: list[MessageOut]
    has_more: bool
