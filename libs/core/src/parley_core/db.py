"""Async engines for the two backends docs/api.md allows, and column types both agree on."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from parley_core import secretfiles


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An engine for `sqlite+aiosqlite://` or `postgresql+psycopg://`; a SQLite file is
    created private to its owner (parley_core.secretfiles).

    `hide_parameters`: SQLAlchemy puts a failed statement's bound values in the error's
    text, and a logged error must never show a message body or a password hash.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            secretfiles.private_file(Path(parsed.database))
        engine = create_async_engine(url, hide_parameters=True, connect_args={"timeout": 15})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        engine = create_async_engine(
            url,
            hide_parameters=True,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_timeout=5,
            # A dead database must give a prompt 503, never a hang.
            connect_args={"connect_timeout": 3},
        )
        _ping_when_idle(engine)
        return engine
    raise ValueError(f"unsupported database URL scheme {parsed.drivername!r}")


PING_IDLE_SECONDS = 1.0
"""A pooled connection idle for longer is pinged before it is handed out."""


def _ping_when_idle(engine: AsyncEngine) -> None:
    """`pool_pre_ping`, but only for connections that sat idle.

    SQLAlchemy's pre-ping costs every checkout a round trip and, on PostgreSQL, a
    transaction of its own: a chat send was a ping, BEGIN, the statement and COMMIT. A
    connection returned a moment ago is as good as the statement it just ran; one that sat
    idle may have lost its server (a restart, a failover), and is checked as before. A
    connection that breaks within the second still fails its request (503), and SQLAlchemy
    then replaces every pooled connection older than the failure.
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _handed_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < PING_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and hands out a fresh one.
            raise sa.exc.DisconnectionError() from exc


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the one writer; busy_timeout queues writers instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    """Readiness probe: one round trip."""
    async with engine.connect() as connection:
        await connection.execute(sa.text("SELECT 1"))


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends (SQLite drops the offset)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)
