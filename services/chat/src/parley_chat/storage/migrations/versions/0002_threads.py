"""Threads, reactions and mentions: a reply's root and each root's thread summary on
`messages`, the `message_reactions` and `message_mentions` tables.

Revision ID: 0002_threads
Revises: 0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from parley_core.db import UTCDateTime

revision: str = "0002_threads"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("reply_to", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("thread_replies", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("thread_last_seq", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("thread_last_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("mentions", sa.JSON(none_as_null=True), nullable=True))
    op.create_index(
        "ix_messages_thread",
        "messages",
        ["chat_id", "reply_to", "seq"],
        postgresql_where=sa.text("reply_to IS NOT NULL"),
        sqlite_where=sa.text("reply_to IS NOT NULL"),
    )
    op.create_table(
        "message_reactions",
        sa.Column(
            "chat_id",
            sa.Uuid(),
            sa.ForeignKey("chats.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("emoji", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "message_mentions",
        sa.Column(
            "chat_id",
            sa.Uuid(),
            sa.ForeignKey("chats.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("user_id", sa.Uuid(), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("tenant", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("message_mentions")
    op.drop_table("message_reactions")
    op.drop_index("ix_messages_thread", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        for column in ("mentions", "thread_last_at", "thread_last_seq", "thread_replies"):
            batch.drop_column(column)
        batch.drop_column("reply_to")
