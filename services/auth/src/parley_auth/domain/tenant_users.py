"""Users of a tenant's own login: the part of `AuthService` a tenant's backend drives with
a server key (docs/api.md "Tenant backends"). The tenant vouches for its users, so they
have no password, and it mints them normal token pairs ("bring your own login").

Every operation is scoped to the key's tenant: a username names a user of that tenant
only, so another tenant's users are never seen (404) nor touched.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from parley_auth.domain import errors
from parley_auth.domain.logins import Logins
from parley_auth.domain.views import TokenPair, UserView
from parley_auth.storage import queries
from parley_auth.storage.models import RefreshFamily, Tenant, User
from parley_core import ratelimit, serverkeys
from parley_core.db import utcnow
from parley_core.metrics import RATE_LIMITED

logger = logging.getLogger(__name__)


class TenantUsers(Logins):
    async def put_tenant_user(
        self,
        key: serverkeys.ServerKeyIdentity,
        *,
        username: str,
        display_name: str | None,
        kind: str | None,
    ) -> tuple[UserView, bool]:
        """Create or update the user; True when created. A user that registered with a
        password keeps it."""
        await self._take_request(key)
        try:
            return await self._put_tenant_user(key, username, display_name, kind)
        except IntegrityError:
            # Two creates of one username raced; the loser updates what the winner made.
            return await self._put_tenant_user(key, username, display_name, kind)

    async def _put_tenant_user(
        self,
        key: serverkeys.ServerKeyIdentity,
        username: str,
        display_name: str | None,
        kind: str | None,
    ) -> tuple[UserView, bool]:
        async with self.sessions() as session, session.begin():
            tenant = _writable(
                await queries.tenant_by_slug(session, key.tenant, for_update=True), key
            )
            user = await queries.user_by_username(session, username, tenant_id=tenant.id)
            created = user is None
            if user is None:
                if await queries.count_users(session, tenant_id=tenant.id) >= tenant.max_users:
                    raise errors.TenantFull()
                user = User(
                    tenant_id=tenant.id,
                    username=username,
                    display_name=display_name or username,
                    password_hash="",
                    created_at=utcnow(),
                    kind=kind or "person",
                )
                session.add(user)
                await session.flush()
            else:
                if display_name is not None:
                    user.display_name = display_name
                if kind is not None:
                    user.kind = kind
        logger.info(
            "tenant user created" if created else "tenant user updated",
            extra={"tenant": key.tenant, "user.id": str(user.id)},
        )
        return UserView.of(user, key.tenant), created

    async def mint_tokens(
        self, key: serverkeys.ServerKeyIdentity, *, username: str, ttl_seconds: int | None
    ) -> TokenPair:
        """A token pair for the tenant's user, as a login would give; 404 for a username
        the key's tenant does not have."""
        await self._take_request(key)
        async with self.sessions() as session, session.begin():
            tenant = _writable(await queries.tenant_by_slug(session, key.tenant), key)
            user = await queries.user_by_username(session, username, tenant_id=tenant.id)
            if user is None:
                raise errors.UnknownUser()
            family = RefreshFamily(tenant_id=tenant.id, user_id=user.id, created_at=utcnow())
            await queries.add_family(session, family, tenant_id=tenant.id)
            access_ttl = timedelta(seconds=ttl_seconds) if ttl_seconds else None
            pair = await self._issue(
                session, tenant, user.id, user.username, family.id, access_ttl=access_ttl
            )
        logger.info("tenant tokens minted", extra={"tenant": key.tenant, "user.id": str(user.id)})
        return pair

    async def _take_request(self, key: serverkeys.ServerKeyIdentity) -> None:
        limit = ratelimit.Limit(
            "tenant_api_key",
            self.capacity,
            f"tenant:key:{key.key_id}",
            self.tenant_api_policy.per_key,
            self.tenant_api_policy.window_seconds,
        )
        try:
            await ratelimit.take([limit])
        except ratelimit.LimitReached as refused:
            RATE_LIMITED.labels(limit=refused.limit).inc()
            raise errors.TooManyTenantRequests(retry_after=refused.retry_after) from None


def _writable(tenant: Tenant | None, key: serverkeys.ServerKeyIdentity) -> Tenant:
    # The key was resolved a moment ago; its tenant may have been deleted (and the key
    # with it) or made again under the slug since: either way the key no longer holds.
    if tenant is None or tenant.id != key.tenant_id:
        raise errors.BadCredentials("unknown or revoked server key")
    if tenant.suspended:
        raise errors.TenantSuspended()
    return tenant
