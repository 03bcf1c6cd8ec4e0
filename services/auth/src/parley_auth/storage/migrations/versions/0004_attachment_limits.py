"""A tenant's `max_attachment_bytes` (docs/api.md "Attachments"), 25 MiB for the tenants
that exist already.

Revision ID: 0004_attachment_limits
Revises: 0003_server_keys
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_attachment_limits"
down_revision: str | None = "0003_server_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(
            sa.Column(
                "max_attachment_bytes",
                sa.BigInteger(),
                nullable=False,
                server_default="26214400",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("max_attachment_bytes")
