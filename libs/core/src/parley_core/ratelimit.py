"""Fixed-window counters for limits that count events rather than requests.

Why not Litestar's RateLimitMiddleware or its stores: the middleware counts every request,
but docs/api.md limits *failed* logins (a success must not count) and per-tenant send
quotas read from tenant settings; and the Store interface has no atomic increment, so a
burst of parallel guesses would race a get-then-set and slip past the limit. Redis INCR is
atomic across replicas; the in-memory counter serves the single-process embedded default.

Count first, then decide (`take`): a limit that is only checked, with the event counted
once its outcome is known, lets every request that arrives while the first ones are still
being decided through: 30 parallel guesses all saw "0 failures so far" and all reached
argon2. `take` instead reserves a slot with one atomic increment per limit and refuses
when the count it got back is past the limit; a refused request gives its slots back at
once, and a request whose outcome turns out not to count (a successful login is not a
failure) gives them back when it knows. At any moment the count is the events kept plus
the requests still being decided, so no more than the limit can be in flight or kept,
whatever the interleaving, on one process or across replicas sharing Redis.

A slot given back after its window ended is taken off the next window instead (giving
back never creates a window or goes below zero): one window may then admit one more
event per request that straddled its start, which is no lever for a guesser, since only
requests that turned out not to count give anything back.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis
import redis.exceptions

from parley_core.errors import DependencyUnavailable

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Window:
    count: int
    """Events counted in the current window."""
    resets_in: int
    """Whole seconds until the window ends (at least 1 while count > 0)."""


class WindowCounter(Protocol):
    async def hit(self, key: str, *, window_seconds: int) -> Window:
        """Count one event under `key` and return the window after it."""
        ...

    async def peek(self, key: str) -> Window:
        """The window under `key`, without counting."""
        ...

    async def give_back(self, key: str) -> None:
        """Uncount one event under `key` in its current window, if it has any."""
        ...


class MemoryCounter:
    """One process's counters; expired windows are swept as new ones open."""

    def __init__(self, *, max_keys: int = 100_000) -> None:
        self._windows: dict[str, tuple[int, float]] = {}
        self._max_keys = max_keys

    async def hit(self, key: str, *, window_seconds: int) -> Window:
        now = time.monotonic()
        count, ends_at = self._windows.get(key, (0, 0.0))
        if ends_at <= now:
            if len(self._windows) >= self._max_keys:
                self._sweep(now)
            count, ends_at = 0, now + window_seconds
        self._windows[key] = (count + 1, ends_at)
        return Window(count + 1, _whole_seconds(ends_at - now))

    async def peek(self, key: str) -> Window:
        now = time.monotonic()
        count, ends_at = self._windows.get(key, (0, 0.0))
        if ends_at <= now:
            return Window(0, 0)
        return Window(count, _whole_seconds(ends_at - now))

    async def give_back(self, key: str) -> None:
        count, ends_at = self._windows.get(key, (0, 0.0))
        if count > 0 and ends_at > time.monotonic():
            self._windows[key] = (count - 1, ends_at)

    def _sweep(self, now: float) -> None:
        self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
        if len(self._windows) >= self._max_keys:
            # Still full of live windows: drop the oldest half rather than grow without bound.
            live = sorted(self._windows.items(), key=lambda item: item[1][1])
            self._windows = dict(live[len(live) // 2 :])


# Decrement only a live window with something in it: a bare DECR on an expired key would
# create one at -1 with no expiry, a free slot in every window from then on.
_GIVE_BACK = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then
    return redis.call('DECR', KEYS[1])
end
return 0
"""


# Count and open the window atomically, in one command: a MULTI pipeline of the same three
# commands is also one round trip, but five commands to pack and five replies to parse
# on every chat send.
_HIT = """
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1], 'NX')
return {count, redis.call('PTTL', KEYS[1])}
"""


class RedisCounter:
    """Counters shared by every replica; INCR and EXPIRE NX run in one script."""

    def __init__(self, client: RedisClient, *, prefix: str) -> None:
        self._client = client
        self._prefix = prefix
        self._hit = client.register_script(_HIT)
        self._give_back = client.register_script(_GIVE_BACK)

    async def hit(self, key: str, *, window_seconds: int) -> Window:
        try:
            count, pttl = await self._hit(keys=[self._prefix + key], args=[window_seconds])
        except redis.exceptions.RedisError as exc:
            raise DependencyUnavailable("redis") from exc
        return Window(int(count), _seconds_left(pttl))

    async def peek(self, key: str) -> Window:
        name = self._prefix + key
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.get(name)
                pipe.pttl(name)
                count, pttl = await pipe.execute()
        except redis.exceptions.RedisError as exc:
            raise DependencyUnavailable("redis") from exc
        if count is None:
            return Window(0, 0)
        return Window(int(count), _seconds_left(pttl))

    async def give_back(self, key: str) -> None:
        try:
            await self._give_back(keys=[self._prefix + key])
        except redis.exceptions.RedisError as exc:
            raise DependencyUnavailable("redis") from exc


class FallbackCounter:
    """Shared counters that degrade to this process's own while the shared store is down.

    For limits that protect capacity rather than secrets (the send rate): a Redis outage
    must not stop people from sending, so each replica enforces the limit on its own
    until Redis answers again.

    After a failure the shared store is left alone for `retry_seconds`: a Redis that hangs
    costs a request one timeout, not one per counter it touches (adding 200 members counts
    200 users), and not one per request while it is down.
    """

    def __init__(
        self, primary: WindowCounter, fallback: WindowCounter, *, retry_seconds: float = 2.0
    ) -> None:
        self._primary = primary
        self._fallback = fallback
        self._retry_seconds = retry_seconds
        self._skip_until = float("-inf")
        self._degraded = False

    async def hit(self, key: str, *, window_seconds: int) -> Window:
        if time.monotonic() < self._skip_until:
            return await self._fallback.hit(key, window_seconds=window_seconds)
        try:
            window = await self._primary.hit(key, window_seconds=window_seconds)
        except DependencyUnavailable:
            self._failed()
            return await self._fallback.hit(key, window_seconds=window_seconds)
        self._set_degraded(False)
        return window

    async def peek(self, key: str) -> Window:
        if time.monotonic() < self._skip_until:
            return await self._fallback.peek(key)
        try:
            return await self._primary.peek(key)
        except DependencyUnavailable:
            self._failed()
            return await self._fallback.peek(key)

    async def give_back(self, key: str) -> None:
        if time.monotonic() < self._skip_until:
            await self._fallback.give_back(key)
            return
        try:
            await self._primary.give_back(key)
        except DependencyUnavailable:
            self._failed()
            await self._fallback.give_back(key)

    def _failed(self) -> None:
        self._skip_until = time.monotonic() + self._retry_seconds
        self._set_degraded(True)

    def _set_degraded(self, degraded: bool) -> None:
        if degraded != self._degraded:
            self._degraded = degraded
            if degraded:
                logger.warning("shared counters unavailable; counting in this process")
            else:
                logger.info("shared counters available again")


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `allowed` events under `key` per window of `window_seconds`."""

    name: str
    """What a refusal reports (the `limit` label of parley_rate_limited_requests_total)."""
    counter: WindowCounter
    key: str
    allowed: int
    window_seconds: int


class LimitReached(Exception):
    """`take` refused: `limit` is the first limit that was past, `retry_after` the seconds
    until every limit that was past has a slot again."""

    def __init__(self, limit: str, retry_after: int) -> None:
        self.limit = limit
        self.retry_after = retry_after
        super().__init__(f"{limit} reached")


async def take(limits: Sequence[Limit]) -> None:
    """Count one event against each of `limits`, or none at all and raise LimitReached.

    The slots stay taken: call `give_back` with the limits whose event turned out not to
    count. A counter that fails (DependencyUnavailable) gives back what was taken and
    propagates.
    """
    taken: list[tuple[Limit, Window]] = []
    try:
        for limit in limits:
            taken.append(
                (limit, await limit.counter.hit(limit.key, window_seconds=limit.window_seconds))
            )
    except BaseException:
        await give_back([limit for limit, _ in taken])
        raise
    past = [(limit, window) for limit, window in taken if window.count > limit.allowed]
    if past:
        await give_back(limits)
        raise LimitReached(past[0][0].name, max(window.resets_in for _, window in past))


async def give_back(limits: Sequence[Limit]) -> None:
    """Return the slots `take` counted. Best effort: a counter that cannot be reached keeps
    its slot until the window ends, which errs toward refusing."""
    for limit in limits:
        try:
            await limit.counter.give_back(limit.key)
        except DependencyUnavailable:
            logger.warning("could not give back a rate-limit slot", extra={"limit": limit.name})


def _whole_seconds(seconds: float) -> int:
    # `now + 60 - now` can come out as 60.000000000004 in floating point, which rounded
    # up read as a 61 s window; a microsecond's tolerance keeps it 60.
    return math.ceil(seconds - 1e-6)


def _seconds_left(pttl: int) -> int:
    # Redis TTL rounds to the nearest second, so 1.4 s left read as 1 and a client
    # honouring Retry-After came back inside the window; PTTL rounded up never undershoots.
    return max(math.ceil(int(pttl) / 1000), 1)


REDIS_CONNECTIONS = 100
"""Connections one process opens to Redis at most; more requests at once wait their turn."""


RedisClient = aioredis.Redis | aioredis.RedisCluster
"""One Redis, or a Redis Cluster (`PARLEY_REDIS_CLUSTER`). Every key Parley writes is used
alone (a counter, a ticket), so each command and script touches one slot, and no key
needs a hash tag."""


def redis_client(url: str, *, cluster: bool = False) -> RedisClient:
    """A client whose calls fail within a second or two when Redis is gone, never hang.

    A blocking pool: redis-py's default pool refuses a call outright (MaxConnectionsError)
    once its 100 connections are busy, which turned a burst of 200 logins into 100 503s;
    this one makes the extra calls wait up to two seconds for a connection instead.
    """
    if cluster:
        # One pool per node, each at most REDIS_CONNECTIONS connections.
        return aioredis.RedisCluster.from_url(
            url,
            max_connections=REDIS_CONNECTIONS,
            socket_connect_timeout=1.0,
            socket_timeout=2.0,
        )
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=REDIS_CONNECTIONS,
        timeout=2.0,
        socket_connect_timeout=1.0,
        socket_timeout=2.0,
        health_check_interval=15,
        retry_on_timeout=False,
    )
    return aioredis.Redis.from_pool(pool)
