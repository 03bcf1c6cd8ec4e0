"""Login and registration limiting (docs/api.md "Auth API"), with the in-memory and the
Redis counter.

Each test starts its own servers with small limits (3 failures per account, 5 per client
address, a 2 s window): past a limit login answers 429 with an honest `Retry-After`, even
for the right password, until the window passes. With Redis the count is shared by every
replica; with Redis gone, login fails fast with a 503 naming it.

The concurrent tests read `parley_auth_password_verifications_total` from the servers'
/metrics: however many wrong passwords arrive at once, at most the limit reach argon2.
"""

from __future__ import annotations

import asyncio
import re
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
from support.processes import ServiceProcess
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
        return {"redis": services.own_redis()}
    return {}


@contextmanager
def limited_server(data_dir: Path, database_url: str, **overrides: Any) -> Iterator[AuthApi]:
    limits: dict[str, Any] = {
        "login_failures_per_account": PER_ACCOUNT,
        "login_failures_per_address": PER_ADDRESS,
        "login_failure_window_seconds": WINDOW_SECONDS,
    }
    settings = auth.settings(data_dir, database_url, **{**limits, **overrides})
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
    redis = {"redis": services.own_redis()}
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
            redis={"url": redis_url, "prefix": services.redis_prefix()},
        ) as first,
        limited_server(
            tmp_path / "two",
            postgres_url,
            redis={"url": redis_url, "prefix": services.redis_prefix()},
        ) as second,
    ):
        account = first.account()
        fail(first, account, PER_ACCOUNT)
        assert_limited(attempt(first, account))
        assert attempt(second, account).status_code == 200


def test_with_redis_unreachable_login_answers_503_naming_redis_quickly(
    tmp_path: Path, sqlite_url: str
) -> None:
    with limited_server(tmp_path, sqlite_url, redis={"url": "redis://127.0.0.1:1/0"}) as api:
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
            tmp_path, sqlite_url, redis={"url": f"redis://127.0.0.1:{silent.getsockname()[1]}/0"}
        ) as api,
    ):
        account = api.account()
        started = time.monotonic()
        response = attempt(api, account)
        elapsed = time.monotonic() - started
        assert response.status_code == 503, response.text
        assert "redis" in response.json()["detail"].lower()
        assert elapsed < 5, elapsed


# -- count first: concurrent guesses -------------------------------------------------------

# Long enough that no window ends while a burst is being answered on a busy machine.
BURST_WINDOW_SECONDS = 120


def verifications(url: str) -> float:
    """The server process's argon2 verifications so far, from its /metrics."""
    text = httpx.get(f"{url}/metrics", timeout=30).text
    found = re.search(r"^parley_auth_password_verifications_total (\S+)$", text, re.MULTILINE)
    assert found, "parley_auth_password_verifications_total is not exported"
    return float(found.group(1))


def all_at_once(urls: list[str], bodies: list[dict[str, str]]) -> list[int]:
    """POST every body to /v1/auth/login at once, spread over `urls`; the statuses."""

    async def burst() -> list[int]:
        limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=120, limits=limits) as client:
            responses = await asyncio.gather(
                *(
                    client.post(f"{urls[n % len(urls)]}/v1/auth/login", json=body)
                    for n, body in enumerate(bodies)
                )
            )
        for response in responses:
            if response.status_code == 429:
                assert int(response.headers["retry-after"]) >= 1
        return [response.status_code for response in responses]

    return asyncio.run(burst())


def wrong_guesses(account: Account, times: int) -> list[dict[str, str]]:
    body = {"tenant": account.tenant, "username": account.username, "password": WRONG_PASSWORD}
    return [body] * times


def unknown_users(tenant: str, times: int) -> list[dict[str, str]]:
    return [
        {"tenant": tenant, "username": f"nobody-{n}", "password": WRONG_PASSWORD}
        for n in range(times)
    ]


def assert_at_most_checked(statuses: list[int], checked: float, limit: int) -> None:
    """No more than `limit` guesses reached argon2; each of them was a 401, the rest 429."""
    assert 1 <= checked <= limit, (checked, statuses)
    assert statuses.count(401) == checked, statuses
    assert statuses.count(429) == len(statuses) - checked, statuses


@pytest.mark.parametrize("guesses", [30, 200])
def test_concurrent_wrong_passwords_for_one_account_reach_argon2_at_most_the_limit_times(
    tmp_path: Path, sqlite_url: str, counter: dict[str, Any], guesses: int
) -> None:
    with limited_server(
        tmp_path,
        sqlite_url,
        login_failures_per_address=100_000,
        login_failure_window_seconds=BURST_WINDOW_SECONDS,
        **counter,
    ) as api:
        account = api.account()
        before = verifications(api.url)
        statuses = all_at_once([api.url], wrong_guesses(account, guesses))
        assert_at_most_checked(statuses, verifications(api.url) - before, PER_ACCOUNT)
        assert_limited_for(api, account)


@pytest.mark.parametrize("guesses", [30, 200])
def test_concurrent_wrong_logins_from_one_address_reach_argon2_at_most_its_limit_times(
    tmp_path: Path, sqlite_url: str, counter: dict[str, Any], guesses: int
) -> None:
    with limited_server(
        tmp_path, sqlite_url, login_failure_window_seconds=BURST_WINDOW_SECONDS, **counter
    ) as api:
        tenant = api.tenant()
        before = verifications(api.url)
        statuses = all_at_once([api.url], unknown_users(tenant, guesses))
        assert_at_most_checked(statuses, verifications(api.url) - before, PER_ADDRESS)


def assert_limited_for(api: AuthApi, account: Account) -> None:
    """Even the right password waits: the burst used up the account's failures."""
    response = attempt(api, account)
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) >= 1


def test_two_auth_processes_on_postgres_and_redis_let_at_most_the_limit_reach_argon2(
    tmp_path: Path, postgres_url: str
) -> None:
    redis_url = services.redis_url()
    env = {
        "PARLEY_DATABASE_URL": postgres_url,
        "PARLEY_REDIS_URL": redis_url,
        # Both processes count together, apart from every other test and run.
        "PARLEY_REDIS_PREFIX": services.redis_prefix(),
        "PARLEY_ADMIN_TOKEN": auth.ADMIN_TOKEN,
        **auth.PROCESS_ENV,
        "PARLEY_LOGIN_FAILURES_PER_ACCOUNT": str(PER_ACCOUNT),
        "PARLEY_LOGIN_FAILURES_PER_ADDRESS": str(PER_ADDRESS),
        "PARLEY_LOGIN_FAILURE_WINDOW_SECONDS": str(BURST_WINDOW_SECONDS),
    }
    with (
        ServiceProcess("parley_auth", {**env, "PARLEY_DATA_DIR": str(tmp_path / "one")},
                       log_dir=tmp_path) as first,
        ServiceProcess("parley_auth", {**env, "PARLEY_DATA_DIR": str(tmp_path / "two")},
                       log_dir=tmp_path) as second,
        AuthApi(first.url) as api,
    ):  # fmt: skip
        urls = [first.url, second.url]

        def checked() -> float:
            return sum(verifications(url) for url in urls)

        account = api.account()
        before = checked()
        statuses = all_at_once(urls, wrong_guesses(account, 200))
        spent = int(checked() - before)
        assert_at_most_checked(statuses, spent, PER_ACCOUNT)
        with AuthApi(second.url) as other:
            # Two limits at once can refuse a guess the account alone would have let
            # through (another guess held the address's slot for a moment), so the burst
            # may spend fewer than PER_ACCOUNT failures: spend the rest one at a time.
            fail(other, account, PER_ACCOUNT - spent)
            assert_limited_for(other, account)

        # The address has spent some failures on the first burst: "at most" still holds.
        before = checked()
        statuses = all_at_once(urls, unknown_users(account.tenant, 200))
        assert_at_most_checked(statuses, checked() - before, PER_ADDRESS)


# -- per-address limits on everything that costs argon2 -----------------------------------


def test_past_the_per_address_login_limit_even_successful_logins_wait_out_retry_after(
    tmp_path: Path, sqlite_url: str, counter: dict[str, Any]
) -> None:
    with limited_server(tmp_path, sqlite_url, logins_per_address=4, **counter) as api:
        account = api.account()
        for _ in range(4):
            assert attempt(api, account).status_code == 200
        retry_after = assert_limited(attempt(api, account))
        # Another account from the same address waits too; a wrong password is not checked.
        assert_limited(attempt(api, api.account(account.tenant)))
        assert_limited(attempt(api, account, WRONG_PASSWORD))
        time.sleep(retry_after)
        assert attempt(api, account).status_code == 200


def register(api: AuthApi, tenant: str, username: str) -> httpx.Response:
    return api.http.post(
        "/v1/auth/register",
        json={"tenant": tenant, "username": username, "password": auth.PASSWORD},
    )


def test_past_the_per_address_registration_limit_registering_waits_out_retry_after(
    tmp_path: Path, sqlite_url: str, counter: dict[str, Any]
) -> None:
    with limited_server(
        tmp_path,
        sqlite_url,
        registrations_per_address=3,
        registration_window_seconds=WINDOW_SECONDS,
        **counter,
    ) as api:
        tenant = api.tenant()
        for n in range(3):
            assert register(api, tenant, f"early{n}").status_code == 201
        retry_after = assert_limited(register(api, tenant, "late0"))
        usage = api.http.get(f"/internal/v1/tenants/{tenant}", headers=api.admin).json()["usage"]
        assert usage == {"users": 3}
        time.sleep(retry_after)
        assert register(api, tenant, "late1").status_code == 201
