"""The operator process's one settings class (docs/style.md rule 5).

Built once by `parley-operator run` (or a test) and handed to `main.build_registry`;
nothing reads the environment at import time. The names follow docs/api.md's
`PARLEY_*` variables; the operator shares none of parley-core's settings base because
that package carries Litestar, which the operator image must not.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


# The attribute docstrings are the meanings in docs/operator.md's table (parley_core.settings_doc).
class OperatorSettings(BaseSettings, use_attribute_docstrings=True):
    """Where the services are, how to authenticate to them, and how patient to be."""

    model_config = SettingsConfigDict(
        env_prefix="PARLEY_", env_file=".env", extra="ignore", validate_default=True
    )

    auth_url: str
    """Base URL of the auth service, for its `/internal/v1/tenants` routes."""

    chat_url: str
    """Base URL of the chat service, for `DELETE /internal/v1/tenants/{slug}`."""

    admin_token: SecretStr = Field(min_length=1)
    """Bearer token of both services' `/internal` routes (their `PARLEY_ADMIN_TOKEN`)."""

    public_url: str | None = None
    """The API URL written into each `<tenant>-admin` Secret for clients; unset:
    `PARLEY_AUTH_URL`."""

    request_timeout_seconds: float = Field(default=10.0, gt=0)
    """Per-request timeout towards auth and chat; past it a call counts as unavailable."""

    refresh_interval_seconds: float = Field(default=60.0, gt=0)
    """How often the timer refreshes `status.users` and repairs drift for each Tenant."""

    retry_delay_seconds: float = Field(default=5.0, gt=0)
    """First retry delay after auth or chat did not answer; it doubles with each failure."""

    retry_max_delay_seconds: float = Field(default=300.0, gt=0)
    """Cap of that doubling delay: a long outage is retried this often, never in a tight loop."""

    metrics_port: int = Field(default=9090, ge=0, le=65535)
    """Port of the Prometheus `/metrics` endpoint (all interfaces); 0 serves none."""

    @field_validator("auth_url", "chat_url", "public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} is not an http(s) URL such as http://parley-auth:8000")
        # Paths are appended as "/internal/v1/...": keep exactly one slash between them.
        return value.rstrip("/")

    def api_url(self) -> str:
        return self.public_url or self.auth_url
