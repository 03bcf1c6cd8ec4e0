"""The feed's order on PostgreSQL, step by step (storage/feed.py): writers insert their
events unnumbered without waiting for each other, and sealers number what has committed.
Each step is made to happen in the order that would break a sequence-numbered outbox: a
transaction that began first commits last. The concurrent version of this through the
HTTP API is in test_feed_replicas.py."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from parley_chat import metrics
from parley_chat.domain.feed import Sealer
from parley_chat.storage import feed
from parley_core import db
from parley_core.db import utcnow
from support import chat, services

TENANT = "acme"


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


async def _write(sessions: async_sessionmaker[AsyncSession], *texts: str) -> None:
    async with sessions() as session, session.begin():
        await feed.record(session, [_event(text) for text in texts], tenant=TENANT)


async def _feed(
    sessions: async_sessionmaker[AsyncSession], after: int = 0
) -> list[tuple[int, str]]:
    async with sessions() as reader:
        seen = await feed.after(reader, after, 1000, tenant=TENANT)
    return [(event.position, event.data["emoji"]) for event in seen]


async def _waiting_on_a_lock(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        waiting = await connection.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
        return int(waiting.scalar_one())


class Announced:
    """The sealer's `announce`: which tenants' long polls it woke."""

    def __init__(self) -> None:
        self.tenants: list[str] = []

    async def __call__(self, tenant: str) -> None:
        self.tenants.append(tenant)


def test_a_second_writer_does_not_wait_for_the_first_and_is_numbered_once_committed(
    database_url: str,
) -> None:
    async def main() -> None:
        engine = db.create_engine(database_url)
        sessions = db.sessionmaker(engine)
        announced = Announced()
        sealer = Sealer(sessions, announced)
        try:
            async with sessions() as first:
                await first.begin()
                await feed.record(first, [_event("first")], tenant=TENANT)
                # The first writer's transaction is open: the second commits regardless.
                await asyncio.wait_for(_write(sessions, "second"), 20)
                assert await _waiting_on_a_lock(engine) == 0
                assert await _feed(sessions) == []  # committed, not numbered yet
                assert await sealer.seal(tenant=TENANT) == 1
                assert await _feed(sessions) == [(1, "second")]
                assert announced.tenants == [TENANT]
                await first.commit()
            assert await sealer.seal(tenant=TENANT) == 1
            assert await _feed(sessions) == [(1, "second"), (2, "first")]
            assert await sealer.seal(tenant=TENANT) == 0
            assert announced.tenants == [TENANT, TENANT]  # nothing new, no wake-up
        finally:
            await engine.dispose()

    asyncio.run(main())


def test_an_event_of_a_transaction_that_began_first_and_committed_last_comes_after_the_cursor(
    database_url: str,
) -> None:
    async def main() -> None:
        engine = db.create_engine(database_url)
        sessions = db.sessionmaker(engine)
        sealer = Sealer(sessions, Announced())
        raw_url = database_url.replace("postgresql+psycopg://", "postgresql://")
        try:
            await _write(sessions, "before")
            await sealer.seal(tenant=TENANT)
            async with await psycopg.AsyncConnection.connect(raw_url) as held:
                # A writer on its own connection inserts first (the lower insertion key,
                # as a send's statement would) and then stays open.
                await held.execute(
                    "INSERT INTO events (tenant, id, type, chat_id, occurred_at, data)"
                    " VALUES (%s, %s, 'reaction', %s, now(), %s)",
                    (TENANT, uuid.uuid4(), uuid.uuid4(), '{"type":"reaction","emoji":"held"}'),
                )
                await _write(sessions, "later", "last")
                assert await sealer.seal(tenant=TENANT) == 2
                read = await _feed(sessions)
                assert read == [(1, "before"), (2, "later"), (3, "last")]
                cursor = read[-1][0]
                await held.commit()
            assert await sealer.seal(tenant=TENANT) == 1
            # Never behind the cursor a reader already had: after it, and nothing else moved.
            assert await _feed(sessions, after=cursor) == [(4, "held")]
            assert await _feed(sessions) == [*read, (4, "held")]
            async with sessions() as reader:
                assert await feed.bounds(reader, tenant=TENANT) == feed.Bounds(1, 4)
        finally:
            await engine.dispose()

    asyncio.run(main())


def test_a_rolled_back_writer_takes_no_position(database_url: str) -> None:
    async def main() -> None:
        engine = db.create_engine(database_url)
        sessions = db.sessionmaker(engine)
        sealer = Sealer(sessions, Announced())
        try:
            async with sessions() as session:
                await session.begin()
                await feed.record(session, [_event("lost")], tenant=TENANT)
                await session.rollback()
            await _write(sessions, "kept", "too")
            await sealer.seal(tenant=TENANT)
            assert await _feed(sessions) == [(1, "kept"), (2, "too")]
            async with sessions() as reader:
                assert await feed.bounds(reader, tenant=TENANT) == feed.Bounds(1, 2)
        finally:
            await engine.dispose()

    asyncio.run(main())


WRITERS = 6
WRITES_EACH = 25


def test_sealers_racing_on_two_replicas_give_each_event_exactly_one_position_and_no_gap(
    database_url: str,
) -> None:
    async def main() -> None:
        # Each "replica" has its own engine, so its own connections and sealer.
        engines = [db.create_engine(database_url) for _ in range(2)]
        replicas = [db.sessionmaker(engine) for engine in engines]
        sealers = [Sealer(sessions, Announced()) for sessions in replicas]
        writing = True
        seen: list[tuple[int, str]] = []

        async def writer(index: int) -> None:
            for n in range(WRITES_EACH):
                # Some transactions write two events.
                texts = [f"{index}-{n}"] if n % 3 else [f"{index}-{n}", f"{index}-{n}+"]
                await _write(replicas[index % 2], *texts)

        async def sealing(sealer: Sealer) -> None:
            while writing:
                await sealer.seal(tenant=TENANT)
                await asyncio.sleep(0)

        async def reading() -> None:
            cursor = 0
            while True:
                finished = not writing
                page = await _feed(replicas[1], after=cursor)
                seen.extend(page)
                if page:
                    cursor = page[-1][0]
                elif finished:
                    return
                await asyncio.sleep(0.005)

        try:
            racing = [asyncio.create_task(sealing(sealer)) for sealer in sealers]
            reader = asyncio.create_task(reading())
            await asyncio.wait_for(asyncio.gather(*(writer(i) for i in range(WRITERS))), 120)
            # Both sealers go on until everything is numbered.
            await asyncio.gather(*(sealer.seal(tenant=TENANT) for sealer in sealers))
            writing = False
            await asyncio.wait_for(asyncio.gather(*racing, reader), 60)

            everything = await _feed(replicas[0])
            total = WRITERS * (WRITES_EACH + len(range(0, WRITES_EACH, 3)))
            assert [position for position, _ in everything] == list(range(1, total + 1))
            texts = [text for _, text in everything]
            assert len(set(texts)) == total
            for text in texts:
                if text.endswith("+"):  # one transaction's two events, in their order
                    assert texts.index(text[:-1]) < texts.index(text)
            # The concurrent reader saw the whole feed, in the same order.
            assert seen == everything
            async with replicas[0]() as session:
                assert await feed.bounds(session, tenant=TENANT) == feed.Bounds(1, total)
                left = await feed.backlog(session)
            assert left.events == 0
        finally:
            for engine in engines:
                await engine.dispose()

    asyncio.run(main())


async def _numbered(sessions: async_sessionmaker[AsyncSession], count: int) -> None:
    """Wait until the feed holds `count` numbered events."""
    deadline = time.monotonic() + 20
    while len(await _feed(sessions)) < count:
        assert time.monotonic() < deadline, "the events were never numbered"
        await asyncio.sleep(0.01)


def test_a_running_sealer_numbers_a_write_it_is_woken_for_and_sweeps_up_the_rest(
    database_url: str,
) -> None:
    async def main() -> None:
        engine = db.create_engine(database_url)
        sessions = db.sessionmaker(engine)
        announced = Announced()
        try:
            # No sweep during this part: only the wake-up can number the write.
            woken = Sealer(sessions, announced, sweep_seconds=3600)
            running = asyncio.create_task(woken.running())
            await _write(sessions, "woken")
            woken.wake(TENANT)
            await _numbered(sessions, 1)
            assert announced.tenants == [TENANT]
            running.cancel()
            # A write no sealer was woken for, as one of a replica that crashed after
            # its commit: the sweep numbers it, and the gauge shows nothing left.
            await _write(sessions, "orphan")
            metrics.FEED_UNNUMBERED.set(-1)  # until a sweep reports
            sweeping = asyncio.create_task(
                Sealer(sessions, announced, sweep_seconds=0.05).running()
            )
            await _numbered(sessions, 2)
            assert await _feed(sessions) == [(1, "woken"), (2, "orphan")]
            deadline = time.monotonic() + 20
            while REGISTRY.get_sample_value("parley_chat_feed_unnumbered_events") != 0:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
            sweeping.cancel()
        finally:
            await engine.dispose()

    asyncio.run(main())
