"""The chat tables' history: revisions in `versions/`, run by `parley_core.migrations`."""

from parley_chat.storage import models

PACKAGE = __name__
"""What `parley_core.migrations.upgrade` takes to run this history."""

VERSION_TABLE = "alembic_version_chat"
"""Chat keeps its own history so it can share a database with auth without colliding."""

# Importing `models` registers the chat tables on SQLModel's metadata.
TABLES = models.CHAT_TABLES

UNMODELLED = frozenset({"search_vector", "ix_messages_search", "ix_events_unnumbered"})
"""Columns and indexes the history makes that the models leave out: the search index,
which differs by backend (versions/0003_search.py), and the feed sealer's partial index
(versions/0004_events.py). Autogenerate must not drop them."""
