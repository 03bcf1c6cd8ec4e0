"""Alembic, driven from code, for every service's history: `<service> migrate` and the
embedded default call `upgrade`.

One environment and one revision template (`migration_template/`) serve every service;
a service's migrations package holds only what is its own: its revisions (`versions/`),
its version table, the tables its history manages and (`UNMODELLED`, optional) the
columns and indexes it makes that its models leave out. Each service keeps its own version
table and only its own tables, so auth and chat can share a database: SQLModel keeps one
metadata for every model imported into the process, so in the embedded default a
service's history must not see the other's tables.
"""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from parley_core import db

TEMPLATE = Path(__file__).parent / "migration_template"


def config(package: str, database_url: str) -> Config:
    """Alembic's config for the history in `package` (e.g. `parley_auth.storage.migrations`),
    which defines `VERSION_TABLE` and `TABLES` and keeps its revisions in `versions/`."""
    history = importlib.import_module(package)
    cfg = Config()
    cfg.set_main_option("script_location", str(TEMPLATE))
    # One location, split on os.pathsep rather than on spaces a checkout path may hold.
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(Path(str(history.__file__)).parent / "versions"))
    cfg.attributes["database_url"] = database_url
    cfg.attributes["version_table"] = history.VERSION_TABLE
    cfg.attributes["tables"] = frozenset(history.TABLES)
    cfg.attributes["unmodelled"] = frozenset(getattr(history, "UNMODELLED", ()))
    return cfg


def upgrade(package: str, database_url: str, revision: str = "head") -> None:
    command.upgrade(config(package, database_url), revision)


def run() -> None:
    """Run the migrations Alembic asked for (from `migration_template/env.py`)."""
    attributes = context.config.attributes
    tables = attributes["tables"]
    unmodelled = attributes["unmodelled"]

    def include_object(obj: Any, name: str | None, type_: str, *_: Any) -> bool:
        if name in unmodelled:
            return False
        return type_ != "table" or name in tables

    def migrate(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=SQLModel.metadata,
            version_table=attributes["version_table"],
            render_as_batch=connection.dialect.name == "sqlite",
            include_object=include_object,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = db.create_engine(attributes["database_url"], pool_size=1)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(migrate)
        finally:
            await engine.dispose()

    asyncio.run(run_async())
