"""The auth service's operations. Each one is a transaction; the API layer only translates.

Refresh tokens look like `<tenant id hex>.<256 random bits>`: opaque to clients, but they
let every lookup stay scoped to a tenant (shared/STYLE.md rule 3).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from parley_auth import metrics
from parley_auth.domain import errors
from parley_auth.domain.passwords import PasswordHasher
from parley_auth.domain.signing import SigningKey
from parley_auth.storage import queries
from parley_auth.storage.models import RefreshFamily, RefreshToken, Tenant, User
from parley_core import logging as parley_logging
from parley_core import ratelimit
from parley_core.db import utcnow
from parley_core.metrics import RATE_LIMITED

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TenantLimits:
    max_users: int = 10_000
    messages_per_minute: int = 120
    max_message_chars: int = 4000


@dataclass(frozen=True, slots=True)
class TenantSpec:
    """What `PUT /internal/v1/tenants/{slug}` declares."""

    display_name: str
    self_registration: bool = False
    suspended: bool = False
    limits: TenantLimits = TenantLimits()


@dataclass(frozen=True, slots=True)
class TenantState:
    tenant: Tenant
    users: int


@dataclass(frozen=True, slots=True)
class UserView:
    id: uuid.UUID
    tenant: str
    username: str
    display_name: str
    created_at: datetime

    @classmethod
    def of(cls, user: User, tenant_slug: str) -> UserView:
        return cls(user.id, tenant_slug, user.username, user.display_name, user.created_at)


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """shared/API.md "Auth API": failed logins per account and per address, and all logins
    per address (each costs an argon2 verification), in windows of `window_seconds`."""

    failures_per_account: int
    failures_per_address: int
    logins_per_address: int
    window_seconds: int


@dataclass(frozen=True, slots=True)
class RegistrationPolicy:
    """Self-registrations per client address, in windows of `window_seconds`."""

    per_address: int
    window_seconds: int


PURGE_BATCH = 500
"""Rows one purge transaction deletes at most, so it never holds locks for long."""


class AuthService:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        hasher: PasswordHasher,
        signing_key: SigningKey,
        failures: ratelimit.WindowCounter,
        capacity: ratelimit.WindowCounter,
        login_policy: LoginPolicy,
        registration_policy: RegistrationPolicy,
        access_ttl: timedelta,
        refresh_ttl: timedelta,
    ) -> None:
        """`failures` counts failed logins, a guard against guessing, so it must be shared
        by every replica and fail closed; `capacity` counts what only costs CPU (logins and
        registrations per address) and may fall back to one process's count."""
        self._sessions = sessions
        self._hasher = hasher
        self._key = signing_key
        self._failures = failures
        self._capacity = capacity
        self._policy = login_policy
        self._registration_policy = registration_policy
        self._access_ttl = access_ttl
        self._refresh_ttl = refresh_ttl

    # -- users -------------------------------------------------------------------------

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
            self._capacity,
            f"register:address:{client_address}",
            self._registration_policy.per_address,
            self._registration_policy.window_seconds,
        )
        try:
            await ratelimit.take([per_address])
        except ratelimit.LimitReached as refused:
            RATE_LIMITED.labels(limit=refused.limit).inc()
            raise errors.TooManyRegistrations(retry_after=refused.retry_after) from None
        async with self._sessions() as session:
            tenant = await queries.tenant_by_slug(session, tenant_slug)
            _check_registration_open(tenant)
        # Hash outside the transaction: the tenant row lock below must not wait on argon2.
        password_hash = await self._hasher.hash(password)
        try:
            async with self._sessions() as session, session.begin():
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
        async with self._sessions() as session:
            tenant = await queries.tenant_by_slug(session, tenant_slug)
            user = None
            if tenant is not None:
                user = await queries.user_by_id(session, user_id, tenant_id=tenant.id)
        if user is None:
            # The account was removed after the token was issued.
            raise errors.BadCredentials("user no longer exists")
        return UserView.of(user, tenant_slug)

    async def directory(
        self, *, tenant_slug: str, user_id: uuid.UUID, prefix: str, limit: int
    ) -> list[UserView]:
        async with self._sessions() as session:
            tenant = await queries.tenant_by_slug(session, tenant_slug)
            # A token outlives its user (a tenant deleted and created again under its
            # slug): only a user of this tenant may list its users.
            if tenant is None or not await queries.user_by_id(
                session, user_id, tenant_id=tenant.id
            ):
                raise errors.BadCredentials("user no longer exists")
            if not _may_be_stored(prefix):
                return []
            users = await queries.users_by_prefix(session, prefix, tenant_id=tenant.id, limit=limit)
        return [UserView.of(user, tenant_slug) for user in users]

    # -- sessions ----------------------------------------------------------------------

    async def login(
        self, *, tenant_slug: str, username: str, password: str, client_address: str
    ) -> TokenPair:
        """Past a limit, 429 even for the right password (shared/API.md "Auth API").

        Each attempt first takes a slot under every limit (parley_core.ratelimit: count
        first, then decide), so however many arrive at once, no more than the limit reach
        argon2. A failed password keeps its failure slots; anything else (the right
        password, a suspended tenant, a dependency down) gives them back, so successes
        never count as failures. The per-address logins slot is kept either way: the
        verification was spent.
        """
        parley_logging.bind(tenant=tenant_slug)
        window = self._policy.window_seconds
        failures = [
            ratelimit.Limit(
                "login_account",
                self._failures,
                f"login:account:{tenant_slug}:{username}",
                self._policy.failures_per_account,
                window,
            ),
            ratelimit.Limit(
                "login_address",
                self._failures,
                f"login:address:{client_address}",
                self._policy.failures_per_address,
                window,
            ),
        ]
        logins = ratelimit.Limit(
            "logins_address",
            self._capacity,
            f"logins:address:{client_address}",
            self._policy.logins_per_address,
            window,
        )
        try:
            await ratelimit.take([*failures, logins])
        except ratelimit.LimitReached as refused:
            metrics.LOGINS.labels(outcome="rate_limited").inc()
            # One count per refused request: the account's limit when several are reached.
            RATE_LIMITED.labels(limit=refused.limit).inc()
            if refused.limit == logins.name:
                raise errors.TooManyLogins(retry_after=refused.retry_after) from None
            raise errors.TooManyLoginFailures(retry_after=refused.retry_after) from None
        try:
            tenant, user = await self._check_password(tenant_slug, username, password)
        except errors.BadCredentials:
            metrics.LOGINS.labels(outcome="bad_credentials").inc()
            logger.info("login failed", extra={"tenant": tenant_slug})
            raise
        except BaseException:
            await ratelimit.give_back(failures)
            raise
        await ratelimit.give_back(failures)
        # Only after the password: a guesser must not learn that a tenant is suspended.
        if tenant.suspended:
            metrics.LOGINS.labels(outcome="suspended").inc()
            raise errors.TenantSuspended()

        async with self._sessions() as session, session.begin():
            if self._hasher.needs_rehash(user.password_hash):
                new_hash = await self._hasher.hash(password)
                await queries.set_password_hash(session, user.id, new_hash, tenant_id=tenant.id)
            family = RefreshFamily(tenant_id=tenant.id, user_id=user.id, created_at=utcnow())
            await queries.add_family(session, family, tenant_id=tenant.id)
            pair = await self._issue(session, tenant, user.id, user.username, family.id)
        metrics.LOGINS.labels(outcome="success").inc()
        parley_logging.bind(user_id=user.id)
        logger.info("login succeeded", extra={"tenant": tenant_slug, "user.id": str(user.id)})
        return pair

    async def refresh(self, token: str) -> TokenPair:
        tenant_id, token_hash = _parse_refresh_token(token)
        now = utcnow()
        async with self._sessions() as session, session.begin():
            claimed = await queries.claim_refresh_token(
                session, token_hash, tenant_id=tenant_id, now=now
            )
            if claimed is None:
                known = await queries.refresh_token(session, token_hash, tenant_id=tenant_id)
                if known is not None and known.used_at is not None:
                    # shared/API.md: reuse is theft; the whole login dies.
                    metrics.REFRESH_TOKEN_REUSE.inc()
                    await queries.revoke_family(
                        session, known.family_id, tenant_id=tenant_id, now=now
                    )
                    logger.warning(
                        "refresh token reused; family revoked",
                        extra={"user.id": str(known.user_id), "family.id": str(known.family_id)},
                    )
                pair = None
            else:
                family = await queries.family(session, claimed.family_id, tenant_id=tenant_id)
                tenant = await session.get(Tenant, tenant_id)
                user = await queries.user_by_id(session, claimed.user_id, tenant_id=tenant_id)
                pair = None
                live_family = family is not None and family.revoked_at is None
                if live_family and tenant and not tenant.suspended and user is not None:
                    pair = await self._issue(
                        session, tenant, user.id, user.username, claimed.family_id
                    )
        if pair is None:
            raise errors.InvalidRefreshToken()
        return pair

    async def logout(self, token: str) -> None:
        tenant_id, token_hash = _parse_refresh_token(token)
        async with self._sessions() as session, session.begin():
            known = await queries.refresh_token(session, token_hash, tenant_id=tenant_id)
            if known is not None:
                await queries.revoke_family(
                    session, known.family_id, tenant_id=tenant_id, now=utcnow()
                )
        if known is None:
            raise errors.InvalidRefreshToken()

    async def _check_password(
        self, tenant_slug: str, username: str, password: str
    ) -> tuple[Tenant, User]:
        """The tenant and user whose password this is, or BadCredentials; unknown tenants
        and users cost the same argon2 verification as a wrong password."""
        tenant = user = None
        if _may_be_stored(tenant_slug, username):
            async with self._sessions() as session:
                tenant = await queries.tenant_by_slug(session, tenant_slug)
                if tenant is not None:
                    user = await queries.user_by_username(session, username, tenant_id=tenant.id)
        verified = await self._hasher.verify(user.password_hash if user else None, password)
        if tenant is None or user is None or not verified:
            raise errors.BadCredentials()
        return tenant, user

    async def purge_refresh_tokens(self, *, batch_size: int = PURGE_BATCH) -> int:
        """Delete expired refresh tokens, the tokens of revoked logins, then logins with no
        token left; `batch_size` rows a transaction. Returns the rows deleted.

        Safe on several replicas at once: each batch is one bounded DELETE, and on
        PostgreSQL the rows it picks are locked with SKIP LOCKED, so concurrent purges
        take different rows instead of waiting on each other. An expired token that was
        rotated can no longer reveal a reuse once deleted; a reuse is then an unknown
        token (still 401), and the login it came from ended with that token's lifetime
        unless it was rotated since.
        """
        now = utcnow()
        deleted = 0
        while True:
            async with self._sessions() as session, session.begin():
                batch = await queries.delete_dead_refresh_tokens(session, now=now, limit=batch_size)
            deleted += batch
            if batch < batch_size:
                break
        while True:
            async with self._sessions() as session, session.begin():
                batch = await queries.delete_empty_families(session, limit=batch_size)
            deleted += batch
            if batch < batch_size:
                break
        if deleted:
            logger.info("refresh tokens purged", extra={"rows": deleted})
        return deleted

    async def _issue(
        self,
        session: AsyncSession,
        tenant: Tenant,
        user_id: uuid.UUID,
        username: str,
        family_id: uuid.UUID,
    ) -> TokenPair:
        now = utcnow()
        secret = f"{tenant.id.hex}.{secrets.token_urlsafe(32)}"
        token = RefreshToken(
            token_hash=_digest(secret),
            tenant_id=tenant.id,
            family_id=family_id,
            user_id=user_id,
            issued_at=now,
            expires_at=now + self._refresh_ttl,
        )
        await queries.add_refresh_token(session, token, tenant_id=tenant.id)
        access = self._key.issue(
            user_id=user_id,
            tenant=tenant.slug,
            tenant_id=tenant.id,
            username=username,
            now=now,
            ttl=self._access_ttl,
        )
        return TokenPair(access, secret, int(self._access_ttl.total_seconds()))

    # -- tenants (internal API) ----------------------------------------------------------

    async def put_tenant(self, slug: str, spec: TenantSpec) -> tuple[TenantState, bool]:
        """Create or replace a tenant; True when it was created."""
        now = utcnow()
        try:
            return await self._put_tenant(slug, spec, now)
        except IntegrityError:
            # Two creates raced; the loser applies its spec as an update.
            return await self._put_tenant(slug, spec, now)

    async def _put_tenant(
        self, slug: str, spec: TenantSpec, now: datetime
    ) -> tuple[TenantState, bool]:
        async with self._sessions() as session, session.begin():
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
                    created_at=now,
                    updated_at=now,
                )
                session.add(tenant)
            else:
                _apply(spec, tenant, now)
            await session.flush()
            users = await queries.count_users(session, tenant_id=tenant.id)
        return TenantState(tenant, users), created

    async def get_tenant(self, slug: str) -> TenantState:
        async with self._sessions() as session:
            tenant = await queries.tenant_by_slug(session, slug)
            if tenant is None:
                raise errors.UnknownTenant()
            return TenantState(tenant, await queries.count_users(session, tenant_id=tenant.id))

    async def find_users(self, *, tenant_slug: str, usernames: Sequence[str]) -> list[UserView]:
        """The users among `usernames` in the tenant: how chat resolves members."""
        async with self._sessions() as session:
            tenant = await queries.tenant_by_slug(session, tenant_slug)
            if tenant is None:
                raise errors.UnknownTenant()
            users = await queries.users_by_usernames(session, usernames, tenant_id=tenant.id)
        return [UserView.of(user, tenant_slug) for user in users]

    async def delete_tenant(self, slug: str) -> None:
        async with self._sessions() as session, session.begin():
            tenant = await queries.tenant_by_slug(session, slug, for_update=True)
            if tenant is not None:
                await queries.delete_tenant(session, tenant_id=tenant.id)
        if tenant is not None:
            logger.info("tenant deleted", extra={"tenant": slug})

    async def put_user(
        self, *, tenant_slug: str, username: str, password: str, display_name: str | None
    ) -> tuple[UserView, bool]:
        """The operator's upsert of a tenant admin; self-registration and max_users do not apply."""
        password_hash = await self._hasher.hash(password)
        async with self._sessions() as session, session.begin():
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


def _may_be_stored(*texts: str) -> bool:
    """False for text no name holds (shared/API.md "Names"): NUL, which PostgreSQL text
    refuses outright, so looking it up would be a 500 rather than a miss."""
    return not any("\x00" in text for text in texts)


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


def _apply(spec: TenantSpec, tenant: Tenant, now: datetime) -> None:
    tenant.display_name = spec.display_name
    tenant.self_registration = spec.self_registration
    tenant.suspended = spec.suspended
    tenant.max_users = spec.limits.max_users
    tenant.messages_per_minute = spec.limits.messages_per_minute
    tenant.max_message_chars = spec.limits.max_message_chars
    tenant.updated_at = now


def _parse_refresh_token(token: str) -> tuple[uuid.UUID, str]:
    tenant_hex, dot, secret = token.partition(".")
    if not dot or not secret:
        raise errors.InvalidRefreshToken()
    try:
        tenant_id = uuid.UUID(hex=tenant_hex)
    except ValueError:
        raise errors.InvalidRefreshToken() from None
    return tenant_id, _digest(token)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
