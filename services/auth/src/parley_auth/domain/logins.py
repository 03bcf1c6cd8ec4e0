"""Logins and their tokens: the part of `AuthService` that checks passwords, issues
and rotates refresh tokens, and purges the dead ones.

Refresh tokens look like `<tenant id hex>.<256 random bits>`: opaque to clients, but they
let every lookup stay scoped to a tenant (docs/style.md rule 3).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from parley_auth import metrics
from parley_auth.domain import errors
from parley_auth.domain.base import ServiceBase, may_be_stored
from parley_auth.domain.views import TokenPair
from parley_auth.storage import queries
from parley_auth.storage.models import RefreshFamily, RefreshToken, Tenant, User
from parley_core import logging as parley_logging
from parley_core import ratelimit
from parley_core.db import utcnow
from parley_core.metrics import RATE_LIMITED

logger = logging.getLogger(__name__)

PURGE_BATCH = 500
"""Rows one purge transaction deletes at most, so it never holds locks for long."""


class Logins(ServiceBase):
    async def login(
        self, *, tenant_slug: str, username: str, password: str, client_address: str
    ) -> TokenPair:
        """Past a limit, 429 even for the right password (docs/api.md "Auth API").

        Each attempt first takes a slot under every limit (parley_core.ratelimit: count
        first, then decide), so however many arrive at once, no more than the limit reach
        argon2. A failed password keeps its failure slots; anything else (the right
        password, a suspended tenant, a dependency down) gives them back, so successes
        never count as failures. The per-address logins slot is kept either way: the
        verification was spent.
        """
        parley_logging.bind(tenant=tenant_slug)
        failures, logins = self._login_limits(tenant_slug, username, client_address)
        await self._take_login_limits(failures, logins)
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

        rehashed = None
        if self.hasher.needs_rehash(user.password_hash):
            rehashed = await self.hasher.hash(password)
        async with self.sessions() as session, session.begin():
            # A password change that committed since the check must win: the login it
            # raced is refused, not issued a token that survives the change's revocation.
            current = await queries.lock_user(session, user.id, tenant_id=tenant.id)
            if current is None or current.password_hash != user.password_hash:
                metrics.LOGINS.labels(outcome="bad_credentials").inc()
                raise errors.BadCredentials()
            if rehashed is not None:
                await queries.set_password_hash(session, user.id, rehashed, tenant_id=tenant.id)
            family = RefreshFamily(tenant_id=tenant.id, user_id=user.id, created_at=utcnow())
            await queries.add_family(session, family, tenant_id=tenant.id)
            pair = await self._issue(session, tenant, user.id, user.username, family.id)
        metrics.LOGINS.labels(outcome="success").inc()
        parley_logging.bind(user_id=user.id)
        logger.info("login succeeded", extra={"tenant": tenant_slug, "user.id": str(user.id)})
        return pair

    def _login_limits(
        self, tenant_slug: str, username: str, client_address: str
    ) -> tuple[list[ratelimit.Limit], ratelimit.Limit]:
        """The failed-login limits (per account, per address) and the per-address limit
        of all logins, which every password check takes a slot under: logins and
        password changes alike (docs/api.md "Auth API")."""
        window = self.login_policy.window_seconds
        failures = [
            ratelimit.Limit(
                "login_account",
                self.failures,
                f"login:account:{tenant_slug}:{username}",
                self.login_policy.failures_per_account,
                window,
            ),
            ratelimit.Limit(
                "login_address",
                self.failures,
                f"login:address:{client_address}",
                self.login_policy.failures_per_address,
                window,
            ),
        ]
        logins = ratelimit.Limit(
            "logins_address",
            self.capacity,
            f"logins:address:{client_address}",
            self.login_policy.logins_per_address,
            window,
        )
        return failures, logins

    async def _take_login_limits(
        self, failures: list[ratelimit.Limit], logins: ratelimit.Limit
    ) -> None:
        """A slot under each limit, or 429 (count first, then decide)."""
        try:
            await ratelimit.take([*failures, logins])
        except ratelimit.LimitReached as refused:
            metrics.LOGINS.labels(outcome="rate_limited").inc()
            # One count per refused request: the account's limit when several are reached.
            RATE_LIMITED.labels(limit=refused.limit).inc()
            if refused.limit == logins.name:
                raise errors.TooManyLogins(retry_after=refused.retry_after) from None
            raise errors.TooManyLoginFailures(retry_after=refused.retry_after) from None

    async def change_password(
        self,
        *,
        tenant_slug: str,
        user_id: uuid.UUID,
        username: str,
        session_id: uuid.UUID | None,
        current_password: str,
        new_password: str,
        client_address: str,
    ) -> None:
        """docs/api.md "Accounts": the user's every other login ends; the one the caller's
        token came from (`session_id`) stays.

        The current password is checked as a login checks it, under the same limits and
        with the same counters: a wrong one is a failed login of the account, so the
        route cannot be used to guess around the login lockout. The change itself is a
        compare-and-set on the hash that was verified, so of two changes racing from the
        same password exactly one wins; the other is told its current password is wrong.
        """
        parley_logging.bind(tenant=tenant_slug, user_id=user_id)
        failures, logins = self._login_limits(tenant_slug, username, client_address)
        await self._take_login_limits(failures, logins)
        try:
            tenant, user = await self._user_with_password(tenant_slug, user_id, current_password)
        except errors.WrongCurrentPassword:
            metrics.PASSWORD_CHANGES.labels(outcome="wrong_password").inc()
            logger.info("password change refused: wrong current password")
            raise
        except BaseException:
            await ratelimit.give_back(failures)
            raise
        await ratelimit.give_back(failures)
        if tenant.suspended:
            raise errors.TenantSuspended()
        new_hash = await self.hasher.hash(new_password)
        now = utcnow()
        async with self.sessions() as session, session.begin():
            changed = await queries.set_password_hash(
                session, user.id, new_hash, tenant_id=tenant.id, expected=user.password_hash
            )
            if not changed:
                metrics.PASSWORD_CHANGES.labels(outcome="raced").inc()
                raise errors.WrongCurrentPassword()
            revoked = await queries.revoke_user_families(
                session, user.id, tenant_id=tenant.id, now=now, keep=session_id
            )
        metrics.PASSWORD_CHANGES.labels(outcome="changed").inc()
        logger.info("password changed", extra={"logins_revoked": revoked})

    async def _user_with_password(
        self, tenant_slug: str, user_id: uuid.UUID, password: str
    ) -> tuple[Tenant, User]:
        async with self.sessions() as session:
            tenant = await queries.tenant_by_slug(session, tenant_slug)
            user = None
            if tenant is not None:
                user = await queries.user_by_id(session, user_id, tenant_id=tenant.id)
        if tenant is None or user is None:
            # The account was removed after the token was issued.
            raise errors.BadCredentials("user no longer exists")
        if not await self.hasher.verify(user.password_hash, password):
            raise errors.WrongCurrentPassword()
        return tenant, user

    async def refresh(self, token: str) -> TokenPair:
        tenant_id, token_hash = _parse_refresh_token(token)
        now = utcnow()
        async with self.sessions() as session, session.begin():
            claimed = await queries.claim_refresh_token(
                session, token_hash, tenant_id=tenant_id, now=now
            )
            if claimed is None:
                known = await queries.refresh_token(session, token_hash, tenant_id=tenant_id)
                if known is not None and known.used_at is not None:
                    # docs/api.md: reuse is theft; the whole login dies.
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
        async with self.sessions() as session, session.begin():
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
        if may_be_stored(tenant_slug, username):
            async with self.sessions() as session:
                tenant = await queries.tenant_by_slug(session, tenant_slug)
                if tenant is not None:
                    user = await queries.user_by_username(session, username, tenant_id=tenant.id)
        # A user a tenant's backend made has no password (an empty hash): it verifies
        # against nothing, at the cost and with the answer of a wrong password.
        stored = (user.password_hash or None) if user else None
        verified = await self.hasher.verify(stored, password)
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
            async with self.sessions() as session, session.begin():
                batch = await queries.delete_dead_refresh_tokens(session, now=now, limit=batch_size)
            deleted += batch
            if batch < batch_size:
                break
        while True:
            async with self.sessions() as session, session.begin():
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
        *,
        access_ttl: timedelta | None = None,
    ) -> TokenPair:
        """A token pair; the access token lives `access_ttl` when given (a tenant's backend
        minting tokens picks it), else the configured TTL, as every rotated one does."""
        now = utcnow()
        access_ttl = access_ttl or self.access_ttl
        secret = f"{tenant.id.hex}.{secrets.token_urlsafe(32)}"
        token = RefreshToken(
            token_hash=_digest(secret),
            tenant_id=tenant.id,
            family_id=family_id,
            user_id=user_id,
            issued_at=now,
            expires_at=now + self.refresh_ttl,
        )
        await queries.add_refresh_token(session, token, tenant_id=tenant.id)
        access = self.signing_key.issue(
            user_id=user_id,
            tenant=tenant.slug,
            tenant_id=tenant.id,
            username=username,
            now=now,
            ttl=access_ttl,
            session_id=family_id,
        )
        return TokenPair(access, secret, int(access_ttl.total_seconds()))


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
