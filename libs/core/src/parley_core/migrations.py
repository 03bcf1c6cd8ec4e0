"""The Alembic environment every service's history runs in (async engine, batch mode on
SQLite). Each service keeps its own history and version table, and only its own tables:
SQLModel keeps one metadata for every model imported into the process, so in the
embedded default a service's history must not see the other's tables.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from parley_core import db


def run(*, version_table: str, tables: Collection[str]) -> None:
    """Run the migrations Alembic asked for, on `config.attributes["database_url"]`."""

    def include_object(obj: Any, name: str | None, type_: str, *_: Any) -> bool:
        return type_ != "table" or name in tables

    def migrate(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=SQLModel.metadata,
            version_table=version_table,
            render_as_batch=connection.dialect.name == "sqlite",
            include_object=include_object,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = db.create_engine(context.config.attributes["database_url"], pool_size=1)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(migrate)
        finally:
            await engine.dispose()

    asyncio.run(run_async())
