"""Chats, members and the per-chat message log.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from parley_core.db import UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chats",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(32), nullable=False, index=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("title", sa.String(128), nullable=True),
        sa.Column("direct_key", sa.String(80), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_activity_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("tenant", "direct_key", name="uq_chats_tenant_direct_key"),
    )
    op.create_table(
        "chat_members",
        sa.Column(
            "chat_id",
            sa.Uuid(),
            sa.ForeignKey("chats.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("user_id", sa.Uuid(), primary_key=True),
        sa.Column("tenant", sa.String(32), nullable=False),
        sa.Column("username", sa.String(32), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("joined_at", UTCDateTime(), nullable=False),
        sa.Column("last_read_seq", sa.Integer(), nullable=False),
    )
    op.create_index("ix_chat_members_tenant_user", "chat_members", ["tenant", "user_id"])
    op.create_table(
        "messages",
        sa.Column(
            "chat_id",
            sa.Uuid(),
            sa.ForeignKey("chats.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant", sa.String(32), nullable=False),
        sa.Column("sender_id", sa.Uuid(), nullable=False),
        sa.Column("sender_username", sa.String(32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("client_msg_id", sa.String(128), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("edited_at", UTCDateTime(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.UniqueConstraint(
            "chat_id", "sender_id", "client_msg_id", name="uq_messages_idempotency"
        ),
    )


def downgrade() -> None:
    op.drop_table("messages")
    op.drop_index("ix_chat_members_tenant_user", table_name="chat_members")
    op.drop_table("chat_members")
    op.drop_table("chats")
