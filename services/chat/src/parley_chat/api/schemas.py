"""Request and response bodies of docs/api.md "Chat API".

msgspec validates while it decodes: wrong types, missing fields and out-of-range values are
a 422 naming the field before any handler runs. Rules that depend on the tenant (a
message's length) are the domain's. Unknown fields are ignored.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from parley_core import names, views

MAX_SEQ = 2**31 - 1
"""`seq` is a 32-bit column; larger cursors are refused, not overflowed into a 500."""

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
# The tenant's max_message_chars (at most 100 000) is checked by the domain.
Body = Annotated[str, msgspec.Meta(max_length=100_000)]
ClientMessageId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Seq = Annotated[int, msgspec.Meta(ge=0, le=MAX_SEQ)]
RootSeq = Annotated[int, msgspec.Meta(ge=1, le=MAX_SEQ)]


class CreateChatBody(msgspec.Struct):
    kind: Literal["group", "direct"]
    members: Annotated[list[names.Username], msgspec.Meta(max_length=256)]
    title: Title | None = None


class AddMemberBody(msgspec.Struct):
    username: names.Username


class SendBody(msgspec.Struct):
    body: Body = ""
    """Required unless the message carries attachments."""
    client_msg_id: ClientMessageId | None = None
    reply_to: RootSeq | None = None
    """The `seq` of the thread root this message replies to (a message of the same chat
    that is not itself a reply)."""
    attachments: Annotated[list[uuid.UUID], msgspec.Meta(max_length=10)] = msgspec.field(
        default_factory=list
    )
    """Ids of the sender's complete uploads (`POST /v1/attachments`), at most 10."""


# docs/api.md "Attachments": a name people read; the domain refuses control characters.
Filename = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
ContentType = Annotated[
    str,
    msgspec.Meta(
        max_length=127,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$",
    ),
]


class UploadBody(msgspec.Struct):
    filename: Filename
    content_type: ContentType
    size: Annotated[int, msgspec.Meta(ge=0, le=5 * 2**40)]


class UploadOut(views.Out):
    id: uuid.UUID
    upload_url: str
    """Absolute for an object store; a path of this API for chat's own file store."""
    upload_method: str
    upload_headers: dict[str, str]
    """Send these as they are: the upload URL's signature covers them."""
    expires_at: datetime


class EditBody(msgspec.Struct):
    body: Body


class ReadBody(msgspec.Struct):
    seq: Seq


class MemberOut(views.Out):
    user_id: uuid.UUID
    username: str
    role: str
    joined_at: datetime


class ChatOut(views.Out):
    id: uuid.UUID
    kind: str
    title: str | None
    created_at: datetime
    last_seq: int
    last_read_seq: int
    unread: int
    members: list[MemberOut]
    last_activity_at: datetime
    unread_mentions: int
    """Mentions of the caller in messages after their read marker."""


class ChatsOut(msgspec.Struct):
    chats: list[ChatOut]
    next_cursor: str | None
    """Where the next page starts (`?cursor=`); null on the last page and without `limit`."""


class ThreadOut(views.Out):
    replies: int
    last_reply_seq: int
    last_reply_at: datetime


class ReactionOut(views.Out):
    emoji: str
    count: int
    me: bool
    """Whether the caller is among them (always false in stream frames)."""


class AttachmentOut(views.Out, omit_defaults=True):
    id: uuid.UUID
    filename: str
    content_type: str
    size: int
    url: str
    width: int | None = None
    height: int | None = None


class MessageOut(views.Out):
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
    """The thread root's `seq` when this message is a reply."""
    thread: ThreadOut | None
    """A root's summary of its replies; null while it has none."""
    reactions: list[ReactionOut]
    mentions: list[uuid.UUID]
    attachments: list[AttachmentOut]


class MessagesOut(msgspec.Struct):
    messages: list[MessageOut]
    has_more: bool
