"""Tenants, as the Internal API declares them: the part of `AuthService` the operator
drives, and the lookup chat resolves members with."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from parley_auth.domain import errors
from parley_auth.domain.base import ServiceBase
from parley_auth.domain.views import TenantSpec, TenantView, UserView
from parley_auth.storage import queries
from parley_auth.storage.models import Tenant
from parley_core.db import utcnow

logger = logging.getLogger(__name__)


class Tenants(ServiceBase):
    async def put_tenant(self, slug: str, spec: TenantSpec) -> tuple[TenantView, bool]:
        """Create or replace a tenant; True when it was created."""
        now = utcnow()
        try:
            return await self._put_tenant(slug, spec, now)
        except IntegrityError:
            # Two creates raced; the loser applies its spec as an update.
            return await self._put_tenant(slug, spec, now)

    async def _put_tenant(
        self, slug: str, spec: TenantSpec, now: datetime
    ) -> tuple[TenantView, bool]:
        async with self.sessions() as session, session.begin():
            tenant = await queries.tenant_by_slug(session, slug, for_update=True)
            created = tenant is None
            if tenant is None:
                tenant = Tenant(
                    slug=slug,
                    display_name=spec.display_name,
                    self_registration=spec.self_registration,
                    suspended=spec.suspended,
                    max_users=spec.limits.max_users,
                    messages_per_minute=spec.limits.messages_per_minute,
                    max_message_chars=spec.limits.max_message_chars,
                    max_attachment_bytes=spec.limits.max_attachment_bytes,
                    created_at=now,
                    updated_at=now,
                )
                session.add(tenant)
            else:
                _apply(spec, tenant, now)
            await session.flush()
            users = await queries.count_users(session, tenant_id=tenant.id)
        return TenantView.of(tenant, users), created

    async def get_tenant(self, slug: str) -> TenantView:
        async with self.sessions() as session:
            tenant = await queries.tenant_by_slug(session, slug)
            if tenant is None:
                raise errors.UnknownTenant()
            return TenantView.of(tenant, await queries.count_users(session, tenant_id=tenant.id))

    async def find_users(self, *, tenant_slug: str, usernames: Sequence[str]) -> list[UserView]:
        """The users among `usernames` in the tenant: how chat resolves members."""
        async with self.sessions() as session:
            tenant = await queries.tenant_by_slug(session, tenant_slug)
            if tenant is None:
                raise errors.UnknownTenant()
            users = await queries.users_by_usernames(session, usernames, tenant_id=tenant.id)
        return [UserView.of(user, tenant_slug) for user in users]

    async def delete_tenant(self, slug: str) -> None:
        async with self.sessions() as session, session.begin():
            tenant = await queries.tenant_by_slug(session, slug, for_update=True)
            if tenant is not None:
                await queries.delete_tenant(session, tenant_id=tenant.id)
        if tenant is not None:
            logger.info("tenant deleted", extra={"tenant": slug})


def _apply(spec: TenantSpec, tenant: Tenant, now: datetime) -> None:
    tenant.display_name = spec.display_name
    tenant.self_registration = spec.self_registration
    tenant.suspended = spec.suspended
    tenant.max_users = spec.limits.max_users
    tenant.messages_per_minute = spec.limits.messages_per_minute
    tenant.max_message_chars = spec.limits.max_message_chars
    tenant.max_attachment_bytes = spec.limits.max_attachment_bytes
    tenant.updated_at = now
