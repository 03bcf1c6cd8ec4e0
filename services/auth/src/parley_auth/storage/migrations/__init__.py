"""The auth tables' history: revisions in `versions/`, run by `parley_core.migrations`."""

from parley_auth.storage import models

PACKAGE = __name__
"""What `parley_core.migrations.upgrade` takes to run this history."""

VERSION_TABLE = "alembic_version_auth"
"""Auth keeps its own history so it can share a database with chat without colliding."""

# Importing `models` registers the auth tables on SQLModel's metadata.
TABLES = models.AUTH_TABLES
