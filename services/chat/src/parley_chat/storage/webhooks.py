"""Queries of webhooks and of their delivery state (docs/integrations.md "Webhooks").

A process delivers to a webhook only while it holds the webhook's lease: a conditional
UPDATE that takes a row whose lease is free or expired, on both backends (PostgreSQL
re-checks the condition after waiting for a concurrent update's row lock, and SQLite has
one writer), so two processes never hold one webhook at once and a process that died
loses its webhooks when their leases run out. Every write of delivery state is
conditional on still holding the lease.

The functions of the `/v1/tenant/webhooks` routes take `*, tenant`; the delivery ones act
on a webhook by id, which the lease names.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from parley_chat.storage.models import FeedEvent, Webhook

ACTIVE = "active"
FAILING = "failing"


async def all_of(session: AsyncSession, *, tenant: str) -> Sequence[Webhook]:
    statement = select(Webhook).where(col(Webhook.tenant) == tenant).order_by(col(Webhook.name))
    return (await session.exec(statement)).all()


async def by_name(session: AsyncSession, name: str, *, tenant: str) -> Webhook | None:
    statement = select(Webhook).where(col(Webhook.tenant) == tenant, col(Webhook.name) == name)
    return (await session.exec(statement)).first()


async def count(session: AsyncSession, *, tenant: str) -> int:
    statement = select(sa.func.count()).select_from(Webhook).where(col(Webhook.tenant) == tenant)
    return int((await session.exec(statement)).one())


async def delete(session: AsyncSession, name: str, *, tenant: str) -> bool:
    result = await session.exec(
        sa.delete(Webhook).where(col(Webhook.tenant) == tenant, col(Webhook.name) == name)
    )
    return bool(result.rowcount)


async def failing(session: AsyncSession) -> int:
    """Enabled webhooks of every tenant that are paused as failing (a metric)."""
    statement = (
        select(sa.func.count())
        .select_from(Webhook)
        .where(col(Webhook.enabled).is_(True), col(Webhook.status) == FAILING)
    )
    return int((await session.exec(statement)).one())


async def due(session: AsyncSession, now: datetime, *, limit: int) -> Sequence[uuid.UUID]:
    """Webhooks a process may take now: enabled, active, not held, not waiting for a retry,
    with an event past their cursor. Oldest attempt first, so none starves."""
    has_events = (
        select(FeedEvent.position)
        .where(col(FeedEvent.tenant) == Webhook.tenant, col(FeedEvent.position) > Webhook.cursor)
        .exists()
    )
    statement = (
        select(Webhook.id)
        .where(
            col(Webhook.enabled).is_(True),
            col(Webhook.status) == ACTIVE,
            sa.or_(col(Webhook.lease_until).is_(None), col(Webhook.lease_until) < now),
            sa.or_(col(Webhook.next_attempt_at).is_(None), col(Webhook.next_attempt_at) <= now),
            has_events,
        )
        .order_by(col(Webhook.next_attempt_at).asc().nulls_first(), col(Webhook.id))
        .limit(limit)
    )
    return (await session.exec(statement)).all()


async def take(
    session: AsyncSession, webhook_id: uuid.UUID, owner: str, now: datetime, until: datetime
) -> Webhook | None:
    """Take the webhook's lease if it is still free (another process may have taken it
    since `due`); the webhook, or None."""
    result = await session.exec(
        sa.update(Webhook)
        .where(
            col(Webhook.id) == webhook_id,
            col(Webhook.enabled).is_(True),
            col(Webhook.status) == ACTIVE,
            sa.or_(col(Webhook.lease_until).is_(None), col(Webhook.lease_until) < now),
        )
        .values(lease_owner=owner, lease_until=until)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:
        return None
    return (await session.exec(select(Webhook).where(col(Webhook.id) == webhook_id))).first()


async def held(session: AsyncSession, webhook_id: uuid.UUID, owner: str, **values: Any) -> bool:
    """Write `values` to the webhook while `owner` holds its lease and it is enabled;
    False when not (the lease expired and another process took the webhook, or the
    webhook was disabled or deleted meanwhile): the holder then stops."""
    result = await session.exec(
        sa.update(Webhook)
        .where(
            col(Webhook.id) == webhook_id,
            col(Webhook.lease_owner) == owner,
            col(Webhook.enabled).is_(True),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)
