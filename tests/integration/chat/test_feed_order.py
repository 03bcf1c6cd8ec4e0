"""The feed's order on PostgreSQL, step by step (storage/feed.py): a transaction that took
a tenant's next position holds back the tenant's next writer until it commits, so no
reader ever sees position N+1 without N. The concurrent version of this is in
test_feed_replicas.py; here each step is made to happen in the order that would break a
sequence-numbered outbox."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_chat.storage import feed
from parley_core import db
from parley_core.db import utcnow
from support import chat, services


@pytest.fixture
def database_url() -> Iterator[str]:
    url = services.create_postgres_database()
    try:
        yield chat.migrated(url)
    finally:
        services.drop_postgres_database(url)


def _event(text: str) -> feed.NewEvent:
    frame = f'{{"type":"reaction","emoji":"{text}"}}'.encode()
    return feed.NewEvent(uuid.uuid4(), "reaction", uuid.uuid4(), utcnow(), frame)


async def _waiting_on_a_lock(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        waiting = await connection.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
        return bool(waiting.scalar_one())


def test_a_later_writer_waits_for_the_earlier_one_so_positions_become_visible_in_order(
    database_url: str,
) -> None:
    async def main() -> None:
        engine = db.create_engine(database_url)
        sessions = db.sessionmaker(engine)
        try:
            async with sessions() as first:
                await first.begin()
                await feed.record(first, [_event("first")], tenant="acme")

                async def second() -> None:
                    async with sessions() as session, session.begin():
                        await feed.record(session, [_event("second")], tenant="acme")

                later = asyncio.get_running_loop().create_task(second())
                deadline = time.monotonic() + 20
                while not await _waiting_on_a_lock(engine):
                    assert time.monotonic() < deadline, "the second writer never waited"
                    assert not later.done(), "the second writer did not wait for the first"
                    await asyncio.sleep(0.02)
                async with sessions() as reader:
                    assert await feed.after(reader, 0, 10, tenant="acme") == []
                await first.commit()
            await asyncio.wait_for(later, 20)
            async with sessions() as reader:
                seen = await feed.after(reader, 0, 10, tenant="acme")
            assert [(e.position, e.data["emoji"]) for e in seen] == [(1, "first"), (2, "second")]
        finally:
            await engine.dispose()

    asyncio.run(main())


def test_a_rolled_back_writer_gives_its_position_back(database_url: str) -> None:
    async def main() -> None:
        engine = db.create_engine(database_url)
        sessions = db.sessionmaker(engine)
        try:
            async with sessions() as session:
                await session.begin()
                await feed.record(session, [_event("lost")], tenant="acme")
                await session.rollback()
            async with sessions() as session, session.begin():
                await feed.record(session, [_event("kept"), _event("too")], tenant="acme")
            async with sessions() as reader:
                seen = await feed.after(reader, 0, 10, tenant="acme")
                bounds = await feed.bounds(reader, tenant="acme")
            assert [(e.position, e.data["emoji"]) for e in seen] == [(1, "kept"), (2, "too")]
            assert bounds == feed.Bounds(first_kept=1, last=2)
        finally:
            await engine.dispose()

    asyncio.run(main())
