"""Fixed-window counters for limits that count events rather than requests.

Why not Litestar's RateLimitMiddleware or its stores: the middleware counts every request,
but shared/API.md limits *failed* logins (a success must not count) and per-tenant send
quotas read from tenant settings; and the Store interface has no atomic increment, so a
burst of parallel guesses would race a get-then-set and slip past the limit. Redis INCR is
atomic across replicas; the in-memory counter serves the single-process embedded default.
"""

from __future__ import annotations

import logging
import math
import time
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
        return Window(count + 1, math.ceil(ends_at - now))

    async def peek(self, key: str) -> Window:
        now = time.monotonic()
        count, ends_at = self._windows.get(key, (0, 0.0))
        if ends_at <= now:
            return Window(0, 0)
        return Window(count, math.ceil(ends_at - now))

    def _sweep(self, now: float) -> None:
        self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
        if len(self._windows) >= self._max_keys:
            # Still full of live windows: drop the oldest half rather than grow without bound.
            live = sorted(self._windows.items(), key=lambda item: item[1][1])
            self._windows = dict(live[len(live) // 2 :])


class RedisCounter:
    """Counters shared by every replica; INCR and EXPIRE NX run in one transaction."""

    def __init__(self, client: aioredis.Redis, *, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    async def hit(self, key: str, *, window_seconds: int) -> Window:
        name = self._prefix + key
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, window_seconds, nx=True)
                pipe.pttl(name)
                count, _, pttl = await pipe.execute()
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


def _seconds_left(pttl: int) -> int:
    # Redis TTL rounds to the nearest second, so 1.4 s left read as 1 and a client
    # honouring Retry-After came back inside the window; PTTL rounded up never undershoots.
    return max(math.ceil(int(pttl) / 1000), 1)


def redis_client(url: str) -> aioredis.Redis:
    """A client whose calls fail within a second or two when Redis is gone, never hang."""
    return aioredis.Redis.from_url(
        url,
        socket_connect_timeout=1.0,
        socket_timeout=2.0,
        health_check_interval=15,
        retry_on_timeout=False,
    )
