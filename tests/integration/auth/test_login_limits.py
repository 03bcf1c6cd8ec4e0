"""Failed-login limiting (shared/API.md "Auth API"), with the in-memory and the Redis counter.

Each test starts its own servers with small limits (3 failures per account, 5 per client
address, a 2 s window): past a limit login answers 429 with an honest `Retry-After`, even
for the right password, until the window passes. With Redis the count is shared by every
replica; with Redis gone, login fails fast with a 503 naming it.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley_auth.app import create_app
from support import auth, services
from support.auth import Account, AuthApi
from support.servers import ServedApp

PER_ACCOUNT = 3
PER_ADDRESS = 5
WINDOW_SECONDS = 2
WRONG_PASSWORD = "not the password"


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One database for the module; each test makes its own tenants and its own counters."""
    return auth.migrated(f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('limits')}/auth.db")


@pytest.fixture(params=["memory", "redis"])
def counter(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings overrides selecting the failure counter; with Redis, counters of its own."""
    if request.param == "redis":
        return {"redis_url": services.redis_url(), "redis_prefix": services.redis_prefix()}
    return {}


@contextmanager
def limited_server(data_dir: Path, database_url: str, **overrides: Any) -> Iterator[AuthApi]:
    settings = auth.settings(
        data_dir,
        database_url,
        login_failures_per_account=PER_ACCOUNT,
        login_failures_per_address=PER_ADDRESS,
        login_failure_window_seconds=WINDOW_SECONDS,
        **overrides,
    )
    with ServedApp(create_app(settings)) as served:
        client = AuthApi(served.url)
        try:
            yield client
        finally:
            client.close()


@pytest.fixture
def limited(tmp_path: Path, sqlite_url: str, counter: dict[str, Any]) -> Iterator[AuthApi]:
    with limited_server(tmp_path, sqlite_url, **counter) as api:
        yield api


def attempt(api: AuthApi, account: Account, password: str | None = None) -> httpx.Response:
    return api.http.post(
        "/v1/auth/login",
        json={
            "tenant": account.tenant,
            "username": account.username,
            "password": account.password if password is None else password,
        },
    )


def fail(api: AuthApi, account: Account, times: int) -> None:
    for _ in range(times):
        response = attempt(api, account, WRONG_PASSWORD)
        assert response.status_code == 401, response.text


def assert_limited(response: httpx.Response) -> int:
    """The response is a 429 in the contract's shape; its Retry-After in seconds."""
    assert response.status_code == 429, response.text
    assert response.json()["status_code"] == 429
    assert response.json()["detail"]
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= WINDOW_SECONDS
    return retry_after


def test_past_the_per_account_limit_even_the_right_password_waits_out_retry_after(
    limited: AuthApi,
) -> None:
    account = limited.account()
    fail(limited, account, PER_ACCOUNT)
    assert_limited(attempt(limited, account, WRONG_PASSWORD))
    assert_limited(attempt(limited, account))
    # Another account from the same address is below both of its limits.
    neighbour = limited.account(account.tenant)
    assert attempt(limited, neighbour).status_code == 200

    # Later in the window Retry-After shrinks; a client that honours it exactly gets in, so
    # neither the refused attempts above nor rounding kept the account locked for longer.
    time.sleep(0.6)
    retry_after = assert_limited(attempt(limited, account))
    time.sleep(retry_after)
    response = attempt(limited, account)
    assert response.status_code == 200, response.text
    assert (
        limited.http.get("/v1/auth/me", headers=limited.bearer(response.json())).json()["username"]
        == account.username
    )


def test_the_per_account_limit_counts_the_account_however_its_name_is_cased(
    limited: AuthApi,
) -> None:
    account = limited.account()
    shouted = Account(
        account.tenant.upper(), account.username.upper(), account.password, account.id
    )
    fail(limited, shouted, PER_ACCOUNT)
    assert_limited(attempt(limited, account))


def test_past_the_per_address_limit_every_account_is_refused(limited: AuthApi) -> None:
    tenant = limited.tenant()
    accounts = [limited.account(tenant) for _ in range(PER_ADDRESS)]
    for account in accounts:
        fail(limited, account, 1)  # each one far below the per-account limit
    # Neither a fresh account nor one with failures left gets in, right password or not.
    assert_limited(attempt(limited, limited.account(tenant)))
    assert_limited(attempt(limited, accounts[0]))
    assert_limited(attempt(limited, accounts[1], WRONG_PASSWORD))
    # Unknown users count against the address too, and are refused the same way.
    assert_limited(attempt(limited, Account(tenant, "nobody-here", auth.PASSWORD, "")))


def test_unknown_users_are_limited_like_real_ones(limited: AuthApi) -> None:
    ghost = Account(limited.tenant(), "nobody-here", auth.PASSWORD, "")
    for _ in range(PER_ACCOUNT):
        assert attempt(limited, ghost).status_code == 401
    assert_limited(attempt(limited, ghost))


def test_successful_logins_do_not_count_as_failures(limited: AuthApi) -> None:
    account = limited.account()
    fail(limited, account, PER_ACCOUNT - 1)
    # More successes than either limit allows failures.
    for _ in range(PER_ADDRESS + 1):
        response = attempt(limited, account)
        assert response.status_code == 200, response.text
    # The last failure the account may have still answers 401; only then is it limited.
    assert attempt(limited, account, WRONG_PASSWORD).status_code == 401
    assert_limited(attempt(limited, account))


def test_with_redis_two_servers_share_the_failure_count(tmp_path: Path, postgres_url: str) -> None:
    redis = {"redis_url": services.redis_url(), "redis_prefix": services.redis_prefix()}
    with (
        limited_server(tmp_path / "one", postgres_url, **redis) as first,
        limited_server(tmp_path / "two", postgres_url, **redis) as second,
    ):
        account = first.account()
        fail(first, account, PER_ACCOUNT - 1)
        fail(second, account, 1)
        # Neither server alone saw the limit reached; together they did.
        assert_limited(attempt(first, account))
        assert_limited(attempt(second, account))

        other = first.account(account.tenant)
        fail(second, other, PER_ADDRESS - PER_ACCOUNT)
        assert_limited(attempt(first, first.account(account.tenant)))


def test_without_redis_each_server_counts_alone(tmp_path: Path, postgres_url: str) -> None:
    # The control for the shared count: the in-memory counter is one process's.
    with (
        limited_server(tmp_path / "one", postgres_url) as first,
        limited_server(tmp_path / "two", postgres_url) as second,
    ):
        account = first.account()
        fail(first, account, PER_ACCOUNT)
        assert_limited(attempt(first, account))
        assert attempt(second, account).status_code == 200


def test_with_redis_servers_given_different_prefixes_count_apart(
    tmp_path: Path, postgres_url: str
) -> None:
    # Two deployments (or two test runs) on one Redis: each prefix has its own counters.
    redis_url = services.redis_url()
    with (
        limited_server(
            tmp_path / "one",
            postgres_url,
            redis_url=redis_url,
            redis_prefix=services.redis_prefix(),
        ) as first,
        limited_server(
            tmp_path / "two",
            postgres_url,
            redis_url=redis_url,
            redis_prefix=services.redis_prefix(),
        ) as second,
    ):
        account = first.account()
        fail(first, account, PER_ACCOUNT)
        assert_limited(attempt(first, account))
        assert attempt(second, account).status_code == 200


def test_with_redis_unreachable_login_answers_503_naming_redis_quickly(
    tmp_path: Path, sqlite_url: str
) -> None:
    with limited_server(tmp_path, sqlite_url, redis_url="redis://127.0.0.1:1/0") as api:
        account = api.account()  # registration needs no Redis
        for password in (account.password, WRONG_PASSWORD):
            started = time.monotonic()
            response = attempt(api, account, password)
            elapsed = time.monotonic() - started
            assert response.status_code == 503, response.text
            assert "redis" in response.json()["detail"].lower()
            assert response.json()["status_code"] == 503
            assert elapsed < 5, elapsed
        ready = api.http.get("/readyz")
        assert ready.status_code == 503
        assert "redis" in ready.json()["detail"]


def test_with_redis_accepting_but_never_answering_login_answers_503_within_seconds(
    tmp_path: Path, sqlite_url: str
) -> None:
    # A hung Redis (connections complete in the kernel's backlog, nothing ever replies)
    # must hit the client's socket timeout, not hold the login open.
    with (
        socket.create_server(("127.0.0.1", 0), backlog=64) as silent,
        limited_server(
            tmp_path, sqlite_url, redis_url=f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        ) as api,
    ):
        account = api.account()
        started = time.monotonic()
        response = attempt(api, account)
        elapsed = time.monotonic() - started
        assert response.status_code == 503, response.text
        assert "redis" in response.json()["detail"].lower()
        assert elapsed < 5, elapsed
