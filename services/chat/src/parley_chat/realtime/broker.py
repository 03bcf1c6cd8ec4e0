"""The channels plugin that carries events between replicas, and the publisher that feeds it.

Litestar's channels plugin with its Redis pub/sub backend (several replicas) or its
in-memory backend (the embedded default). Two things are added here, each with its reason:

- Litestar's subscription worker ends for good on the first broker error, which would
  silently stop live delivery on that replica for the rest of its life. `ResilientChannels`
  restarts it with backoff, and once the broker answers again it tells every connection
  to resync from the database, since whatever was published meanwhile is lost; and once
  more when other replicas' publishers have stopped skipping the broker.
- Publishing awaits the broker with a short timeout and never fails the request: the
  message is already committed, and the stream's gap fill and `resume` read it back from
  the log. A gap fill needs a later message to notice the gap, though, so the last lost
  message event of each chat is published again once the broker answers; a connection
  that already has it drops it, and one that missed more fills the gap from the log.

- Stream connections listen on channels directly (`listen`, `unlisten`): each event is
  opened once and offered to every listening connection in one pass (realtime/fanout.py),
  instead of going through a Litestar `Subscriber` (a queue, and a task per connection to
  drain it) per connection. Litestar's subscribers still work beside them.

`ResilientChannels` overrides Litestar's private `_sub_worker` and reads its `_backend`
and `_channels`, rather than owning a subscription loop on redis-py: the plugin's
backends (Redis pub/sub, in-memory) and its publishing stay Litestar's, and only the one
loop that dies is replaced. The price is a version range: services/chat/pyproject.toml
bounds Litestar to the minor releases checked, and tests/unit/chat/test_broker_contract.py
asserts the attributes relied on, so a release that moves them fails a test, not a replica.

When tracing is on, each publish is a producer span whose W3C context travels in the
envelope's header, so the span that writes the frame on any replica links back to the
request that produced it (docs/observability.md, "Traces").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

import redis.asyncio as aioredis
import redis.exceptions
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from opentelemetry import trace

from parley_chat import metrics
from parley_chat.domain import events
from parley_chat.realtime import fanout, sharded, wire
from parley_core import telemetry
from parley_core.errors import DependencyUnavailable

logger = logging.getLogger(__name__)

Watcher = Callable[[str, bytes], None]
"""Takes every payload of the channels it watches (realtime/presence.py)."""

_RETRY_MIN_SECONDS = 0.1
_RETRY_MAX_SECONDS = 5.0
_SKIP_AFTER_FAILURE_SECONDS = 2.0
_RESYNC_AGAIN_AFTER_SECONDS = _SKIP_AFTER_FAILURE_SECONDS + 2.0
_UNSENT_CHATS_KEPT = 10_000


class ResilientChannels(ChannelsPlugin):
    def __init__(
        self,
        *,
        redis: aioredis.Redis | aioredis.RedisCluster | None,
        tracer: trace.Tracer | None = None,
    ) -> None:
        backend: ChannelsBackend
        if isinstance(redis, aioredis.RedisCluster):
            backend = sharded.ShardedPubSubBackend(redis)
        elif redis is not None:
            backend = RedisChannelsPubSubBackend(redis=redis, key_prefix="PARLEY_CHANNELS")
        else:
            backend = MemoryChannelsBackend()
        super().__init__(backend=backend, arbitrary_channels_allowed=True)
        self._redis = redis
        self._tracer = tracer
        self._listeners: dict[str, dict[fanout.Listener, None]] = {}
        """Per channel, the connections listening on it (a dict: ordered, O(1) removal)."""
        self._watchers: dict[str, Watcher] = {}
        """Channels delivered to one callback instead (realtime/presence.py)."""
        self.on_recovered: list[Callable[[], None]] = []
        self.healthy = True
        metrics.BROKER_SUBSCRIPTION_UP.set(1)

    async def listen(self, listener: fanout.Listener, channels: Iterable[str]) -> None:
        """Offer `listener` every event published on `channels` from now on."""
        new = []
        for channel in channels:
            listeners = self._listeners.get(channel)
            if listeners is None:
                if not self._taken(channel):
                    new.append(channel)
                listeners = self._listeners[channel] = {}
            listeners[listener] = None
        if new:
            try:
                await self._subscribe(new)
            except DependencyUnavailable:
                await self.unlisten(listener, channels)
                raise

    async def unlisten(self, listener: fanout.Listener, channels: Iterable[str]) -> None:
        gone = []
        for channel in channels:
            listeners = self._listeners.get(channel)
            if listeners is None:
                continue
            listeners.pop(listener, None)
            if not listeners:
                del self._listeners[channel]
                if not self._taken(channel):
                    gone.append(channel)
        if gone:
            await self._backend.unsubscribe(gone)

    @property
    def backend_name(self) -> str:
        if isinstance(self._redis, aioredis.RedisCluster):
            return "redis-cluster"
        return "redis" if self._redis is not None else "memory"

    async def _sub_worker(self) -> None:
        delay = _RETRY_MIN_SECONDS
        while True:
            try:
                async for channel, payload in self._backend.stream_events():
                    listeners = self._listeners.get(channel)
                    if listeners:
                        fanout.deliver(payload, listeners, self._tracer)
                    for subscriber in self._channels.get(channel, ()):
                        subscriber.put_nowait(payload)
                    if (watcher := self._watchers.get(channel)) is not None:
                        watcher(channel, payload)
                return
            except Exception as exc:  # whatever ends the worker, it must come back
                if self.healthy:
                    logger.warning(
                        "broker subscription lost", extra={"error.type": type(exc).__name__}
                    )
                self.healthy = False
                metrics.BROKER_SUBSCRIPTION_UP.set(0)
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX_SECONDS)
            if await self._broker_answers():
                logger.info("broker subscription restored; connections resync")
                self.healthy = True
                metrics.BROKER_SUBSCRIPTION_UP.set(1)
                delay = _RETRY_MIN_SECONDS
                self._notify_recovered()
                # Replicas whose publish failed keep skipping the broker for a while after
                # it is back (ChannelsPublisher.send); what they skip is only in the log,
                # and if it was a chat's last message no later frame would pull it in.
                asyncio.get_running_loop().call_later(
                    _RESYNC_AGAIN_AFTER_SECONDS, self._notify_recovered
                )

    async def watch(self, channels: Iterable[str], watcher: Watcher) -> None:
        """Deliver `channels` to `watcher`, on the subscription loop, without a Litestar
        `Subscriber` per channel: presence watches thousands of channels per replica, and
        the plugin's `unsubscribe` walks every channel it knows."""
        new = []
        for channel in channels:
            if not self._taken(channel):
                new.append(channel)
            self._watchers[channel] = watcher
        if new:
            await self._subscribe(new)

    async def unwatch(self, channels: Iterable[str]) -> None:
        gone = []
        for channel in channels:
            if self._watchers.pop(channel, None) is not None and not self._taken(channel):
                gone.append(channel)
        if gone:
            await self._backend.unsubscribe(gone)

    async def _subscribe(self, channels: list[str]) -> None:
        """Subscribe the backend to `channels`; a broker that does not take it (down, or
        reconnecting under the subscription loop) is `DependencyUnavailable`, so a stream
        closes with 1013 and its client resumes, rather than listening to nothing."""
        try:
            await self._backend.subscribe(channels)
        except (redis.exceptions.RedisError, OSError, RuntimeError) as exc:
            raise DependencyUnavailable("redis") from exc

    def _taken(self, channel: str) -> bool:
        """Whether the backend is subscribed to `channel` for someone already."""
        return channel in self._channels or channel in self._listeners or channel in self._watchers

    def _notify_recovered(self) -> None:
        for callback in self.on_recovered:
            callback()

    async def _broker_answers(self) -> bool:
        if self._redis is None:
            return True
        try:
            await self._redis.ping()
        except (redis.exceptions.RedisError, OSError):
            return False
        return True


class ChannelsPublisher:
    """The domain's `Publisher`: events to the broker, as envelopes."""

    def __init__(
        self,
        channels: ChannelsPlugin,
        *,
        timeout_seconds: float = 1.0,
        tracer: trace.Tracer | None = None,
    ) -> None:
        self._channels = channels
        self._timeout = timeout_seconds
        self._tracer = tracer
        self._system = (
            channels.backend_name if isinstance(channels, ResilientChannels) else "channels"
        )
        self.failures = 0
        self._down_until = 0.0
        self._unsent: dict[str, tuple[bytes, list[str]]] = {}
        """Message events that did not reach the broker and no later one superseded, to
        publish again: per chat its last `message`, per message its last edit."""
        self._redelivery: asyncio.Task[None] | None = None

    async def publish(self, event: events.ChatEvent) -> None:
        if self._tracer is None:
            await self._publish(event)
            return
        with self._tracer.start_as_current_span(
            f"publish {event.kind}",
            kind=trace.SpanKind.PRODUCER,
            attributes={
                "messaging.system": self._system,
                "messaging.operation.type": "send",
                "messaging.destination.name": "parley:chat",
                "parley.chat.id": str(_chat_id(event)),
            },
        ) as span:
            if not await self._publish(event, traceparent=telemetry.traceparent()):
                span.set_status(trace.StatusCode.ERROR, "broker unavailable")

    async def _publish(self, event: events.ChatEvent, traceparent: str | None = None) -> bool:
        if isinstance(event, events.MessageEvent):
            message = event.message
            header = wire.Header(
                event.kind,
                message.chat_id,
                seq=message.seq,
                at=time.time(),
                traceparent=traceparent,
            )
            frame = wire.message_frame(event.kind, message)
            targets = [wire.chat_channel(message.chat_id), *_feed(event)]
            payload = wire.envelope(header, frame)
            sent = await self.send(payload, targets)
            # A lost `message` is superseded by the chat's next one (its gap pulls the
            # lost one in from the log); a lost edit only by a later edit of that message.
            key = targets[0] if event.kind == "message" else f"{targets[0]}:{message.seq}"
            self._track(key, payload, targets, sent=sent)
            return sent
        if isinstance(event, events.ReactionEvent):
            header = wire.Header(
                event.kind,
                event.chat_id,
                seq=event.seq,
                user_id=event.user_id,
                at=time.time(),
                traceparent=traceparent,
            )
            frame = wire.reaction_frame(
                event.chat_id, event.seq, event.emoji, event.user_id, event.op, event.count
            )
            targets = [wire.chat_channel(event.chat_id), *_feed(event)]
        else:
            member = event.member
            header = wire.Header(
                event.kind,
                event.chat_id,
                user_id=member.user_id,
                last_seq=event.last_seq,
                traceparent=traceparent,
            )
            frame = wire.member_frame(event.kind, event.chat_id, member)
            # The member's own channel reaches their connections that are not yet (or no
            # longer) subscribed to the chat's.
            targets = [
                wire.chat_channel(event.chat_id),
                wire.user_channel(member.user_id),
                *_feed(event),
            ]
        return await self.send(wire.envelope(header, frame), targets)

    def _track(self, key: str, payload: bytes, targets: list[str], *, sent: bool) -> None:
        self._unsent.pop(key, None)
        if sent:
            return
        self._unsent[key] = (payload, targets)
        if len(self._unsent) > _UNSENT_CHATS_KEPT:
            # The oldest goes; a connection's periodic re-check still catches the chat up.
            del self._unsent[next(iter(self._unsent))]
        if self._redelivery is None or self._redelivery.done():
            self._redelivery = asyncio.get_running_loop().create_task(self._redeliver())

    async def _redeliver(self) -> None:
        """Publish each chat's last lost message event again once the broker answers."""
        while self._unsent:
            await asyncio.sleep(max(0.0, self._down_until - time.monotonic()) + _RETRY_MIN_SECONDS)
            for key, unsent in list(self._unsent.items()):
                if not await self.send(*unsent):
                    break
                metrics.BROKER_REDELIVERIES.inc()
                if self._unsent.get(key) is unsent:  # not superseded meanwhile
                    del self._unsent[key]

    async def send(self, payload: bytes, targets: list[str]) -> bool:
        # After a failure, skip the broker for a moment instead of waiting on it again:
        # a group created with 200 members would otherwise wait 200 timeouts on a dead
        # Redis. What is skipped is recovered from the log like any lost publish.
        if time.monotonic() < self._down_until:
            self.failures += 1
            _PUBLISH_FAILED.inc()
            return False
        try:
            await asyncio.wait_for(self._channels.wait_published(payload, targets), self._timeout)
        except (TimeoutError, redis.exceptions.RedisError, OSError) as exc:
            self.failures += 1
            self._down_until = time.monotonic() + _SKIP_AFTER_FAILURE_SECONDS
            _PUBLISH_FAILED.inc()
            logger.warning(
                "publishing to the broker failed; resume will recover it",
                extra={"error.type": type(exc).__name__},
            )
            return False
        _PUBLISHED.inc()
        return True


_PUBLISHED = metrics.BROKER_PUBLISHES.labels(outcome="ok")
_PUBLISH_FAILED = metrics.BROKER_PUBLISHES.labels(outcome="failed")


def _chat_id(event: events.ChatEvent) -> object:
    return events.chat_of(event)


def _feed(event: events.ChatEvent) -> list[str]:
    """The tenant's feed channel, in the same publish (one round trip to the broker)."""
    return [wire.feed_channel(event.tenant)] if event.tenant else []
