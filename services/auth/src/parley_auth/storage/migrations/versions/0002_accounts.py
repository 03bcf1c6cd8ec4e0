"""Accounts: a user's kind, person or bot (docs/api.md "v1 additions", Accounts).

Revision ID: 0002_accounts
Revises: 0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_accounts"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every existing account is a person; the server default fills them without a rewrite
    # on PostgreSQL 11+ (a constant default is stored in the catalogue).
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("kind", sa.String(8), nullable=False, server_default="person"))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("kind")
