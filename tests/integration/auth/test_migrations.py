"""The Alembic history builds exactly the tables the models describe, on both backends."""

from __future__ import annotations

from parley_auth.storage import migrate, models
from support import migrations


def test_migrations_leave_nothing_for_autogenerate_to_add(database_url: str) -> None:
    differences = migrations.left_for_autogenerate(
        database_url, version_table=migrate.VERSION_TABLE, tables=models.AUTH_TABLES
    )
    assert differences == []


def test_migrating_twice_changes_nothing(database_url: str) -> None:
    migrate.upgrade(database_url)
    assert migrations.versions(database_url, version_table=migrate.VERSION_TABLE) == ["0001"]
