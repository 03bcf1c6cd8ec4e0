"""Reading what a service's Alembic history left in a database, for the migration tests
of auth and chat (tests/integration/*/test_migrations.py)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel


def left_for_autogenerate(
    database_url: str,
    *,
    version_table: str,
    tables: Collection[str],
    unmodelled: Collection[str] = (),
) -> Any:
    """What autogenerate would still add or change to make `tables` match the models; the
    other service's tables in the same database are none of its business, and neither are
    the columns and indexes the history makes on purpose outside the models (`unmodelled`)."""
    engine = sa.create_engine(database_url.replace("+aiosqlite", ""))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "version_table": version_table,
                    "compare_type": True,
                    "include_object": lambda obj, name, type_, reflected, other: (
                        name not in unmodelled and (type_ != "table" or name in tables)
                    ),
                },
            )
            return compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()


def versions(database_url: str, *, version_table: str) -> list[str]:
    """The revisions `version_table` records as applied."""
    engine = sa.create_engine(database_url.replace("+aiosqlite", ""))
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text(f"SELECT version_num FROM {version_table}"))
            return [row[0] for row in rows]
    finally:
        engine.dispose()
