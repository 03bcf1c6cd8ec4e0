"""parley_cli.config: where credentials live, how private they are, and token rotation."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from parley_cli import api, config
from parley_cli.errors import AuthError, CliError


def _pair(access: str, refresh: str) -> api.TokenPair:
    return {
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_in": 900,
    }


def _logged_in(store: config.Store, name: str = "default") -> None:
    with store.transaction() as profiles:
        profiles[name] = config.Profile(username="alice", access_token="a1", refresh_token="r1")


def test_the_config_directory_follows_xdg_config_home(tmp_path: Path) -> None:
    assert config.config_dir({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "parley"


def test_an_unset_or_relative_xdg_config_home_means_dot_config_in_home() -> None:
    expected = Path.home() / ".config" / "parley"
    assert config.config_dir({}) == expected
    assert config.config_dir({"XDG_CONFIG_HOME": ""}) == expected
    assert config.config_dir({"XDG_CONFIG_HOME": "relative/dir"}) == expected


def test_the_credentials_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    store = config.Store(tmp_path / "parley")
    _logged_in(store)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700


def test_the_file_is_private_even_under_a_permissive_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        store = config.Store(tmp_path / "parley")
        _logged_in(store)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_profiles_are_kept_side_by_side(tmp_path: Path) -> None:
    store = config.Store(tmp_path)
    _logged_in(store, "work")
    _logged_in(store, "home")
    assert set(store.load()) == {"work", "home"}


def test_rotation_exchanges_the_refresh_token_and_keeps_the_new_pair(tmp_path: Path) -> None:
    store = config.Store(tmp_path)
    _logged_in(store)
    used: list[str] = []

    def exchange(refresh: str) -> api.TokenPair:
        used.append(refresh)
        return _pair("a2", "r2")

    assert config.ProfileCredentials(store, "default").rotate("a1", exchange) == "a2"
    assert used == ["r1"]
    saved = store.get("default")
    assert saved is not None
    assert (saved.access_token, saved.refresh_token) == ("a2", "r2")


def test_a_pair_rotated_by_another_process_is_used_without_spending_the_refresh_token(
    tmp_path: Path,
) -> None:
    store = config.Store(tmp_path)
    _logged_in(store)
    with store.transaction() as profiles:  # what a concurrent `parley` did meanwhile
        profiles["default"] = config.Profile(
            username="alice", access_token="a2", refresh_token="r2"
        )

    def exchange(refresh: str) -> api.TokenPair:
        raise AssertionError("a single-use refresh token must not be presented twice")

    assert config.ProfileCredentials(store, "default").rotate("a1", exchange) == "a2"


def test_a_refused_refresh_forgets_the_session(tmp_path: Path) -> None:
    store = config.Store(tmp_path)
    _logged_in(store)

    def exchange(refresh: str) -> api.TokenPair:
        raise AuthError("expired")

    with pytest.raises(AuthError, match="expired"):
        config.ProfileCredentials(store, "default").rotate("a1", exchange)
    saved = store.get("default")
    assert saved is not None
    assert saved.username == "alice"
    assert not saved.logged_in


def test_a_damaged_credentials_file_is_reported_not_a_traceback(tmp_path: Path) -> None:
    store = config.Store(tmp_path)
    tmp_path.joinpath("credentials.json").write_text("{not json")
    with pytest.raises(CliError, match=r"credentials\.json is damaged"):
        store.load()


def test_fields_written_by_a_newer_parley_are_ignored(tmp_path: Path) -> None:
    store = config.Store(tmp_path)
    document = {"profiles": {"default": {"server": "http://x:1", "future": 1}}}
    tmp_path.joinpath("credentials.json").write_text(json.dumps(document))
    assert store.get("default") == config.Profile(server="http://x:1")
