"""The operator's settings come from PARLEY_* variables."""

from __future__ import annotations

import pydantic
import pytest

from parley_operator.settings import OperatorSettings


def test_the_settings_are_read_from_parley_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_AUTH_URL", "http://parley-auth:8000/")
    monkeypatch.setenv("PARLEY_CHAT_URL", "http://parley-chat:8000")
    monkeypatch.setenv("PARLEY_ADMIN_TOKEN", "s3cret")
    monkeypatch.setenv("PARLEY_REFRESH_INTERVAL_SECONDS", "30")
    settings = OperatorSettings(_env_file=None)
    assert (settings.auth_url, settings.chat_url) == (
        "http://parley-auth:8000",
        "http://parley-chat:8000",
    )
    assert settings.admin_token.get_secret_value() == "s3cret"
    assert settings.refresh_interval_seconds == 30
    assert settings.api_url() == "http://parley-auth:8000"
    assert "s3cret" not in repr(settings)


def test_the_public_url_is_what_admin_secrets_name() -> None:
    settings = OperatorSettings(
        _env_file=None,
        auth_url="http://parley-auth:8000",
        chat_url="http://parley-chat:8000",
        admin_token="t",
        public_url="https://chat.example.com/",
    )
    assert settings.api_url() == "https://chat.example.com"


@pytest.mark.parametrize("missing", ["PARLEY_AUTH_URL", "PARLEY_CHAT_URL", "PARLEY_ADMIN_TOKEN"])
def test_the_operator_refuses_to_start_without_its_three_required_settings(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    for name, value in {
        "PARLEY_AUTH_URL": "http://a:1",
        "PARLEY_CHAT_URL": "http://c:1",
        "PARLEY_ADMIN_TOKEN": "t",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(missing)
    with pytest.raises(pydantic.ValidationError, match=missing.removeprefix("PARLEY_").lower()):
        OperatorSettings(_env_file=None)


def test_a_service_url_must_be_http(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(pydantic.ValidationError, match="is not an http"):
        OperatorSettings(
            _env_file=None, auth_url="parley-auth:8000", chat_url="http://c:1", admin_token="t"
        )


def test_metrics_are_served_on_9090_by_default_and_port_0_serves_none() -> None:
    def settings(metrics_port: int | None = None) -> OperatorSettings:
        required = {"auth_url": "http://a:1", "chat_url": "http://c:1", "admin_token": "t"}
        chosen = {} if metrics_port is None else {"metrics_port": metrics_port}
        return OperatorSettings.model_validate({**required, **chosen})

    assert settings().metrics_port == 9090
    assert settings(0).metrics_port == 0
    for port in (-1, 65536):
        with pytest.raises(pydantic.ValidationError, match="metrics_port"):
            settings(port)
