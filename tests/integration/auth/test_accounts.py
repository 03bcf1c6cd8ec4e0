"""Accounts (docs/api.md "v1 additions", Accounts): a user renames themselves, changes
their password (ending every other login, counted like a login), and has a `kind`."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley_auth.app import create_app
from support import auth, services
from support.auth import PASSWORD, Account, AuthApi
from support.problems import invalid, problem
from support.servers import ServedApp

NEW_PASSWORD = "a brand new passphrase"


def change(api: AuthApi, tokens: dict[str, Any], current: str, new: str) -> httpx.Response:
    return api.http.post(
        "/v1/auth/password",
        json={"current_password": current, "new_password": new},
        headers=api.bearer(tokens),
    )


def login(api: AuthApi, account: Account, password: str) -> httpx.Response:
    return api.http.post(
        "/v1/auth/login",
        json={"tenant": account.tenant, "username": account.username, "password": password},
    )


def refresh(api: AuthApi, tokens: dict[str, Any]) -> httpx.Response:
    return api.http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})


def test_every_user_view_says_the_user_is_a_person(api: AuthApi) -> None:
    tenant = api.tenant()
    registered = api.http.post(
        "/v1/auth/register", json={"tenant": tenant, "username": "ada", "password": PASSWORD}
    ).json()
    assert registered["kind"] == "person"
    account = Account(tenant, "ada", PASSWORD, registered["id"])
    headers = api.bearer(api.login(account))
    assert api.http.get("/v1/auth/me", headers=headers).json()["kind"] == "person"
    (listed,) = api.http.get("/v1/users", params={"prefix": "ada"}, headers=headers).json()["users"]
    assert listed["kind"] == "person"
    admin = api.http.put(
        f"/internal/v1/tenants/{tenant}/users/boss", json={"password": PASSWORD}, headers=api.admin
    )
    assert admin.json()["kind"] == "person"


def test_a_user_renames_themselves_and_every_view_shows_the_new_name(api: AuthApi) -> None:
    account = api.account()
    headers = api.bearer(api.login(account))
    response = api.http.patch("/v1/auth/me", json={"display_name": "Ada L."}, headers=headers)
    assert response.status_code == 200, response.text
    assert (response.json()["display_name"], response.json()["username"]) == (
        "Ada L.",
        account.username,
    )
    assert api.http.get("/v1/auth/me", headers=headers).json()["display_name"] == "Ada L."


def test_a_display_name_registration_would_refuse_is_a_422_naming_it(api: AuthApi) -> None:
    headers = api.bearer(api.login(api.account()))
    for bad in ("", "   ", "x" * 65, "evil\u202etxt", "nul\x00", 7, None):
        response = api.http.patch("/v1/auth/me", json={"display_name": bad}, headers=headers)
        invalid(response, "display_name")
    problem(api.http.patch("/v1/auth/me", json={}, headers=headers), 422)


def test_renaming_needs_a_token(api: AuthApi) -> None:
    problem(api.http.patch("/v1/auth/me", json={"display_name": "x"}), 401)


def test_a_password_change_ends_every_other_login_and_keeps_the_current_one(
    api: AuthApi,
) -> None:
    account = api.account()
    current, other, third = (api.login(account) for _ in range(3))

    response = change(api, current, PASSWORD, NEW_PASSWORD)

    assert response.status_code == 204, response.text
    for ended in (other, third):
        problem(refresh(api, ended), 401)
    kept = refresh(api, current)
    assert kept.status_code == 200, kept.text
    # The refreshed token still names the same login: it survives a second change.
    assert change(api, kept.json(), NEW_PASSWORD, PASSWORD).status_code == 204
    assert refresh(api, kept.json()).status_code == 200
    problem(login(api, account, NEW_PASSWORD), 401)
    assert login(api, account, PASSWORD).status_code == 200


def test_after_a_password_change_only_the_new_password_logs_in(api: AuthApi) -> None:
    account = api.account()
    assert change(api, api.login(account), PASSWORD, NEW_PASSWORD).status_code == 204
    problem(login(api, account, PASSWORD), 401)
    assert login(api, account, NEW_PASSWORD).status_code == 200


def test_a_wrong_current_password_is_a_401_and_changes_nothing(api: AuthApi) -> None:
    account = api.account()
    tokens, other = api.login(account), api.login(account)
    body = problem(change(api, tokens, "not the password", NEW_PASSWORD), 401)
    assert "current_password" in body["detail"]
    assert refresh(api, other).status_code == 200
    assert login(api, account, PASSWORD).status_code == 200


def test_a_bad_new_password_is_a_422_naming_it(api: AuthApi) -> None:
    tokens = api.login(api.account())
    for bad in ("short", "x" * 257, 12345678, None):
        response = api.http.post(
            "/v1/auth/password",
            json={"current_password": PASSWORD, "new_password": bad},
            headers=api.bearer(tokens),
        )
        invalid(response, "new_password")
    problem(change(api, tokens, "", NEW_PASSWORD), 422)


def test_changing_a_password_needs_a_token(api: AuthApi) -> None:
    response = api.http.post(
        "/v1/auth/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    problem(response, 401)


# -- counted as logins ----------------------------------------------------------------------

PER_ACCOUNT = 3


@pytest.fixture(params=["memory", "redis"])
def limited(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuthApi]:
    """A server allowing 3 failed logins a minute per account."""
    database_url = auth.migrated(f"sqlite+aiosqlite:///{tmp_path}/auth.db")
    counter = {"redis": services.own_redis()} if request.param == "redis" else {}
    settings = auth.settings(
        tmp_path, database_url, login_failures_per_account=PER_ACCOUNT, **counter
    )
    with ServedApp(create_app(settings)) as served, AuthApi(served.url) as client:
        yield client


def test_wrong_current_passwords_count_as_failed_logins_of_the_account(limited: AuthApi) -> None:
    api = limited
    account = api.account()
    tokens = api.login(account)
    for _ in range(PER_ACCOUNT):
        problem(change(api, tokens, "not the password", NEW_PASSWORD), 401)
    # The account is locked out for logins and for changes, even with the right password.
    limited_login = problem(login(api, account, PASSWORD), 429)
    assert limited_login["detail"]
    response = change(api, tokens, PASSWORD, NEW_PASSWORD)
    problem(response, 429)
    assert int(response.headers["Retry-After"]) >= 1


def test_failed_logins_lock_out_password_changes_too(limited: AuthApi) -> None:
    api = limited
    account = api.account()
    tokens = api.login(account)
    for _ in range(PER_ACCOUNT):
        problem(login(api, account, "not the password"), 401)
    problem(change(api, tokens, PASSWORD, NEW_PASSWORD), 429)


def test_a_right_current_password_does_not_count_as_a_failure(limited: AuthApi) -> None:
    api = limited
    account = api.account()
    tokens = api.login(account)
    passwords = [PASSWORD, NEW_PASSWORD]
    for turn in range(PER_ACCOUNT + 2):
        current, new = passwords[turn % 2], passwords[(turn + 1) % 2]
        assert change(api, tokens, current, new).status_code == 204
    assert login(api, account, passwords[(PER_ACCOUNT + 2) % 2]).status_code == 200


# -- races ------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def race_api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuthApi]:
    if request.param == "postgres":
        database_url = request.getfixturevalue("postgres_url")
    else:
        database_url = auth.migrated(f"sqlite+aiosqlite:///{tmp_path}/auth.db")
    settings = auth.settings(tmp_path, database_url)
    with ServedApp(create_app(settings)) as served, AuthApi(served.url) as client:
        yield client


def race(url: str, calls: list[Any]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(calls), timeout=30)

    def run(index: int) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=30) as client:
            client.get("/readyz").raise_for_status()
            barrier.wait()
            response: httpx.Response = calls[index](client)
            return response

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, range(len(calls))))


def test_of_two_concurrent_password_changes_exactly_one_wins(race_api: AuthApi) -> None:
    api = race_api
    account = api.account()
    first, second = api.login(account), api.login(account)
    candidates = ["first new passphrase", "second new passphrase"]

    def changing(tokens: dict[str, Any], new: str) -> Any:
        return lambda client: client.post(
            "/v1/auth/password",
            json={"current_password": PASSWORD, "new_password": new},
            headers=api.bearer(tokens),
        )

    responses = race(api.url, [changing(first, candidates[0]), changing(second, candidates[1])])

    assert Counter(r.status_code for r in responses) == Counter({204: 1, 401: 1})
    winner = candidates[[r.status_code for r in responses].index(204)]
    loser = next(c for c in candidates if c != winner)
    assert login(api, account, winner).status_code == 200
    for refused in (loser, PASSWORD):
        problem(login(api, account, refused), 401)
    # The winner's login stays, the loser's was ended by the winner's change.
    winning_tokens, losing_tokens = (first, second) if winner == candidates[0] else (second, first)
    assert refresh(api, winning_tokens).status_code == 200
    problem(refresh(api, losing_tokens), 401)


def test_a_login_racing_a_password_change_never_outlives_it(race_api: AuthApi) -> None:
    api = race_api
    account = api.account()
    tokens = api.login(account)

    responses = race(
        api.url,
        [
            lambda client: client.post(
                "/v1/auth/password",
                json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                headers=api.bearer(tokens),
            ),
            *[
                lambda client: client.post(
                    "/v1/auth/login",
                    json={
                        "tenant": account.tenant,
                        "username": account.username,
                        "password": PASSWORD,
                    },
                )
                for _ in range(4)
            ],
        ],
    )

    assert responses[0].status_code == 204, responses[0].text
    for response in responses[1:]:
        assert response.status_code in (200, 401), response.text
        if response.status_code == 200:
            # Issued with the old password: the change ended it, whichever came first.
            problem(refresh(api, response.json()), 401)
