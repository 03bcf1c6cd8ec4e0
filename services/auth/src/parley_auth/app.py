"""The auth service's composition root: `create_app(settings)` builds everything it serves."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from typing import Any

from litestar import Litestar, Router, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from parley_auth.api import routes
from parley_auth.domain.passwords import PasswordHasher
from parley_auth.domain.service import AuthService, LoginPolicy, RegistrationPolicy
from parley_auth.domain.signing import SigningKey
from parley_auth.settings import AuthSettings
from parley_core import db, health, metrics, ratelimit, telemetry, tokens, web

MAX_BODY_BYTES = 64 * 1024
"""Auth bodies are a few hundred bytes; anything near this is abuse (413)."""


SERVICE = "parley-auth"

logger = logging.getLogger(__name__)


def create_app(settings: AuthSettings, *, tracing: telemetry.Tracing | None = None) -> Litestar:
    """Build the auth app. The signing key is generated only when none is configured (the
    embedded default); a configured key file must exist. `tracing` (from
    `telemetry.from_env`, None when off) traces requests, the database and Redis."""
    signing_key = SigningKey.load_or_create(
        settings.resolved_signing_key_file(), create=settings.signing_key_file is None
    )
    engine = db.create_engine(
        settings.resolved_database_url(), pool_size=settings.database_pool_size
    )
    redis = ratelimit.redis_client(settings.redis_url) if settings.redis_url else None
    if tracing is not None:
        tracing.instrument_engine(engine)
        if redis is not None:
            tracing.instrument_redis(redis)
    unwatch_pool = metrics.watch_pool("auth", engine)
    failures: ratelimit.WindowCounter
    capacity: ratelimit.WindowCounter
    if redis is not None:
        failures = ratelimit.RedisCounter(redis, prefix=f"{settings.redis_prefix}auth:")
        # Limits that only protect CPU keep working, per process, while Redis is down.
        capacity = ratelimit.FallbackCounter(failures, ratelimit.MemoryCounter())
    else:
        failures = capacity = ratelimit.MemoryCounter()
    auth = AuthService(
        sessions=db.sessionmaker(engine),
        hasher=PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            concurrency=settings.password_hash_concurrency,
        ),
        signing_key=signing_key,
        failures=failures,
        capacity=capacity,
        login_policy=LoginPolicy(
            failures_per_account=settings.login_failures_per_account,
            failures_per_address=settings.login_failures_per_address,
            logins_per_address=settings.logins_per_address,
            window_seconds=settings.login_failure_window_seconds,
        ),
        registration_policy=RegistrationPolicy(
            per_address=settings.registrations_per_address,
            window_seconds=settings.registration_window_seconds,
        ),
        access_ttl=timedelta(seconds=settings.access_token_ttl_seconds),
        refresh_ttl=timedelta(seconds=settings.refresh_token_ttl_seconds),
    )
    jwks = signing_key.jwks()

    async def local_jwks() -> dict[str, Any]:
        return jwks

    verifier = tokens.Verifier(local_jwks)

    @get("/.well-known/jwks.json", tags=["auth"])
    async def jwks_document() -> dict[str, Any]:
        return jwks

    probes: dict[str, health.Probe] = {"database": lambda: db.ping(engine)}
    if redis is not None:
        probes["redis"] = redis.ping

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        purge = asyncio.create_task(
            purge_refresh_tokens(auth, settings.refresh_token_purge_interval_seconds)
        )
        try:
            yield
        finally:
            purge.cancel()
            with suppress(asyncio.CancelledError):
                await purge
            unwatch_pool()
            if redis is not None:
                await redis.aclose()
            await engine.dispose()

    admin_token = settings.admin_token.get_secret_value() if settings.admin_token else None
    internal = Router(
        path="/", route_handlers=[routes.InternalController], guards=[web.admin_guard(admin_token)]
    )
    return Litestar(
        route_handlers=[
            routes.AuthController,
            routes.UsersController,
            internal,
            jwks_document,
            telemetry.MetricsController,
            *health.handlers(probes, service="auth"),
        ],
        dependencies={
            "auth": Provide(lambda: auth, sync_to_thread=False),
            "claims": Provide(web.identity_provider(verifier)),
        },
        exception_handlers=web.exception_handlers(),
        middleware=[telemetry.http_metrics(SERVICE), telemetry.RequestLog(SERVICE)],
        plugins=[tracing.plugin()] if tracing is not None else [],
        cors_config=web.cors_config(settings.cors_origins),
        openapi_config=OpenAPIConfig(title="Parley auth", version="1"),
        request_max_body_size=MAX_BODY_BYTES,
        request_class=web.JsonRequest,
        logging_config=None,
        lifespan=[lifespan],
        state=State({"auth": auth}),
    )


async def purge_refresh_tokens(auth: AuthService, interval_seconds: int) -> None:
    """Every replica runs this; the purge is safe to run concurrently (AuthService)."""
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            await auth.purge_refresh_tokens()
        except Exception:
            # A database outage: the rows wait for the next round; the process lives on.
            logger.exception("refresh token purge failed")
