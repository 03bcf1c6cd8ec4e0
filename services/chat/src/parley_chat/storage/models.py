"""Tables owned by the chat service. It never reads auth's tables: a tenant is its slug
from the access token, and users are known by the ids and usernames auth vouched for.

`messages` is the append-only per-chat log; `chats.last_seq` is both its sequence
counter and, with `chat_members.last_read_seq`, the read model of unread counts. A
reply is a message of the log whose `reply_to` names its thread's root; the root keeps
its thread's summary (`thread_*`), updated in the reply's transaction. Reactions and
mentions hang off a message by `(chat_id, seq)`.

`events` is the tenant's outbox and feed (docs/integrations.md "The event feed"): every
change that makes a stream frame of a kind a tenant backend sees writes its event there
in the change's own transaction, at the tenant's next `position` (`event_positions`,
storage/feed.py says why that order is commit order).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from parley_core.db import UTCDateTime

CHAT_TABLES = frozenset(
    {
        "chats",
        "chat_members",
        "messages",
        "message_reactions",
        "message_mentions",
        "attachments",
        "leases",
        "events",
        "event_positions",
        "webhooks",
    }
)


class Chat(SQLModel, table=True):
    __tablename__ = "chats"
    __table_args__ = (
        # One direct chat per pair of users in a tenant (docs/api.md: a repeat gets it).
        sa.UniqueConstraint("tenant", "direct_key", name="uq_chats_tenant_direct_key"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tenant: str = Field(sa_column=sa.Column(sa.String(32), nullable=False, index=True))
    kind: str = Field(max_length=8)
    title: str | None = Field(default=None, max_length=128)
    direct_key: str | None = Field(default=None, max_length=80)
    created_by: uuid.UUID
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_seq: int = 0
    """The per-chat sequence counter; its row lock serialises appends to one chat."""
    last_activity_at: datetime = Field(sa_type=UTCDateTime)


class Member(SQLModel, table=True):
    __tablename__ = "chat_members"
    __table_args__ = (sa.Index("ix_chat_members_tenant_user", "tenant", "user_id"),)

    chat_id: uuid.UUID = Field(foreign_key="chats.id", ondelete="CASCADE", primary_key=True)
    user_id: uuid.UUID = Field(primary_key=True)
    tenant: str = Field(max_length=32)
    username: str = Field(max_length=32)
    role: str = Field(max_length=8)
    joined_at: datetime = Field(sa_type=UTCDateTime)
    last_read_seq: int = 0


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        # docs/api.md: the same client_msg_id from the same sender is the same message.
        sa.UniqueConstraint(
            "chat_id", "sender_id", "client_msg_id", name="uq_messages_idempotency"
        ),
        # A thread's replies in order; only replies are indexed, so a send that is not a
        # reply pays nothing for it.
        sa.Index(
            "ix_messages_thread",
            "chat_id",
            "reply_to",
            "seq",
            postgresql_where=sa.text("reply_to IS NOT NULL"),
            sqlite_where=sa.text("reply_to IS NOT NULL"),
        ),
        # Search walks a chat newest first (storage/search.py, docs/search.md).
        sa.Index("ix_messages_chat_created", "chat_id", "created_at", "seq"),
    )

    chat_id: uuid.UUID = Field(foreign_key="chats.id", ondelete="CASCADE", primary_key=True)
    seq: int = Field(primary_key=True)
    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    tenant: str = Field(max_length=32)
    sender_id: uuid.UUID
    sender_username: str = Field(max_length=32)
    body: str = Field(sa_type=sa.Text)
    client_msg_id: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(sa_type=UTCDateTime)
    edited_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deleted: bool = False
    reply_to: int | None = None
    """The `seq` of the thread's root (a message of the same chat) when this is a reply."""
    thread_replies: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    """On a root: its replies, counted in each reply's transaction."""
    thread_last_seq: int | None = None
    thread_last_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    mentions: list[str] | None = Field(
        default=None, sa_column=sa.Column(sa.JSON(none_as_null=True), nullable=True)
    )
    """The ids of the members the body mentions, in the order it names them (None: none).
    `message_mentions` holds the same, indexed for counting a member's unread mentions."""


class Reaction(SQLModel, table=True):
    """One user's reaction with one emoji to one message: counts are `count(*)`, exact
    by construction, and a repeat of the same reaction is the same row."""

    __tablename__ = "message_reactions"

    chat_id: uuid.UUID = Field(foreign_key="chats.id", ondelete="CASCADE", primary_key=True)
    seq: int = Field(primary_key=True)
    emoji: str = Field(max_length=64, primary_key=True)
    user_id: uuid.UUID = Field(primary_key=True)
    tenant: str = Field(max_length=32)
    created_at: datetime = Field(sa_type=UTCDateTime)


class Mention(SQLModel, table=True):
    """A member named in a message. The key's order is the index `unread_mentions` reads:
    one member's mentions in one chat, past their read marker."""

    __tablename__ = "message_mentions"

    chat_id: uuid.UUID = Field(foreign_key="chats.id", ondelete="CASCADE", primary_key=True)
    user_id: uuid.UUID = Field(primary_key=True)
    seq: int = Field(primary_key=True)
    tenant: str = Field(max_length=32)


class Attachment(SQLModel, table=True):
    """An uploaded file (docs/api.md "Attachments"): its bytes are in the file store under
    `key`; the row says who uploaded it, whether the upload is complete, and which message
    it was sent in (`chat_id`, `seq`: at most once). No foreign key to the chat: the row
    outlives its message, its chat and its tenant until the sweep has deleted the file
    (`doomed` says why it is due)."""

    __tablename__ = "attachments"
    __table_args__ = (
        # A page of messages reads its attachments by (chat_id, seq).
        sa.Index("ix_attachments_message", "chat_id", "seq"),
        # The sweep looks for old uploads that were never sent.
        sa.Index("ix_attachments_created", "created_at"),
    )

    id: uuid.UUID = Field(primary_key=True)
    tenant: str = Field(max_length=32)
    uploader_id: uuid.UUID
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=127)
    size: int = Field(sa_type=sa.BigInteger)
    created_at: datetime = Field(sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """When the store was seen to hold exactly `size` bytes; only then may it be sent."""
    width: int | None = None
    height: int | None = None
    chat_id: uuid.UUID | None = None
    seq: int | None = None
    doomed: str | None = Field(default=None, max_length=16)
    """Why the file is due for deletion (`message_deleted`, `tenant_purged`), or None."""


class Lease(SQLModel, table=True):
    """A named job only one replica runs at a time: the holder renews it before
    `expires_at`; another replica takes it over only after that."""

    __tablename__ = "leases"

    name: str = Field(max_length=64, primary_key=True)
    holder: str = Field(max_length=64)
    expires_at: datetime = Field(sa_type=UTCDateTime)


class FeedEvent(SQLModel, table=True):
    """One event of a tenant's feed; `data` is its stream frame as clients receive it."""

    __tablename__ = "events"
    __table_args__ = (
        # Retention finds the old events of every tenant by age (storage/feed.py).
        sa.Index("ix_events_occurred_at", "occurred_at"),
        # A feed read: one tenant's positions after a cursor. NULLs (not yet numbered)
        # do not collide.
        sa.Index("ux_events_position", "tenant", "position", unique=True),
    )

    seq_id: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
    )
    """Insertion order: the order in which the sealer numbers committed events."""
    tenant: str = Field(max_length=32)
    position: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    """The event's place in its tenant's feed: 1, 2, 3... in commit order, no gap; None
    until the sealer numbered it (PostgreSQL, storage/feed.py)."""
    id: uuid.UUID
    type: str = Field(max_length=16)
    chat_id: uuid.UUID
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    data: dict[str, object] = Field(
        sa_column=sa.Column(sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False)
    )


class FeedPosition(SQLModel, table=True):
    """Each tenant's last feed `position`, which its sealers (or SQLite's writers) move."""

    __tablename__ = "event_positions"

    tenant: str = Field(max_length=32, primary_key=True)
    last_position: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))


class Webhook(SQLModel, table=True):
    """A tenant's webhook, and its delivery state: the outbox cursor it has delivered up
    to, its current retries, and which process holds it (a lease that expires, so a
    process that dies mid-delivery is replaced; docs/integrations.md "Webhooks")."""

    __tablename__ = "webhooks"
    __table_args__ = (sa.UniqueConstraint("tenant", "name", name="uq_webhooks_tenant_name"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tenant: str = Field(max_length=32)
    name: str = Field(max_length=32)
    url: str = Field(max_length=2048)
    events: list[str] = Field(sa_column=sa.Column(sa.JSON(), nullable=False))
    enabled: bool = True
    status: str = Field(max_length=8)
    """`active`, or `failing` once one event was retried for the whole retry window."""
    secret: str = Field(max_length=64)
    """Signs every delivery; the server needs it in clear, so it is kept, never logged."""
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    cursor: int = Field(default=0, sa_type=sa.BigInteger)
    """The outbox cursor delivered (or skipped, for a type not subscribed) up to."""
    attempts: int = 0
    """Failed attempts at the event after `cursor`; 0 when it has not failed."""
    failing_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_owner: str | None = Field(default=None, max_length=36)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
