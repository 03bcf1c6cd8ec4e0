"""The typed settings base that every Parley process extends (shared/API.md "Running it").

Each process builds exactly one settings object in its composition root and passes it
down; nothing reads the environment at import time.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class CoreSettings(BaseSettings):
    """Settings every service reads, from `PARLEY_*` variables and an optional `.env`."""

    model_config = SettingsConfigDict(
        env_prefix="PARLEY_", env_file=".env", extra="ignore", validate_default=True
    )

    host: str = "127.0.0.1"
    """Address the HTTP server listens on."""

    port: int = Field(default=8000, ge=0, le=65535)
    """TCP port the HTTP server listens on (0 picks a free one)."""

    data_dir: Path = Path(".parley")
    """Where the embedded default keeps its SQLite files and generated keys."""

    database_url: str = ""
    """`postgresql+psycopg://...` or `sqlite+aiosqlite:///...`; empty: SQLite under `data_dir`."""

    database_pool_size: int = Field(default=10, ge=1, le=200)
    """PostgreSQL connections each process keeps open."""

    redis_url: str | None = None
    """`redis://...`; unset means in-process state (one replica only)."""

    redis_prefix: str = Field(default="parley:", min_length=1)
    """Start of every Redis key this deployment writes (failed-login and send counters):
    deployments (or test runs) sharing one Redis database keep their counts apart by each
    having its own. Pub/sub channels are named after chat and user ids, which never collide."""

    admin_token: SecretStr | None = None
    """Bearer token of the `/internal` routes; unset disables them (every call answers 401)."""

    cors_origins: Annotated[list[str], NoDecode] = []
    """Comma-separated browser origins allowed by CORS; empty allows none."""

    forwarded_allow_ips: str = "127.0.0.1"
    """Proxies whose X-Forwarded-For names the client address: comma-separated addresses
    or CIDRs (e.g. the ingress controller's pod network); empty trusts none. The client is
    the rightmost entry that is not one of them. `*` is refused: it would take the leftmost
    entry, which any client can write."""

    log_level: str = "INFO"
    """Root log level."""

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        # uvicorn silently treats a malformed entry as a literal that never matches; say so
        # at start-up instead of trusting nothing while the operator believes otherwise.
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        for entry in entries:
            if entry == "*":
                raise ValueError(
                    "'*' trusts any peer and takes the leftmost X-Forwarded-For entry, which "
                    "clients forge: name the ingress controller's addresses or CIDRs instead"
                )
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR") from None
        return ",".join(entries)

    @field_validator("database_url")
    @classmethod
    def _psycopg_driver(cls, value: str) -> str:
        # Operators paste libpq URLs; SQLAlchemy needs the driver named.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value.removeprefix(prefix)
        return value

    def sqlite_url(self, name: str) -> str:
        """The embedded default's database: one SQLite file per service under `data_dir`."""
        return f"sqlite+aiosqlite:///{self.data_dir / name}.db"
