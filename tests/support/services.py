"""The real PostgreSQL and Redis the tests use, and what happens when they are missing.

Without `PARLEY_REQUIRE_SERVICES=1` a missing server skips its tests, and the run's
summary says so loudly; with it (CI), a missing server fails them.

Several runs may share one machine's servers: each PostgreSQL database is created under a
fresh name, and every Redis key a run makes starts with `RUN_PREFIX` (pub/sub channels are
named after random chat and user ids), so no run reads, counts or empties another's.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Collection, Sequence
from typing import Any, NoReturn

import pytest
import redis
import sqlalchemy as sa

REQUIRED = os.environ.get("PARLEY_REQUIRE_SERVICES") == "1"
POSTGRES_URL = os.environ.get(
    "PARLEY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("PARLEY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

RUN_PREFIX = f"parley-test-{uuid.uuid4().hex[:12]}:"
"""Start of every Redis key this run makes; they are removed when the run ends."""

skipped_services: set[str] = set()


def unavailable(service: str, reason: str) -> NoReturn:
    """Skip, or fail under PARLEY_REQUIRE_SERVICES=1, a test that needs `service`."""
    message = f"{service} is not reachable ({reason})"
    if REQUIRED:
        pytest.fail(f"{message} and PARLEY_REQUIRE_SERVICES=1", pytrace=False)
    skipped_services.add(service)
    pytest.skip(message)


def create_postgres_database() -> str:
    """A fresh database on the test server, so a run never touches anything else."""
    admin = sa.create_engine(
        POSTGRES_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    name = f"parley_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        unavailable("PostgreSQL", str(exc.orig).splitlines()[0] if exc.orig else str(exc))
    finally:
        admin.dispose()
    return sa.engine.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    name = sa.engine.make_url(url).database
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def redis_url() -> str:
    """The test Redis; skips or fails when it does not answer. Nothing is emptied: other
    runs may be using it. Give servers a `redis_prefix()` of their own."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable("Redis", str(exc))
    finally:
        client.close()
    return REDIS_URL


def redis_prefix() -> str:
    """A fresh `PARLEY_REDIS_PREFIX` under this run's: servers given it count failed logins
    and sends, and publish, apart from every other test's. Replicas meant to share state
    get the same one."""
    return f"{RUN_PREFIX}{uuid.uuid4().hex[:8]}:"


def own_redis() -> dict[str, str]:
    """The `redis` settings group of a server with counters of its own on the test Redis."""
    return {"url": redis_url(), "prefix": redis_prefix()}


def settings_values(
    values: dict[str, Any], overrides: dict[str, Any], *, fields: Collection[str]
) -> dict[str, Any]:
    """`values` with `overrides` on top; a group given as a dict (`stream={...}`) keeps
    the values it does not name. An override that names no field fails: the settings
    ignore unknown names, so a misspelt or flattened one would silently change nothing."""
    unknown = set(overrides) - set(fields)
    if unknown:
        raise TypeError(f"no such settings: {sorted(unknown)}")
    merged = dict(values)
    for name, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(name), dict):
            merged[name] = {**merged[name], **value}
        else:
            merged[name] = value
    return merged


def delete_run_keys() -> None:
    """Remove the Redis keys this run left (counters expire anyway; this is tidiness)."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        keys = list(client.scan_iter(match=f"{RUN_PREFIX}*", count=500))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    except redis.RedisError:
        pass  # Redis was never there, or is gone: there is nothing of ours to remove.
    finally:
        client.close()


def empty_tables(database_url: str, tables: Sequence[str]) -> None:
    """Delete every row of `tables` (children first), keeping the schema."""
    engine = sa.create_engine(database_url.replace("+aiosqlite", ""))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        else:
            for table in tables:
                connection.execute(sa.text(f"DELETE FROM {table}"))
    engine.dispose()
