"""Alembic environment for the chat tables (async engine, batch mode on SQLite)."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from parley_chat.storage import migrate, models
from parley_core import db

# Importing `models` registers the chat tables on SQLModel's metadata.
target_metadata = SQLModel.metadata


def include_object(obj, name, type_, reflected, compare_to):
    # SQLModel keeps one metadata for every model imported into the process; only the
    # chat tables are this history's business.
    if type_ == "table":
        return name in models.CHAT_TABLES
    return True


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=migrate.VERSION_TABLE,
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
            await connection.run_sync(run)
    finally:
        await engine.dispose()


asyncio.run(run_async())
