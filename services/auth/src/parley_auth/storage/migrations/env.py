"""Alembic environment for the auth tables."""

from parley_auth.storage import migrate, models
from parley_core import migrations

# Importing `models` registers the auth tables on SQLModel's metadata.
migrations.run(version_table=migrate.VERSION_TABLE, tables=models.AUTH_TABLES)
