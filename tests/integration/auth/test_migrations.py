"""The Alembic history builds exactly the tables the models describe, on both backends."""

from __future__ import annotations

from parley_auth.storage import migrations as history
from parley_auth.storage import models
from parley_core import migrations as core_migrations
from support import migrations


def test_migrations_leave_nothing_for_autogenerate_to_add(database_url: str) -> None:
    differences = migrations.left_for_autogenerate(
        database_url, version_table=history.VERSION_TABLE, tables=models.AUTH_TABLES
    )
    assert differences == []


def test_migrating_twice_changes_nothing(database_url: str) -> None:
    core_migrations.upgrade(history.PACKAGE, database_url)
    assert migrations.versions(database_url, version_table=history.VERSION_TABLE) == [
        "0004_attachment_limits"
    ]
