"""parley_auth.domain.service: the auth rules, exercised without HTTP on a SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parley_auth.domain import errors
from parley_auth.domain.passwords import PasswordHasher
from parley_auth.domain.service import (
    AuthService,
    LoginPolicy,
    RegistrationPolicy,
    TenantLimits,
    TenantSpec,
)
from parley_auth.domain.signing import SigningKey
from parley_auth.storage import migrations
from parley_core import db, ratelimit
from parley_core import migrations as core_migrations

T = TypeVar("T")
PASSWORD = "correct horse battery"

Run = Callable[[Callable[[AuthService], Awaitable[T]]], T]


@pytest.fixture
def run(tmp_path: Path) -> Callable[[Callable[[AuthService], Awaitable[object]]], object]:
    """Run a coroutine against a fresh AuthService on its own loop and database."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'auth.db'}"
    core_migrations.upgrade(migrations.PACKAGE, url)
    counter = ratelimit.MemoryCounter()

    def runner(body: Callable[[AuthService], Awaitable[object]]) -> object:
        async def main() -> object:
            engine = db.create_engine(url)
            service = AuthService(
                sessions=db.sessionmaker(engine),
                hasher=PasswordHasher(time_cost=1, memory_kib=64, parallelism=1, concurrency=2),
                signing_key=SigningKey(Ed25519PrivateKey.generate()),
                failures=counter,
                capacity=counter,
                login_policy=LoginPolicy(
                    failures_per_account=2,
                    failures_per_address=50,
                    logins_per_address=1000,
                    window_seconds=60,
                ),
                registration_policy=RegistrationPolicy(per_address=1000, window_seconds=60),
                access_ttl=timedelta(minutes=15),
                refresh_ttl=timedelta(days=1),
            )
            try:
                return await body(service)
            finally:
                await engine.dispose()

        return asyncio.run(main())

    return runner


async def _tenant(service: AuthService, slug: str = "acme", **spec: object) -> str:
    values: dict[str, object] = {"display_name": slug, "self_registration": True, **spec}
    await service.put_tenant(slug, TenantSpec(**values))  # type: ignore[arg-type]
    return slug


async def _register(service: AuthService, tenant: str, username: str) -> None:
    await service.register(
        tenant_slug=tenant,
        username=username,
        password=PASSWORD,
        display_name=None,
        client_address="a",
    )


def test_registration_needs_self_registration_on(run: Run[None]) -> None:
    async def body(service: AuthService) -> None:
        tenant = await _tenant(service, self_registration=False)
        with pytest.raises(errors.RegistrationClosed):
            await _register(service, tenant, "alice")

    run(body)


def test_registration_stops_at_max_users(run: Run[None]) -> None:
    async def body(service: AuthService) -> None:
        tenant = await _tenant(service, limits=TenantLimits(max_users=1))
        await _register(service, tenant, "alice")
        with pytest.raises(errors.TenantFull):
            await _register(service, tenant, "bobby")

    run(body)


def test_a_suspended_tenant_refuses_login_only_after_the_password_verifies(run: Run[None]) -> None:
    async def body(service: AuthService) -> None:
        tenant = await _tenant(service)
        await _register(service, tenant, "alice")
        await service.put_tenant(tenant, TenantSpec(display_name="x", suspended=True))
        with pytest.raises(errors.BadCredentials):
            await service.login(
                tenant_slug=tenant, username="alice", password="wrong!!", client_address="a"
            )
        with pytest.raises(errors.TenantSuspended):
            await service.login(
                tenant_slug=tenant, username="alice", password=PASSWORD, client_address="a"
            )

    run(body)


def test_failed_logins_past_the_account_limit_refuse_even_the_right_password(
    run: Run[None],
) -> None:
    async def body(service: AuthService) -> None:
        tenant = await _tenant(service)
        await _register(service, tenant, "alice")
        for _ in range(2):
            with pytest.raises(errors.BadCredentials):
                await service.login(
                    tenant_slug=tenant, username="alice", password="nope", client_address="a"
                )
        with pytest.raises(errors.TooManyLoginFailures) as refused:
            await service.login(
                tenant_slug=tenant, username="alice", password=PASSWORD, client_address="a"
            )
        assert 1 <= refused.value.retry_after <= 60
        assert refused.value.headers["Retry-After"] == str(refused.value.retry_after)

    run(body)


def test_successful_logins_are_not_counted_as_failures(run: Run[None]) -> None:
    async def body(service: AuthService) -> None:
        tenant = await _tenant(service)
        await _register(service, tenant, "alice")
        for _ in range(5):
            await service.login(
                tenant_slug=tenant, username="alice", password=PASSWORD, client_address="a"
            )

    run(body)


def test_reusing_a_refresh_token_revokes_its_descendants(run: Run[None]) -> None:
    async def body(service: AuthService) -> None:
        tenant = await _tenant(service)
        await _register(service, tenant, "alice")
        first = await service.login(
            tenant_slug=tenant, username="alice", password=PASSWORD, client_address="a"
        )
        second = await service.refresh(first.refresh_token)
        with pytest.raises(errors.InvalidRefreshToken):
            await service.refresh(first.refresh_token)
        with pytest.raises(errors.InvalidRefreshToken):
            await service.refresh(second.refresh_token)

    run(body)


@pytest.mark.parametrize(
    "token", ["", "no-dot", "nothex.secret", ".secret", "00000000000000000000000000000000."]
)
def test_malformed_refresh_tokens_are_refused(run: Run[None], token: str) -> None:
    async def body(service: AuthService) -> None:
        with pytest.raises(errors.InvalidRefreshToken):
            await service.refresh(token)

    run(body)


def test_deleting_a_tenant_ends_its_logins_and_is_idempotent(run: Run[None]) -> None:
    async def body(service: AuthService) -> None:
        tenant = await _tenant(service)
        await _register(service, tenant, "alice")
        pair = await service.login(
            tenant_slug=tenant, username="alice", password=PASSWORD, client_address="a"
        )
        await service.delete_tenant(tenant)
        await service.delete_tenant(tenant)
        with pytest.raises(errors.InvalidRefreshToken):
            await service.refresh(pair.refresh_token)
        with pytest.raises(errors.UnknownTenant):
            await service.get_tenant(tenant)

    run(body)


def test_the_purge_keeps_live_logins_whole_so_reuse_is_still_caught(run: Run[None]) -> None:
    async def body(service: AuthService) -> None:
        tenant = await _tenant(service)
        await _register(service, tenant, "alice")
        await _register(service, tenant, "bobby")

        async def login(username: str) -> str:
            pair = await service.login(
                tenant_slug=tenant, username=username, password=PASSWORD, client_address="a"
            )
            return pair.refresh_token

        first = await login("alice")
        latest = (await service.refresh(first)).refresh_token
        await service.logout(await login("bobby"))
        # bobby's one token and his login go; alice's used token stays until it expires.
        assert await service.purge_refresh_tokens() == 2
        assert await service.purge_refresh_tokens() == 0
        with pytest.raises(errors.InvalidRefreshToken):
            await service.refresh(first)
        with pytest.raises(errors.InvalidRefreshToken):
            await service.refresh(latest)  # the reuse above revoked the login

    run(body)


def test_the_purge_works_through_more_rows_than_one_batch(run: Run[None]) -> None:
    async def body(service: AuthService) -> None:
        tenant = await _tenant(service)
        await _register(service, tenant, "alice")
        for _ in range(7):
            pair = await service.login(
                tenant_slug=tenant, username="alice", password=PASSWORD, client_address="a"
            )
            await service.logout(pair.refresh_token)
        # Seven tokens and seven logins, three rows a transaction.
        assert await service.purge_refresh_tokens(batch_size=3) == 14

    run(body)
