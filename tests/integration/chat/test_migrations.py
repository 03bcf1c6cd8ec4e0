"""The chat Alembic history builds exactly the tables the models describe, on both
backends, beside auth's tables in the same database."""

from __future__ import annotations

from parley_chat.storage import migrations as history
from parley_chat.storage import models
from parley_core import migrations as core_migrations
from support import migrations


def test_migrations_leave_nothing_for_autogenerate_to_add(database_url: str) -> None:
    differences = migrations.left_for_autogenerate(
        database_url,
        version_table=history.VERSION_TABLE,
        tables=models.CHAT_TABLES,
        unmodelled=history.UNMODELLED,
    )
    assert differences == []


def test_chat_keeps_its_own_migration_history(database_url: str) -> None:
    core_migrations.upgrade(history.PACKAGE, database_url)
    assert migrations.versions(database_url, version_table=history.VERSION_TABLE) == [
        "0004_attachments"
    ]
