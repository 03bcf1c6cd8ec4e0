"""Waking a tenant's long polls of `GET /v1/tenant/events` (domain/feed.py) when its feed
grows, from the broker every replica already shares rather than by polling the table.

Each publish of a feed event also goes to the tenant's feed channel (realtime/broker.py,
`wire.feed_channel`); a long poll listens there, on the same channels plugin as the
stream's connections (Redis pub/sub, or the process's memory in the embedded default).
A lost publish only delays a poll until its next look at the table (`feed.POLL_SECONDS`),
and a broker that is down leaves the polls to those looks alone.

On PostgreSQL an event gets its position only once a sealer numbers it (storage/feed.py):
`SealingPublisher` wakes this process's sealer after each local write, and the sealer
announces on the same channel once its numbers are committed (`FeedAnnouncer`), which is
what wakes the polls that found the write's own publish too early.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from parley_chat.domain import events, feed
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


class SealingPublisher:
    """The domain's `events.Publisher` that also wakes the sealer for the event's tenant:
    the event is committed, so its feed row can be numbered."""

    def __init__(self, publisher: events.Publisher, sealer: feed.Sealer) -> None:
        self._publisher = publisher
        self._sealer = sealer

    async def publish(self, event: events.ChatEvent) -> None:
        if event.tenant:
            self._sealer.wake(event.tenant)
        await self._publisher.publish(event)


_SEALED = wire.envelope(wire.Header("feed.sealed", uuid.UUID(int=0)), b"{}")
"""What wakes a long poll after a sealer's commit; only its arrival matters."""


class FeedAnnouncer:
    """The domain's `feed.Announce`: a publish on the tenant's feed channel."""

    def __init__(self, publisher: broker.ChannelsPublisher) -> None:
        self._publisher = publisher

    async def __call__(self, tenant: str) -> None:
        await self._publisher.send(_SEALED, [wire.feed_channel(tenant)])
