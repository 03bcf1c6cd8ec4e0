"""The JSON bodies of docs/api.md, typed for the CLI.

The server is trusted to keep its contract, so these are TypedDicts that describe what
arrives rather than validators; `api.Client` returns them and re-exports them, so the rest
of the CLI spells them `api.Chat`, `api.Message` and so on.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict


class User(TypedDict):
    id: str
    tenant: str
    username: str
    display_name: str
    created_at: str
    kind: NotRequired[str]
    """`person` or `bot` (v1 additions); absent from older servers."""


class Presence(TypedDict):
    user_id: str
    status: str
    last_seen_at: str | None


class TokenPair(TypedDict):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int


class Member(TypedDict):
    user_id: str
    username: str
    role: str
    joined_at: str


class Chat(TypedDict):
    id: str
    kind: str
    title: str | None
    created_at: str
    last_seq: int
    last_read_seq: int
    unread: int
    members: list[Member]
    unread_mentions: NotRequired[int]
    last_activity_at: NotRequired[str]
    """Not in the v1 contract's chat shape; `created_at` stands in when it is absent."""


class Thread(TypedDict):
    replies: int
    last_reply_seq: int
    last_reply_at: str


class Reaction(TypedDict):
    emoji: str
    count: int
    me: bool


class Attachment(TypedDict):
    id: str
    filename: str
    content_type: str
    size: int
    url: str
    width: NotRequired[int]
    height: NotRequired[int]


class Upload(TypedDict):
    id: str
    upload_url: str
    upload_method: str
    upload_headers: dict[str, str]
    expires_at: str


class Message(TypedDict):
    id: str
    chat_id: str
    seq: int
    sender_id: str
    sender_username: str
    body: str
    client_msg_id: str | None
    created_at: str
    edited_at: str | None
    deleted: bool
    reply_to: NotRequired[int | None]
    thread: NotRequired[Thread | None]
    reactions: NotRequired[list[Reaction]]
    mentions: NotRequired[list[str]]
    attachments: NotRequired[list[Attachment]]


class Page(TypedDict):
    messages: list[Message]
    has_more: bool


class SearchResult(TypedDict):
    chat_id: str
    message: Message


class SearchPage(TypedDict):
    results: list[SearchResult]
    next_cursor: str | None


class Limits(TypedDict):
    max_users: int
    messages_per_minute: int
    max_message_chars: int


class Tenant(TypedDict):
    id: str
    slug: str
    display_name: str | None
    self_registration: bool
    suspended: bool
    limits: Limits
    usage: dict[str, int]
    created_at: str
    updated_at: str
