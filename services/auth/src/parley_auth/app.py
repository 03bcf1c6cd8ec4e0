"""The auth service's composition root: `create_app(settings)` builds everything it serves."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Litestar, get
from litestar.di import Provide

from parley_auth import rpc as auth_rpc
from parley_auth.api import routes, tenant_routes
from parley_auth.domain.passwords import PasswordHasher
from parley_auth.domain.service import (
    AuthService,
    LoginPolicy,
    RegistrationPolicy,
    TenantApiPolicy,
)
from parley_auth.domain.signing import SigningKey
from parley_auth.settings import AuthSettings
from parley_core import db, openapi, ratelimit, serverkeys, service, telemetry, tokens, web

MAX_BODY_BYTES = 64 * 1024
"""Auth bodies are a few hundred bytes; anything near this is abuse (413)."""


def create_app(settings: AuthSettings, *, tracing: telemetry.Tracing | None = None) -> Litestar:
    """Build the auth app. The signing key is generated only when none is configured (the
    embedded default); a configured key file must exist. `tracing` (from
    `telemetry.from_env`, None when off) traces requests, the database and Redis."""
    signing_key = SigningKey.load_or_create(
        settings.resolved_signing_key_file(), create=settings.signing_key_file is None
    )
    backends = service.backends("auth", settings, tracing)
    failures: ratelimit.WindowCounter
    capacity: ratelimit.WindowCounter
    if backends.redis is not None:
        failures = ratelimit.RedisCounter(backends.redis, prefix=backends.key_prefix)
        # Limits that only protect CPU keep working, per process, while Redis is down.
        capacity = ratelimit.FallbackCounter(failures, ratelimit.MemoryCounter())
    else:
        failures = capacity = ratelimit.MemoryCounter()
    auth = AuthService(
        sessions=db.sessionmaker(backends.engine),
        hasher=PasswordHasher(
            time_cost=settings.argon2.time_cost,
            memory_kib=settings.argon2.memory_kib,
            parallelism=settings.argon2.parallelism,
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
        tenant_api_policy=TenantApiPolicy(per_key=settings.server_key_requests_per_minute),
    )
    jwks = signing_key.jwks()

    async def local_jwks() -> dict[str, Any]:
        return jwks

    @get("/.well-known/jwks.json", tags=["auth"])
    async def jwks_document() -> dict[str, Any]:
        return jwks

    # Every replica purges; the purge is safe to run concurrently (AuthService).
    purging = service.every(
        settings.refresh_token_purge_interval_seconds,
        auth.purge_refresh_tokens,
        name="refresh token purge",
    )

    return service.service_app(
        backends,
        settings,
        tracing=tracing,
        verifier=tokens.Verifier(local_jwks),
        route_handlers=[
            routes.AuthController,
            routes.UsersController,
            tenant_routes.TenantController,
            jwks_document,
            # Chat merges these into the one public document (parley_core.openapi).
            *openapi.public_handlers(openapi.service_document("auth"), title="Parley auth"),
        ],
        internal=[
            routes.InternalController,
            tenant_routes.ServerKeysController,
            tenant_routes.IntrospectController,
        ],
        dependencies={
            "auth": Provide(lambda: auth, sync_to_thread=False),
            "server_key": Provide(web.server_key_provider(auth.resolve_server_key)),
        },
        state={"auth": auth},
        max_body_bytes=MAX_BODY_BYTES,
        lifespan=[purging],
        rpc_services=[
            auth_rpc.registration(auth, trusted_proxies=settings.forwarded_allow_ips),
            auth_rpc.tenant_registration(
                auth, lambda key: auth.resolve_server_key(serverkeys.digest(key))
            ),
        ],
    )
