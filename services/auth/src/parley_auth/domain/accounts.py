"""Accounts: the part of `AuthService` that registers users, reads them and lets the
operator set a tenant admin."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.exc import IntegrityError

from parley_auth import metrics
from parley_auth.domain import errors
from parley_auth.domain.base import ServiceBase, may_be_stored
from parley_auth.domain.views import UserView
from parley_auth.storage import queries
from parley_auth.storage.models import Tenant, User
from parley_core import logging as parley_logging
from parley_core import ratelimit
from parley_core.db import utcnow
from parley_core.metrics import RATE_LIMITED

logger = logging.getLogger(__name__)


class Accounts(ServiceBase):
    async def register(
        self,
        *,
        tenant_slug: str,
        username: str,
        password: str,
        display_name: str | None,
        client_address: str,
    ) -> UserView:
        parley_logging.bind(tenant=tenant_slug)
        # Counted before anything else: an anonymous caller must not be able to keep the
        # argon2 workers busy or fill a tenant's max_users.
        per_address = ratelimit.Limit(
            "registrations_address",
            self.capacity,
            f"register:address:{client_address}",
            self.registration_policy.per_address,
            self.registration_policy.window_seconds,
        )
        try:
            await ratelimit.take([per_address])
        except ratelimit.LimitReached as refused:
            RATE_LIMITED.labels(limit=refused.limit).inc()
            raise errors.TooManyRegistrations(retry_after=refused.retry_after) from None
        async with self.sessions() as session:
            tenant = await queries.tenant_by_slug(session, tenant_slug)
            _check_registration_open(tenant)
        # Hash outside the transaction: the tenant row lock below must not wait on argon2.
        password_hash = await self.hasher.hash(password)
        try:
            async with self.sessions() as session, session.begin():
                tenant = await queries.tenant_by_slug(session, tenant_slug, for_update=True)
                tenant = _check_registration_open(tenant)
                if await queries.user_by_username(session, username, tenant_id=tenant.id):
                    raise errors.UsernameTaken()
                if await queries.count_users(session, tenant_id=tenant.id) >= tenant.max_users:
                    raise errors.TenantFull()
                user = _new_user(tenant, username, display_name, password_hash)
                session.add(user)
        except IntegrityError:
            raise errors.UsernameTaken() from None
        metrics.REGISTRATIONS.inc()
        parley_logging.bind(user_id=user.id)
        logger.info("user registered", extra={"tenant": tenant_slug, "user.id": str(user.id)})
        return UserView.of(user, tenant_slug)

    async def me(self, *, tenant_slug: str, user_id: uuid.UUID) -> UserView:
        async with self.sessions() as session:
            tenant = await queries.tenant_by_slug(session, tenant_slug)
            user = None
            if tenant is not None:
                user = await queries.user_by_id(session, user_id, tenant_id=tenant.id)
        if user is None:
            # The account was removed after the token was issued.
            raise errors.BadCredentials("user no longer exists")
        return UserView.of(user, tenant_slug)

    async def update_profile(
        self, *, tenant_slug: str, user_id: uuid.UUID, display_name: str
    ) -> UserView:
        """docs/api.md "Accounts": `PATCH /v1/auth/me`; the API checked the name by the
        rules registration uses."""
        async with self.sessions() as session, session.begin():
            tenant = await queries.tenant_by_slug(session, tenant_slug)
            if tenant is not None and tenant.suspended:
                raise errors.TenantSuspended()
            user = None
            if tenant is not None:
                user = await queries.set_display_name(
                    session, user_id, display_name, tenant_id=tenant.id
                )
        if user is None:
            raise errors.BadCredentials("user no longer exists")
        return UserView.of(user, tenant_slug)

    async def directory(
        self, *, tenant_slug: str, user_id: uuid.UUID, prefix: str, limit: int
    ) -> list[UserView]:
        async with self.sessions() as session:
            tenant = await queries.tenant_by_slug(session, tenant_slug)
            # A token outlives its user (a tenant deleted and created again under its
            # slug): only a user of this tenant may list its users.
            if tenant is None or not await queries.user_by_id(
                session, user_id, tenant_id=tenant.id
            ):
                raise errors.BadCredentials("user no longer exists")
            if not may_be_stored(prefix):
                return []
            users = await queries.users_by_prefix(session, prefix, tenant_id=tenant.id, limit=limit)
        return [UserView.of(user, tenant_slug) for user in users]

    async def put_user(
        self, *, tenant_slug: str, username: str, password: str, display_name: str | None
    ) -> tuple[UserView, bool]:
        """The operator's upsert of a tenant admin; self-registration and max_users do not apply."""
        password_hash = await self.hasher.hash(password)
        async with self.sessions() as session, session.begin():
            tenant = await queries.tenant_by_slug(session, tenant_slug, for_update=True)
            if tenant is None:
                raise errors.UnknownTenant()
            user = await queries.user_by_username(session, username, tenant_id=tenant.id)
            created = user is None
            if user is None:
                user = _new_user(tenant, username, display_name, password_hash)
                session.add(user)
            else:
                user.password_hash = password_hash
                if display_name is not None:
                    user.display_name = display_name
        return UserView.of(user, tenant_slug), created


def _new_user(tenant: Tenant, username: str, display_name: str | None, password_hash: str) -> User:
    return User(
        tenant_id=tenant.id,
        username=username,
        display_name=display_name or username,
        password_hash=password_hash,
        created_at=utcnow(),
    )


def _check_registration_open(tenant: Tenant | None) -> Tenant:
    if tenant is None:
        raise errors.UnknownTenant()
    if tenant.suspended:
        raise errors.TenantSuspended()
    if not tenant.self_registration:
        raise errors.RegistrationClosed()
    return tenant
