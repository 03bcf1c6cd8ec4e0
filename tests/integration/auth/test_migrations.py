"""The Alembic history builds exactly the tables the models describe, on both backends."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from parley_auth.storage import migrations, models
from parley_core import migrations as core_migrations


def test_migrations_leave_nothing_for_autogenerate_to_add(database_url: str) -> None:
    engine = sa.create_engine(database_url.replace("+aiosqlite", ""))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "version_table": migrations.VERSION_TABLE,
                    "compare_type": True,
                    "include_object": lambda obj, name, type_, reflected, other: (
                        type_ != "table" or name in models.AUTH_TABLES
                    ),
                },
            )
            differences = compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_migrating_twice_changes_nothing(database_url: str) -> None:
    core_migrations.upgrade(migrations.PACKAGE, database_url)
    engine = sa.create_engine(database_url.replace("+aiosqlite", ""))
    try:
        with engine.connect() as connection:
            version = connection.execute(
                sa.text(f"SELECT version_num FROM {migrations.VERSION_TABLE}")
            )
            assert [row[0] for row in version] == ["0001"]
    finally:
        engine.dispose()
