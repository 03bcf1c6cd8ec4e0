"""The stream's broker on a Redis Cluster: sharded pub/sub (SPUBLISH, SSUBSCRIBE), chosen by
`PARLEY_REDIS_CLUSTER` (docs/scaling.md "Past one Redis").

Plain PUBLISH on a cluster is broadcast to every node, so a cluster adds no fan-out
capacity; a sharded channel lives on the node that owns its slot, and a replica keeps one
connection per node it has channels on. Litestar has no sharded backend, and its Redis
pub/sub backend publishes with a script whose keys are the channels, which a cluster
refuses when a member event names a chat's and a user's channel (two slots): hence this
backend, on redis-py's `ClusterPubSub`. `ResilientChannels` (realtime/broker.py) runs it
like the others, restarting its loop after a failure.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterable

import redis.asyncio as aioredis
from litestar.channels.backends.base import ChannelsBackend

_POLL_SECONDS = 0.05
"""How long one read waits on one node before trying the next: redis-py reads the nodes'
connections in turn, so with N nodes an event on a quiet cluster may wait (N-1) x this."""


class ShardedPubSubBackend(ChannelsBackend):
    def __init__(self, redis: aioredis.RedisCluster) -> None:
        self._redis = redis
        self._pubsub = redis.pubsub()
        self._channels: set[str] = set()
        self._subscribed = asyncio.Event()

    async def on_startup(self) -> None:
        # Channels are routed by the client's slot map, read from the cluster here.
        await self._redis.initialize()

    async def on_shutdown(self) -> None:
        await self._pubsub.aclose()

    async def subscribe(self, channels: Iterable[str]) -> None:
        new = [channel for channel in channels if channel not in self._channels]
        if new:
            await self._redis.initialize()  # no-op once the slot map is read
            await self._pubsub.ssubscribe(*new)
            self._channels.update(new)
            self._subscribed.set()

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        gone = [channel for channel in channels if channel in self._channels]
        if gone:
            self._channels.difference_update(gone)
            await self._pubsub.sunsubscribe(*gone)
        if not self._channels:
            self._subscribed.clear()

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        # One SPUBLISH per channel, each to its own slot's node, at once.
        await asyncio.gather(*(self._redis.spublish(channel, data) for channel in set(channels)))

    async def stream_events(self) -> AsyncGenerator[tuple[str, bytes], None]:
        while True:
            await self._subscribed.wait()
            message = await self._pubsub.get_sharded_message(
                ignore_subscribe_messages=True, timeout=_POLL_SECONDS
            )
            if message is None:
                if not self._pubsub.node_pubsub_mapping:
                    await asyncio.sleep(_POLL_SECONDS)  # nothing to read from yet
                continue
            kind = message["type"]
            if kind not in ("smessage", b"smessage"):
                continue
            raw = message["channel"]
            channel = raw.decode() if isinstance(raw, bytes) else str(raw)
            # An unsubscribe takes effect later on the server: drop what still arrives.
            if channel in self._channels:
                yield channel, message["data"]

    async def get_history(self, channel: str, limit: int | None = None) -> list[bytes]:
        raise NotImplementedError("sharded pub/sub keeps no history")
