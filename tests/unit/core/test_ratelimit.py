"""parley_core.ratelimit: fixed windows in memory and in the real Redis."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from parley_core import errors, ratelimit
from support import services


def test_the_memory_counter_counts_within_a_window_and_starts_over_after_it() -> None:
    counter = ratelimit.MemoryCounter()

    async def run() -> tuple[int, int, int]:
        await counter.hit("k", window_seconds=1)
        second = await counter.hit("k", window_seconds=1)
        time.sleep(1.05)
        return (
            second.count,
            (await counter.peek("k")).count,
            (await counter.hit("k", window_seconds=1)).count,
        )

    assert asyncio.run(run()) == (2, 0, 1)


def test_the_memory_counter_reports_when_the_window_resets() -> None:
    window = asyncio.run(ratelimit.MemoryCounter().hit("k", window_seconds=60))
    assert 59 <= window.resets_in <= 60


def test_the_memory_counter_stays_bounded_under_many_keys() -> None:
    counter = ratelimit.MemoryCounter(max_keys=100)

    async def flood() -> None:
        for n in range(1000):
            await counter.hit(f"k{n}", window_seconds=60)

    asyncio.run(flood())
    assert len(counter._windows) <= 100


def test_redis_counters_are_shared_between_clients() -> None:
    url = services.redis_url()
    key = uuid.uuid4().hex

    async def run() -> ratelimit.Window:
        first = ratelimit.redis_client(url)
        second = ratelimit.redis_client(url)
        try:
            for _ in range(3):
                await ratelimit.RedisCounter(first, prefix=services.RUN_PREFIX).hit(
                    key, window_seconds=60
                )
            return await ratelimit.RedisCounter(second, prefix=services.RUN_PREFIX).peek(key)
        finally:
            await first.aclose()
            await second.aclose()

    window = asyncio.run(run())
    assert window.count == 3
    assert 1 <= window.resets_in <= 60


def test_concurrent_redis_hits_are_all_counted() -> None:
    url = services.redis_url()
    key = uuid.uuid4().hex

    async def run() -> int:
        client = ratelimit.redis_client(url)
        counter = ratelimit.RedisCounter(client, prefix=services.RUN_PREFIX)
        try:
            await asyncio.gather(*(counter.hit(key, window_seconds=60) for _ in range(50)))
            return (await counter.peek(key)).count
        finally:
            await client.aclose()

    assert asyncio.run(run()) == 50


def test_more_concurrent_calls_than_redis_connections_wait_for_one_instead_of_failing() -> None:
    url = services.redis_url()
    key = uuid.uuid4().hex
    calls = 2 * ratelimit.REDIS_CONNECTIONS

    async def run() -> int:
        client = ratelimit.redis_client(url)
        counter = ratelimit.RedisCounter(client, prefix="t:")
        try:
            await asyncio.gather(*(counter.hit(key, window_seconds=60) for _ in range(calls)))
            return (await counter.peek(key)).count
        finally:
            await client.aclose()

    assert asyncio.run(run()) == calls


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_take_lets_at_most_the_limit_through_however_many_arrive_at_once(backend: str) -> None:
    async def run() -> tuple[int, int]:
        client = ratelimit.redis_client(services.redis_url()) if backend == "redis" else None
        counter: ratelimit.WindowCounter = (
            ratelimit.RedisCounter(client, prefix="t:") if client else ratelimit.MemoryCounter()
        )
        limit = ratelimit.Limit("test", counter, uuid.uuid4().hex, 5, 60)

        async def one() -> bool:
            try:
                await ratelimit.take([limit])
            except ratelimit.LimitReached:
                return False
            return True

        try:
            admitted = sum(await asyncio.gather(*(one() for _ in range(150))))
            return admitted, (await counter.peek(limit.key)).count
        finally:
            if client is not None:
                await client.aclose()

    # Refused calls gave their slots back: the count is what was let through.
    assert asyncio.run(run()) == (5, 5)


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_giving_back_never_opens_a_window_nor_goes_below_zero(backend: str) -> None:
    async def run() -> tuple[int, int]:
        client = ratelimit.redis_client(services.redis_url()) if backend == "redis" else None
        counter: ratelimit.WindowCounter = (
            ratelimit.RedisCounter(client, prefix="t:") if client else ratelimit.MemoryCounter()
        )
        key = uuid.uuid4().hex
        try:
            await counter.give_back(key)  # nothing counted: nothing to give back
            await counter.hit(key, window_seconds=60)
            await counter.give_back(key)
            await counter.give_back(key)
            after = (await counter.peek(key)).count
            # A bare DECR would have left -2 here, two free failures in every later window.
            return after, (await counter.hit(key, window_seconds=60)).count
        finally:
            if client is not None:
                await client.aclose()

    assert asyncio.run(run()) == (0, 1)


def test_a_limit_that_refuses_gives_back_the_slots_other_limits_took() -> None:
    counter = ratelimit.MemoryCounter()
    wide = ratelimit.Limit("wide", counter, "wide", 100, 60)
    narrow = ratelimit.Limit("narrow", counter, "narrow", 1, 60)

    async def run() -> tuple[str, int, int]:
        await ratelimit.take([wide, narrow])
        with pytest.raises(ratelimit.LimitReached) as refused:
            await ratelimit.take([wide, narrow])
        return (
            refused.value.limit,
            (await counter.peek("wide")).count,
            (await counter.peek("narrow")).count,
        )

    assert asyncio.run(run()) == ("narrow", 1, 1)


def test_a_dead_redis_is_reported_as_an_unavailable_dependency_quickly() -> None:
    async def run() -> None:
        client = ratelimit.redis_client("redis://127.0.0.1:1/0")
        try:
            await ratelimit.RedisCounter(client, prefix=services.RUN_PREFIX).hit(
                "k", window_seconds=60
            )
        finally:
            await client.aclose()

    started = time.monotonic()
    with pytest.raises(errors.DependencyUnavailable, match="redis"):
        asyncio.run(run())
    assert time.monotonic() - started < 5


def test_the_fallback_counter_counts_in_process_while_redis_is_down_and_shares_after() -> None:
    shared_url = services.redis_url()

    async def run() -> tuple[list[int], list[int]]:
        dead = ratelimit.redis_client("redis://127.0.0.1:1/0")
        alive = ratelimit.redis_client(shared_url)
        key = f"k-{uuid.uuid4().hex}"
        try:
            during = ratelimit.FallbackCounter(
                ratelimit.RedisCounter(dead, prefix=services.RUN_PREFIX), ratelimit.MemoryCounter()
            )
            outage = [(await during.hit(key, window_seconds=60)).count for _ in range(3)]
            after = ratelimit.FallbackCounter(
                ratelimit.RedisCounter(alive, prefix=services.RUN_PREFIX), ratelimit.MemoryCounter()
            )
            other = ratelimit.FallbackCounter(
                ratelimit.RedisCounter(alive, prefix=services.RUN_PREFIX), ratelimit.MemoryCounter()
            )
            shared = [
                (await after.hit(key, window_seconds=60)).count,
                (await other.hit(key, window_seconds=60)).count,
            ]
            return outage, shared
        finally:
            await dead.aclose()
            await alive.aclose()

    outage, shared = asyncio.run(run())
    assert outage == [1, 2, 3]  # the limit still holds, per process
    assert shared == [1, 2]  # two replicas count together again


class Tally:
    """A real counter that also counts how often it was asked."""

    def __init__(self, counter: ratelimit.WindowCounter) -> None:
        self.counter = counter
        self.calls = 0

    async def hit(self, key: str, *, window_seconds: int) -> ratelimit.Window:
        self.calls += 1
        return await self.counter.hit(key, window_seconds=window_seconds)

    async def peek(self, key: str) -> ratelimit.Window:
        self.calls += 1
        return await self.counter.peek(key)

    async def give_back(self, key: str) -> None:
        self.calls += 1
        await self.counter.give_back(key)


@pytest.mark.parametrize(("retry_seconds", "tries"), [(3600.0, 1), (0.0, 6)])
def test_the_fallback_counter_leaves_a_failed_redis_alone_until_its_retry_time(
    retry_seconds: float, tries: int
) -> None:
    async def run() -> tuple[int, list[int]]:
        dead = ratelimit.redis_client("redis://127.0.0.1:1/0")
        try:
            primary = Tally(ratelimit.RedisCounter(dead, prefix="t:"))
            counter = ratelimit.FallbackCounter(
                primary, ratelimit.MemoryCounter(), retry_seconds=retry_seconds
            )
            counts = [(await counter.hit("k", window_seconds=60)).count for _ in range(3)]
            counts += [(await counter.peek("k")).count for _ in range(3)]
            return primary.calls, counts
        finally:
            await dead.aclose()

    calls, counts = asyncio.run(run())
    assert calls == tries
    assert counts == [1, 2, 3, 3, 3, 3]  # counted in the process all along
