"""Alembic environment for the chat tables."""

from parley_chat.storage import migrate, models
from parley_core import migrations

# Importing `models` registers the chat tables on SQLModel's metadata.
migrations.run(version_table=migrate.VERSION_TABLE, tables=models.CHAT_TABLES)
