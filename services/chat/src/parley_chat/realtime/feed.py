"""Waking a tenant's long polls of `GET /v1/tenant/events` (domain/feed.py) when its feed
grows, from the broker every replica already shares rather than by polling the table.

Each publish of a feed event also goes to the tenant's feed channel (realtime/broker.py,
`wire.feed_channel`); a long poll listens there, on the same channels plugin as the
stream's connections (Redis pub/sub, or the process's memory in the embedded default).
A lost publish only delays a poll until its next look at the table (`feed.POLL_SECONDS`),
and a broker that is down leaves the polls to those looks alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from parley_chat.domain import feed
from parley_chat.realtime import broker, wire
from parley_core.errors import DependencyUnavailable


class _Waiter:
    """A listener (realtime/fanout.py) that only notes that something arrived."""

    __slots__ = ("arrived",)

    def __init__(self) -> None:
        self.arrived = asyncio.Event()

    def offer(self, event: wire.Event) -> bool:
        self.arrived.set()
        return False  # no socket was written

    async def wait(self, timeout: float) -> None:
        with suppress(TimeoutError):
            await asyncio.wait_for(self.arrived.wait(), max(timeout, 0.0))
        self.arrived.clear()


class ChannelWakeups:
    """The domain's `feed.Wakeups` over the channels plugin."""

    def __init__(self, channels: broker.ResilientChannels) -> None:
        self._channels = channels

    @asynccontextmanager
    async def listening(self, tenant: str) -> AsyncIterator[feed.Wait]:
        waiter = _Waiter()
        channel = [wire.feed_channel(tenant)]
        try:
            await self._channels.listen(waiter, channel)
        except DependencyUnavailable:
            # The broker does not take subscriptions: the poll still answers, from its
            # looks at the table alone, rather than failing a read the database can serve.
            yield _sleep
            return
        try:
            yield waiter.wait
        finally:
            await self._channels.unlisten(waiter, channel)


async def _sleep(timeout: float) -> None:
    await asyncio.sleep(max(timeout, 0.0))
