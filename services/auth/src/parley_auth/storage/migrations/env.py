"""Alembic environment for the auth tables (async engine, batch mode on SQLite)."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from parley_auth.storage import migrate, models  # noqa: F401
from parley_core import db

AUTH_TABLES = {"tenants", "users", "refresh_families", "refresh_tokens"}
# Importing `models` registers the auth tables on SQLModel's metadata.
target_metadata = SQLModel.metadata


def include_object(obj, name, type_, reflected, compare_to):
    # SQLModel keeps one metadata for every model imported into the process; only the
    # auth tables are this history's business.
    if type_ == "table":
        return name in AUTH_TABLES
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
