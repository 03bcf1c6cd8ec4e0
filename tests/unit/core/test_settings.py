"""parley_core.settings: how the environment becomes typed settings."""

from __future__ import annotations

import pytest

from parley_core.settings import CoreSettings


def test_settings_read_the_parley_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_PORT", "9123")
    monkeypatch.setenv("PARLEY_REDIS_URL", "redis://example:6379/0")
    settings = CoreSettings(_env_file=None)
    assert settings.port == 9123
    assert settings.redis.url == "redis://example:6379/0"


def test_cors_origins_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_CORS_ORIGINS", "https://a.example, https://b.example,")
    assert CoreSettings(_env_file=None).cors_origins == ["https://a.example", "https://b.example"]


@pytest.mark.parametrize(
    "url", ["postgres://u@h/db", "postgresql://u@h/db", "postgresql+psycopg://u@h/db"]
)
def test_libpq_urls_get_the_psycopg_driver(url: str) -> None:
    assert (
        CoreSettings(_env_file=None, database={"url": url}).database.url
        == "postgresql+psycopg://u@h/db"
    )


def test_an_out_of_range_port_is_refused() -> None:
    with pytest.raises(ValueError, match="port"):
        CoreSettings(_env_file=None, port=70000)


def test_the_admin_token_never_shows_in_the_settings_repr() -> None:
    settings = CoreSettings(_env_file=None, admin_token="s3cret-token")
    assert "s3cret-token" not in repr(settings)


def test_forwarded_allow_ips_takes_addresses_and_cidrs_and_trusts_only_loopback_by_default() -> (
    None
):
    assert CoreSettings(_env_file=None).forwarded_allow_ips == "127.0.0.1"
    trusted = CoreSettings(_env_file=None, forwarded_allow_ips=" 10.0.0.0/8, ::1 ,")
    assert trusted.forwarded_allow_ips == "10.0.0.0/8,::1"
    assert CoreSettings(_env_file=None, forwarded_allow_ips="").forwarded_allow_ips == ""


@pytest.mark.parametrize("value", ["*", "10.0.0.1,*", "ingress-nginx", "10.0.0.0/33"])
def test_forwarded_allow_ips_refuses_a_wildcard_and_what_is_not_an_address(value: str) -> None:
    with pytest.raises(ValueError, match="forwarded_allow_ips"):
        CoreSettings(_env_file=None, forwarded_allow_ips=value)
