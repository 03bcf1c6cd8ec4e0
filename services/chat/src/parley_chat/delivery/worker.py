"""The webhook delivery loop each chat process runs (docs/integrations.md "Webhooks").

Every `poll_seconds` the loop takes the leases of the webhooks that have events due, up to
its free slots, and drains each one in a task of its own: its events in feed order, one
POST at a time, the cursor moved after each success. A failure ends the drain: the
webhook waits out its backoff without a slot, and its next attempt starts again at the
event that failed. So one slow or dead endpoint holds at most one slot of one process for
one timeout at a time, and never delays another webhook.

Several replicas run the same loop on one database: a webhook's lease gives it to one of
them at a time (storage/webhooks.py), and a replica that dies mid-delivery loses its
webhooks when their leases expire; the event it was sending is sent again (at least once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator

import msgspec
from litestar import Litestar

from parley_chat import metrics
from parley_chat.api import tenant as tenant_routes
from parley_chat.delivery import sender as webhook_sender
from parley_chat.domain import feed, webhooks
from parley_core.db import utcnow

logger = logging.getLogger(__name__)

BATCH = 100
"""Events read from the feed at once while draining one webhook."""

FAILING_GAUGE_SECONDS = 15.0
"""How often the loop counts the failing webhooks for `parley_webhooks_failing`."""


def render(event: feed.EventView) -> bytes:
    """The JSON body delivered: the event exactly as `GET /v1/tenant/events` serves it."""
    return msgspec.json.encode(tenant_routes.EventOut.of(event))


class Deliverer:
    def __init__(
        self,
        hooks: webhooks.Webhooks,
        sender: webhook_sender.Sender,
        *,
        concurrency: int,
        poll_seconds: float,
    ) -> None:
        self.hooks = hooks
        self.sender = sender
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.owner = str(uuid.uuid4())
        """This process's name on the leases it takes."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._leases: dict[asyncio.Task[None], webhooks.Lease] = {}

    @contextlib.asynccontextmanager
    async def running(self, _: Litestar) -> AsyncIterator[None]:
        """The app's lifespan: the loop runs while the app serves."""
        loop = None
        if self.concurrency > 0:
            loop = asyncio.create_task(self.run(), name="webhook-delivery")
        try:
            yield
        finally:
            if loop is not None:
                loop.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await loop
            await self.sender.aclose()

    async def run(self) -> None:
        counted_at = 0.0
        try:
            while True:
                try:
                    await self.take()
                    if time.monotonic() - counted_at > FAILING_GAUGE_SECONDS:
                        metrics.WEBHOOKS_FAILING.set(await self.hooks.count_failing())
                        counted_at = time.monotonic()
                except Exception:
                    # The database is away: try again next round; the leases expire.
                    logger.warning("webhook delivery could not look for work", exc_info=True)
                await asyncio.sleep(self.poll_seconds)
        finally:
            await self._stop()

    async def take(self) -> None:
        """Take the due webhooks this process has slots for, and start draining each."""
        free = self.concurrency - len(self._tasks)
        if free <= 0:
            return
        for lease in await self.hooks.take_due(self.owner, limit=free):
            task = asyncio.create_task(self._drain(lease), name=f"webhook-{lease.webhook_id}")
            self._tasks.add(task)
            self._leases[task] = lease
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._leases.pop(task, None)

    async def _stop(self) -> None:
        """On shutdown: stop every drain and give back its lease, so another replica goes
        on at once rather than after the lease expires."""
        leases = list(self._leases.values())
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for lease in leases:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.hooks.release(lease), timeout=2)

    async def _drain(self, lease: webhooks.Lease) -> None:
        try:
            await self._deliver_all(lease)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The lease expires and the webhook is taken again; nothing was lost.
            logger.warning(
                "webhook delivery stopped",
                extra={"tenant": lease.tenant, "webhook": lease.name},
                exc_info=True,
            )

    async def _deliver_all(self, lease: webhooks.Lease) -> None:
        current: webhooks.Lease | None = lease
        while current is not None:
            events = await self.hooks.pending(current, limit=BATCH)
            if not events:
                await self.hooks.release(current)
                return
            for pending in events:
                event = pending.event
                if event.type not in current.events:
                    continue
                attempt = await self._send(current, event)
                if attempt.outcome is not webhook_sender.Outcome.SUCCESS:
                    # Skipped events before this one are done; this one is retried.
                    if pending.position - 1 > current.cursor:
                        current = await self.hooks.advance(current, pending.position - 1)
                        if current is None:
                            return
                    await self.hooks.failed(current)
                    return
                current = await self.hooks.advance(current, pending.position)
                if current is None:
                    return  # another process holds it now
            if events[-1].position > current.cursor:
                current = await self.hooks.advance(current, events[-1].position)

    async def _send(self, lease: webhooks.Lease, event: feed.EventView) -> webhook_sender.Attempt:
        attempt = await self.sender.send(
            lease.url,
            secret=lease.secret,
            event_id=str(event.id),
            body=render(event),
        )
        metrics.WEBHOOK_DELIVERIES.labels(outcome=attempt.outcome.value).inc()
        if attempt.outcome is webhook_sender.Outcome.SUCCESS:
            metrics.WEBHOOK_LAG.observe(max(0.0, (utcnow() - event.occurred_at).total_seconds()))
        else:
            logger.info(
                "webhook delivery failed",
                extra={
                    "tenant": lease.tenant,
                    "webhook": lease.name,
                    "outcome": attempt.outcome.value,
                    "reason": attempt.reason,
                    "attempts": lease.attempts + 1,
                },
            )
        return attempt
