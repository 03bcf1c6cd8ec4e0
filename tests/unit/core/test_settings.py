"""parley_core.settings: how the environment becomes typed settings."""

from __future__ import annotations

import pytest

from parley_core.settings import CoreSettings


def test_settings_read_the_parley_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_PORT", "9123")
    monkeypatch.setenv("PARLEY_REDIS_URL", "redis://example:6379/0")
    settings = CoreSettings(_env_file=None)
    assert settings.port == 9123
    assert settings.redis_url == "redis://example:6379/0"


def test_cors_origins_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_CORS_ORIGINS", "https://a.example, https://b.example,")
    assert CoreSettings(_env_file=None).cors_origins == ["https://a.example", "https://b.example"]


@pytest.mark.parametrize(
    "url", ["postgres://u@h/db", "postgresql://u@h/db", "postgresql+psycopg://u@h/db"]
)
def test_libpq_urls_get_the_psycopg_driver(url: str) -> None:
    assert (
        CoreSettings(_env_file=None, database_url=url).database_url == "postgresql+psycopg://u@h/db"
    )


def test_an_out_of_range_port_is_refused() -> None:
    with pytest.raises(ValueError, match="port"):
        CoreSettings(_env_file=None, port=70000)


def test_the_admin_token_never_shows_in_the_settings_repr() -> None:
    settings = CoreSettings(_env_file=None, admin_token="s3cret-token")
    assert "s3cret-token" not in repr(settings)
