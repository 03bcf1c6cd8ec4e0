"""A tenant's webhooks (docs/integrations.md "Webhooks"): what `/v1/tenant/webhooks`
keeps, which URLs it accepts, and the bookkeeping of delivery over the outbox.

Delivery itself (HTTP, signatures, the address guard) is `parley_chat.webhooks`; this
module decides what is due, what a success or a failure changes, and when a webhook has
failed for long enough to pause. Each webhook has its own cursor into its tenant's
outbox and is delivered in cursor order, one event at a time, by the one process holding
its lease: a chat's event N+1 is never sent before N succeeded (contract: "in order per
chat"), and one webhook's retries hold up no other webhook.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from parley_chat.domain import feed
from parley_chat.storage import feed as feed_storage
from parley_chat.storage import webhooks as storage
from parley_chat.storage.models import Webhook
from parley_core import errors
from parley_core.db import utcnow

logger = logging.getLogger(__name__)

EVENT_TYPES = feed_storage.TYPES
"""The feed's event types (docs/api.md "Tenant backends"), which a webhook subscribes to."""

MAX_URL_LENGTH = 2048
SECRET_PREFIX = "whsec_"

ACTIVE = storage.ACTIVE
FAILING = storage.FAILING

_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".lan")
"""Names that by convention resolve only inside a network (RFC 6761, RFC 6762, RFC 8375)."""


class WebhookNotFound(errors.NotFound):
    detail = "webhook not found"


class WebhookConflict(errors.Conflict):
    detail = "the webhook was created at the same time by another request; try again"


def public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """An address a webhook may reach when private ones are not allowed: none of
    loopback, private, link-local, multicast, reserved, unspecified or shared (carrier
    NAT), and for IPv6 also not an IPv4 address in disguise (mapped, 6to4, Teredo)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is not None and not public_address(embedded):
            return False
    return address.is_global and not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def url_problem(url: str, *, allow_private: bool) -> str | None:
    """Why a webhook may not have this URL, or None. An address written in the URL is
    checked here; a name is resolved and checked again at every delivery."""
    if len(url) > MAX_URL_LENGTH:
        return f"must be at most {MAX_URL_LENGTH} characters"
    if not url.isascii() or any(
        char.isspace() or ord(char) < 0x20 or char == "\x7f" for char in url
    ):
        return "must be an ASCII URL without spaces or control characters (IDNA-encode names)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        return "must be an https:// URL"
    host = parts.hostname
    if not host:
        return "must name a host"
    if parts.username is not None or parts.password is not None:
        return "must not hold credentials"
    if parts.fragment:
        return "must not have a fragment"
    if port == 0:
        return "must not name port 0"
    if allow_private:
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host == "localhost" or host.endswith(_LOCAL_SUFFIXES) or "." not in host:
            return "must name a public host"
        return None
    if not public_address(address):
        return "must name a public address"
    return None


@dataclass(frozen=True)
class WebhookView:
    name: str
    url: str
    events: list[str]
    enabled: bool
    status: str
    secret: str | None = None
    """Only in the answer to the `PUT` that created the webhook."""

    @classmethod
    def of(cls, row: Webhook, *, secret: str | None = None) -> WebhookView:
        return cls(row.name, row.url, list(row.events), row.enabled, row.status, secret)


@dataclass(frozen=True)
class Policy:
    allow_private: bool = False
    max_per_tenant: int = 20
    retry_seconds: float = 86_400.0
    backoff_base_seconds: float = 1.0
    backoff_ceiling_seconds: float = 3_600.0
    lease_seconds: float = 30.0

    def backoff(self, attempts: int, rng: random.Random) -> float:
        """Exponential backoff with full jitter: a uniform wait up to base * 2^(n-1),
        capped, so many webhooks that failed together do not retry together."""
        exponent = min(attempts - 1, 62)
        ceiling = min(self.backoff_ceiling_seconds, self.backoff_base_seconds * 2**exponent)
        return rng.uniform(0, ceiling)


@dataclass(frozen=True)
class Lease:
    """A webhook one process holds while it delivers to it."""

    webhook_id: uuid.UUID
    owner: str
    tenant: str
    name: str
    url: str
    secret: str
    events: frozenset[str]
    cursor: int
    attempts: int
    failing_since: datetime | None

    @classmethod
    def of(cls, row: Webhook, owner: str) -> Lease:
        return cls(
            row.id,
            owner,
            row.tenant,
            row.name,
            row.url,
            row.secret,
            frozenset(row.events),
            row.cursor,
            row.attempts,
            row.failing_since,
        )


@dataclass(frozen=True)
class Pending:
    position: int
    """The event's place in its tenant's feed: what the webhook's cursor moves to."""
    event: feed.EventView


def _event_types(events: Sequence[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise errors.InvalidField(
            "events", f"unknown event type {', '.join(unknown)}; one of {', '.join(EVENT_TYPES)}"
        )
    if not events:
        raise errors.InvalidField("events", "must name at least one event type")
    return list(dict.fromkeys(events))


@dataclass
class Webhooks:
    """The webhooks operations: the tenant backend's routes and the delivery workers'."""

    sessions: async_sessionmaker[AsyncSession]
    feed: feed.Feed
    policy: Policy
    rng: random.Random = field(default_factory=random.SystemRandom)

    # -- the routes ----------------------------------------------------------------------

    async def put(
        self, name: str, *, tenant: str, url: str, events: Sequence[str], enabled: bool | None
    ) -> tuple[WebhookView, bool]:
        """Create or replace the webhook; True when created. Any `PUT` that leaves it
        enabled makes a failing webhook active again (the failed event is retried)."""
        if problem := url_problem(url, allow_private=self.policy.allow_private):
            raise errors.InvalidField("url", problem)
        types = _event_types(events)
        now = utcnow()
        async with self.sessions() as session, session.begin():
            row = await storage.by_name(session, name, tenant=tenant)
            if row is None:
                if await storage.count(session, tenant=tenant) >= self.policy.max_per_tenant:
                    raise errors.InvalidField(
                        "name",
                        f"a tenant may have at most {self.policy.max_per_tenant} webhooks;"
                        " delete one first",
                        source="path",
                    )
                secret = SECRET_PREFIX + secrets.token_urlsafe(32)
                row = Webhook(
                    tenant=tenant,
                    name=name,
                    url=url,
                    events=types,
                    enabled=True if enabled is None else enabled,
                    status=ACTIVE,
                    secret=secret,
                    created_at=now,
                    updated_at=now,
                    # Events from now on; the feed serves what came before.
                    cursor=(await feed_storage.bounds(session, tenant=tenant)).last,
                )
                session.add(row)
                try:
                    await session.flush()
                except sa_exc.IntegrityError:
                    # Another PUT of the same new name committed first.
                    raise WebhookConflict() from None
                logger.info("webhook created", extra={"tenant": tenant, "webhook": name})
                return WebhookView.of(row, secret=secret), True
            row.url = url
            row.events = types
            if enabled is not None:
                row.enabled = enabled
            if row.enabled and row.status == FAILING:
                row.status = ACTIVE
                row.attempts = 0
                row.failing_since = None
                row.next_attempt_at = None
                logger.info("webhook re-enabled", extra={"tenant": tenant, "webhook": name})
            row.updated_at = now
            session.add(row)
            return WebhookView.of(row), False

    async def all_of(self, *, tenant: str) -> list[WebhookView]:
        async with self.sessions() as session:
            return [WebhookView.of(row) for row in await storage.all_of(session, tenant=tenant)]

    async def delete(self, name: str, *, tenant: str) -> None:
        async with self.sessions() as session, session.begin():
            if not await storage.delete(session, name, tenant=tenant):
                raise WebhookNotFound()

    # -- delivery ------------------------------------------------------------------------

    async def take_due(self, owner: str, *, limit: int) -> list[Lease]:
        """Take the leases of up to `limit` webhooks that have events to deliver now."""
        now = utcnow()
        until = now + timedelta(seconds=self.policy.lease_seconds)
        async with self.sessions() as session:
            candidates = await storage.due(session, now, limit=limit)
        leases = []
        for webhook_id in candidates:
            async with self.sessions() as session, session.begin():
                row = await storage.take(session, webhook_id, owner, now, until)
            if row is not None:
                leases.append(Lease.of(row, owner))
        return leases

    async def pending(self, lease: Lease, *, limit: int) -> list[Pending]:
        """The next events of the webhook's tenant past its cursor, in feed order, as the
        feed shows them (a `message` event's `offline_member_ids` as of now)."""
        views = await self.feed.events_after(lease.cursor, limit, tenant=lease.tenant)
        return [Pending(feed.read_cursor(view.cursor, tenant=lease.tenant), view) for view in views]

    async def advance(self, lease: Lease, cursor: int) -> Lease | None:
        """Record that everything up to `cursor` was delivered (or skipped) and renew the
        lease; None when the lease was lost, and the caller must stop."""
        until = utcnow() + timedelta(seconds=self.policy.lease_seconds)
        async with self.sessions() as session, session.begin():
            kept = await storage.held(
                session,
                lease.webhook_id,
                lease.owner,
                cursor=cursor,
                attempts=0,
                failing_since=None,
                next_attempt_at=None,
                lease_until=until,
            )
        if not kept:
            return None
        return replace(lease, cursor=cursor, attempts=0, failing_since=None)

    async def failed(self, lease: Lease) -> bool:
        """Schedule the next attempt at the event past the cursor, and give the lease
        back; True when the retry window is over and the webhook now pauses as failing."""
        now = utcnow()
        since = lease.failing_since or now
        attempts = lease.attempts + 1
        paused = (now - since).total_seconds() >= self.policy.retry_seconds
        values: dict[str, object] = {
            "attempts": attempts,
            "failing_since": since,
            "next_attempt_at": now + timedelta(seconds=self.policy.backoff(attempts, self.rng)),
            "lease_owner": None,
            "lease_until": None,
        }
        if paused:
            values["status"] = FAILING
        async with self.sessions() as session, session.begin():
            kept = await storage.held(session, lease.webhook_id, lease.owner, **values)
        if kept and paused:
            logger.warning(
                "webhook failing: paused after retrying for the whole retry window",
                extra={"tenant": lease.tenant, "webhook": lease.name},
            )
        return kept and paused

    async def release(self, lease: Lease) -> None:
        async with self.sessions() as session, session.begin():
            await storage.held(
                session, lease.webhook_id, lease.owner, lease_owner=None, lease_until=None
            )

    async def count_failing(self) -> int:
        async with self.sessions() as session:
            return await storage.failing(session)
