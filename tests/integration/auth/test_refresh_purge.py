"""Refresh tokens are purged, so the table stays bounded however often clients rotate.

Each server here purges every second and hands out refresh tokens that live three seconds:
expired tokens, the tokens of revoked logins, and logins with no token left disappear while
rotation goes on, on both database backends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from parley_auth.app import create_app
from support import auth
from support.auth import Account, AuthApi
from support.servers import ServedApp

REFRESH_TTL_SECONDS = 3


@contextmanager
def purging_server(data_dir: Path, database_url: str) -> Iterator[AuthApi]:
    settings = auth.settings(
        data_dir,
        database_url,
        refresh_token_ttl_seconds=REFRESH_TTL_SECONDS,
        refresh_token_purge_interval_seconds=1,
    )
    with ServedApp(create_app(settings)) as served, AuthApi(served.url) as api:
        yield api


def rows_of(database_url: str, account: Account) -> tuple[int, int]:
    """The account's refresh tokens and logins (refresh families) stored right now."""
    engine = sa.create_engine(database_url.replace("+aiosqlite", ""))
    user = "SELECT id FROM users WHERE username = :username"
    try:
        with engine.connect() as connection:
            counts = [
                connection.execute(
                    sa.text(f"SELECT count(*) FROM {table} WHERE user_id IN ({user})"),
                    {"username": account.username},
                ).scalar_one()
                for table in ("refresh_tokens", "refresh_families")
            ]
    finally:
        engine.dispose()
    return counts[0], counts[1]


def eventually(condition: Callable[[], bool], *, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "the purge never caught up"
        time.sleep(0.2)


def rotate(api: AuthApi, tokens: dict[str, str]) -> dict[str, str]:
    response = api.http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert response.status_code == 200, response.text
    rotated: dict[str, str] = response.json()
    return rotated


def test_rotation_keeps_the_refresh_token_table_bounded(tmp_path: Path, database_url: str) -> None:
    with purging_server(tmp_path, database_url) as api:
        account = api.account()
        tokens = api.login(account)
        rotations = 0

        def purged_during_rotation() -> bool:
            # Every rotation adds a row; the purge must be taking the expired ones away
            # while the client keeps rotating, not only once it stops.
            nonlocal tokens, rotations
            tokens = rotate(api, tokens)
            rotations += 1
            return rotations > 10 and rows_of(database_url, account)[0] < rotations - 5

        eventually(purged_during_rotation)
        assert api.http.get("/v1/auth/me", headers=api.bearer(tokens)).status_code == 200
        # Once rotation stops, the last token expires too and the login leaves nothing.
        eventually(lambda: rows_of(database_url, account) == (0, 0))


def test_a_revoked_login_is_purged_before_its_tokens_expire(
    tmp_path: Path, database_url: str
) -> None:
    settings = auth.settings(tmp_path, database_url, refresh_token_purge_interval_seconds=1)
    with ServedApp(create_app(settings)) as served, AuthApi(served.url) as api:
        leaving, staying = api.account(), api.account()
        first, kept = api.login(leaving), api.login(staying)
        second = rotate(api, first)
        response = api.http.post("/v1/auth/logout", json={"refresh_token": second["refresh_token"]})
        assert response.status_code == 204, response.text
        eventually(lambda: rows_of(database_url, leaving) == (0, 0))
        # The purge leaves live logins alone (their tokens last 30 days by default).
        assert rows_of(database_url, staying) == (1, 1)
        assert rotate(api, kept)["refresh_token"]
