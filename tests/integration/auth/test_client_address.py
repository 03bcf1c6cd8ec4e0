"""Which client address the failed-login limiter counts (docs/api.md "Auth API"), served
the way production serves it (`parley_core.serving`): X-Forwarded-For counts only from a
trusted proxy, and then only its rightmost entry that is not itself a trusted proxy, since
everything left of that is whatever the client chose to send."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from parley_auth.app import create_app
from support import auth
from support.auth import Account, AuthApi
from support.servers import ServedApp

PER_ADDRESS = 3


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return auth.migrated(f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('address')}/auth.db")


@contextmanager
def served(data_dir: Path, database_url: str, forwarded_allow_ips: str) -> Iterator[AuthApi]:
    settings = auth.settings(
        data_dir,
        database_url,
        login_failures_per_address=PER_ADDRESS,
        login_failures_per_account=100,
        forwarded_allow_ips=forwarded_allow_ips,
    )
    with ServedApp(create_app(settings), settings=settings) as server:
        client = AuthApi(server.url)
        try:
            yield client
        finally:
            client.close()


def fail_login(api: AuthApi, account: Account, forwarded_for: str) -> httpx.Response:
    return api.http.post(
        "/v1/auth/login",
        json={"tenant": account.tenant, "username": account.username, "password": "wrong-one"},
        headers={"X-Forwarded-For": forwarded_for},
    )


def test_an_untrusted_peer_cannot_choose_its_address_with_x_forwarded_for(
    tmp_path: Path, sqlite_url: str
) -> None:
    # The test client connects from 127.0.0.1, which is not the trusted proxy here.
    with served(tmp_path, sqlite_url, "10.1.2.3") as api:
        account = api.account()
        for number in range(PER_ADDRESS):
            assert fail_login(api, account, f"198.51.100.{number}").status_code == 401
        # A new forged address each time changed nothing: all counted as 127.0.0.1.
        assert fail_login(api, account, "198.51.100.200").status_code == 429


def test_behind_a_trusted_proxy_the_rightmost_untrusted_hop_is_the_client(
    tmp_path: Path, sqlite_url: str
) -> None:
    # The peer (127.0.0.1) and the 10.0.0.0/8 hop are proxies; 203.0.113.7 is the client,
    # and the entries left of it are what the client sent, forged anew on every request.
    with served(tmp_path, sqlite_url, "127.0.0.1,10.0.0.0/8") as api:
        account = api.account()
        for number in range(PER_ADDRESS):
            forged = f"198.51.100.{number}, 203.0.113.7, 10.0.0.5"
            assert fail_login(api, account, forged).status_code == 401
        assert fail_login(api, account, "198.51.100.99, 203.0.113.7, 10.0.0.5").status_code == 429
        # Another client behind the same proxies has its own count.
        assert fail_login(api, account, "203.0.113.8, 10.0.0.5").status_code == 401
