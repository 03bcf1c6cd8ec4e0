"""The embedded default's data directory is its owner's alone: it holds the SQLite files
(password hashes, refresh-token digests) beside the signing key."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley_auth.app import create_app
from support import auth
from support.auth import AuthApi
from support.servers import ServedApp


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """The usual umask, under which plain mkdir and open leave files readable by all."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def others_may_read(path: Path) -> bool:
    return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def test_the_data_directory_and_every_file_in_it_are_private_to_the_owner(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "project" / ".parley"
    settings = auth.settings(data_dir, "")  # no database URL: SQLite under data_dir
    auth.migrated(settings.resolved_database_url())
    with ServedApp(create_app(settings)) as served, AuthApi(served.url) as api:
        api.login(api.account())  # writes go through the WAL
        files = sorted(path.name for path in data_dir.iterdir())
        assert {"auth.db", "auth.db-wal", "signing-key.pem"} <= set(files), files
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        for name in files:
            assert not others_may_read(data_dir / name), name


def test_a_database_an_older_version_left_readable_is_made_private(tmp_path: Path) -> None:
    database = tmp_path / "auth.db"
    url = auth.migrated(f"sqlite+aiosqlite:///{database}")
    database.chmod(0o644)
    settings = auth.settings(tmp_path / "data", url)
    with ServedApp(create_app(settings)) as served, AuthApi(served.url) as api:
        api.account()
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
