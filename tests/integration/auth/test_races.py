"""Real races against a live auth server: many clients released at once by a barrier.

Each test gets a fresh database and its own server, on PostgreSQL and on SQLite (the
embedded default), so the outcome is decided by the database's locking and constraints, not
by test ordering: one refresh wins and the losers' replays revoke the family, max_users
holds, a username is taken once, a tenant and an operator's user are created once.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from parley_auth.app import create_app
from support import auth
from support.auth import PASSWORD, AuthApi
from support.servers import ServedApp

Call = Callable[[httpx.Client, int], httpx.Response]


@pytest.fixture(params=["sqlite", "postgres"])
def race_api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuthApi]:
    """A server on a fresh database of each backend."""
    if request.param == "postgres":
        database_url = request.getfixturevalue("postgres_url")
    else:
        database_url = auth.migrated(f"sqlite+aiosqlite:///{tmp_path}/auth.db")
    with ServedApp(create_app(auth.settings(tmp_path, database_url))) as served:
        client = AuthApi(served.url)
        try:
            yield client
        finally:
            client.close()


def race(url: str, parties: int, call: Call) -> list[httpx.Response]:
    """Run `call` from `parties` threads, each on its own connection, released together."""
    barrier = threading.Barrier(parties, timeout=30)

    def run(index: int) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=30) as client:
            # Connect before the barrier, and have the server open database connections
            # (readiness pings the database), so requests race rather than handshakes.
            try:
                client.get("/readyz").raise_for_status()
            except BaseException:
                barrier.abort()  # fail every party now rather than at the barrier's timeout
                raise
            barrier.wait()
            return call(client, index)

    with ThreadPoolExecutor(max_workers=parties) as pool:
        return list(pool.map(run, range(parties)))


def statuses(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(response.status_code for response in responses)


def test_concurrent_refreshes_of_one_token_have_one_winner_and_the_family_dies(
    race_api: AuthApi,
) -> None:
    api = race_api
    tokens = api.login(api.account())
    parties = 20

    responses = race(
        api.url,
        parties,
        lambda client, _: client.post(
            "/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        ),
    )

    assert statuses(responses) == Counter({200: 1, 401: parties - 1}), [
        response.text for response in responses if response.status_code not in (200, 401)
    ]
    (winner,) = (response.json() for response in responses if response.status_code == 200)
    # Every loser replayed a used token: theft, so the winner's rotation is revoked too.
    again = api.http.post("/v1/auth/refresh", json={"refresh_token": winner["refresh_token"]})
    assert again.status_code == 401, again.text


def test_concurrent_registrations_never_exceed_max_users(race_api: AuthApi) -> None:
    api = race_api
    max_users, parties = 5, 20
    tenant = api.tenant(limits={"max_users": max_users})

    responses = race(
        api.url,
        parties,
        lambda client, index: client.post(
            "/v1/auth/register",
            json={"tenant": tenant, "username": f"racer-{index:02d}", "password": PASSWORD},
        ),
    )

    assert statuses(responses) == Counter({201: max_users, 403: parties - max_users})
    state = api.http.get(f"/internal/v1/tenants/{tenant}", headers=api.admin).json()
    assert state["usage"]["users"] == max_users
    winners = {response.json()["username"] for response in responses if response.status_code == 201}
    token = api.http.post(
        "/v1/auth/login", json={"tenant": tenant, "username": min(winners), "password": PASSWORD}
    ).json()
    listed = api.http.get("/v1/users", headers=api.bearer(token)).json()["users"]
    assert {user["username"] for user in listed} == winners


def test_concurrent_registrations_of_one_username_have_one_winner(race_api: AuthApi) -> None:
    api = race_api
    tenant = api.tenant()
    parties = 10

    responses = race(
        api.url,
        parties,
        lambda client, index: client.post(
            "/v1/auth/register",
            json={"tenant": tenant, "username": "alice", "password": f"{PASSWORD} {index}"},
        ),
    )

    assert statuses(responses) == Counter({201: 1, 409: parties - 1})
    (winner,) = (index for index, response in enumerate(responses) if response.status_code == 201)
    state = api.http.get(f"/internal/v1/tenants/{tenant}", headers=api.admin).json()
    assert state["usage"]["users"] == 1
    # The stored password is the winner's, not a loser's written over it.
    login = {"tenant": tenant, "username": "alice", "password": f"{PASSWORD} {winner}"}
    assert api.http.post("/v1/auth/login", json=login).status_code == 200


def test_concurrent_puts_of_a_new_tenant_create_it_once(race_api: AuthApi) -> None:
    api = race_api
    parties = 10

    responses = race(
        api.url,
        parties,
        lambda client, index: client.put(
            "/internal/v1/tenants/t-raced",
            json={"display_name": f"racer {index}", "self_registration": True},
            headers=api.admin,
        ),
    )

    assert statuses(responses) == Counter({201: 1, 200: parties - 1})
    assert len({response.json()["id"] for response in responses}) == 1


def test_concurrent_puts_of_a_new_operator_user_create_it_once(race_api: AuthApi) -> None:
    api = race_api
    tenant = api.tenant(self_registration=False)
    parties = 10

    responses = race(
        api.url,
        parties,
        lambda client, index: client.put(
            f"/internal/v1/tenants/{tenant}/users/admin",
            json={"password": f"{PASSWORD} {index}"},
            headers=api.admin,
        ),
    )

    assert statuses(responses) == Counter({201: 1, 200: parties - 1})
    assert len({response.json()["id"] for response in responses}) == 1
    state = api.http.get(f"/internal/v1/tenants/{tenant}", headers=api.admin).json()
    assert state["usage"]["users"] == 1
