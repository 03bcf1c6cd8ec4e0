"""The typed settings base that every Parley process extends (docs/api.md "Running it").

Each process builds exactly one settings object in its composition root and passes it
down; nothing reads the environment at import time.

Settings that belong together are grouped (`settings.database.url`), and each group keeps
the flat variable names operators already set: a group field `database` reads every
`PARLEY_DATABASE_*` variable, the rest of the name being the field inside the group
(`PARLEY_DATABASE_POOL_SIZE` is `database.pool_size`). The settings tables in README.md are
rendered from these classes and their attribute docstrings (`parley_core.settings_doc`).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class SettingsGroup(BaseModel):
    """A group of settings read from `PARLEY_<GROUP>_*`; its docstrings document them."""

    model_config = ConfigDict(extra="ignore", validate_default=True, use_attribute_docstrings=True)


SETTINGS_CONFIG = SettingsConfigDict(
    env_prefix="PARLEY_",
    env_file=".env",
    extra="ignore",
    validate_default=True,
    use_attribute_docstrings=True,
    # `PARLEY_DATABASE_POOL_SIZE` is `database.pool_size`: split once after the group name.
    env_nested_delimiter="_",
    env_nested_max_split=1,
)
"""The configuration of every process's settings class (the operator's mirrors it)."""


class DatabaseSettings(SettingsGroup):
    url: str = ""
    """`postgresql+psycopg://...` or `sqlite+aiosqlite:///...` (`postgres://` is accepted too);
    empty: a SQLite file per service under `PARLEY_DATA_DIR`."""

    pool_size: int = Field(default=10, ge=1, le=200)
    """PostgreSQL connections each process keeps open (and as many again in overflow)."""

    @field_validator("url")
    @classmethod
    def _psycopg_driver(cls, value: str) -> str:
        # Operators paste libpq URLs; SQLAlchemy needs the driver named.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value.removeprefix(prefix)
        return value


class RedisSettings(SettingsGroup):
    url: str | None = None
    """`redis://...`; unset means in-process state (one replica only)."""

    cluster: bool = False
    """The URL names one node of a Redis Cluster: keys go to their slots' nodes, and the
    stream's fan-out uses sharded pub/sub (SPUBLISH, SSUBSCRIBE), so each event travels
    only to the node that owns its channel (docs/scaling.md)."""

    prefix: str = Field(default="parley:", min_length=1)
    """Start of every Redis key this deployment writes (failed-login and send counters):
    deployments (or test runs) sharing one Redis database keep their counts apart by each
    having its own. Pub/sub channels are named after chat and user ids, which never collide."""


class CoreSettings(BaseSettings):
    """Settings every service reads, from `PARLEY_*` variables and an optional `.env`."""

    model_config = SETTINGS_CONFIG

    database_name: ClassVar[str] = "parley"
    """The embedded default's SQLite file under `data_dir` when `PARLEY_DATABASE_URL` is empty."""

    host: str = "127.0.0.1"
    """Address the HTTP server listens on."""

    port: int = Field(default=8000, ge=0, le=65535)
    """TCP port the HTTP server listens on (0 picks a free one)."""

    grpc_port: int | None = Field(default=None, ge=0, le=65535)
    """TCP port of the gRPC API beside the HTTP one (docs/grpc.md), on `PARLEY_HOST`; unset
    serves no gRPC, 0 picks a free port. The embedded default's `make run` uses 50051."""

    data_dir: Path = Path(".parley")
    """Where the embedded default keeps its SQLite files and generated keys."""

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    """The database (`PARLEY_DATABASE_*`)."""

    redis: RedisSettings = Field(default_factory=RedisSettings)
    """Redis, shared by the replicas of a service (`PARLEY_REDIS_*`)."""

    admin_token: SecretStr | None = None
    """Bearer token of the `/internal` routes; unset disables them (every call answers 401).
    `make run` generates one and prints it."""

    cors_origins: Annotated[list[str], NoDecode] = []
    """Comma-separated browser origins allowed by CORS; empty allows none."""

    forwarded_allow_ips: str = "127.0.0.1"
    """Proxies whose X-Forwarded-For names the client address: comma-separated addresses
    or CIDRs (e.g. the ingress controller's pod network); empty trusts none. The client is
    the rightmost entry that is not one of them. `*` is refused: it would take the leftmost
    entry, which any client can write."""

    log_level: str = "INFO"
    """Root log level of the JSON logs on stdout."""

    workers: int = Field(default=1, ge=1, le=32)
    """Server processes on the one port (`serve`): more than 1 uses more cores of a pod,
    with /metrics summed over them (prometheus-client's multiprocess mode, in
    `PROMETHEUS_MULTIPROC_DIR` or a temporary folder). Each process has its own database
    pool (`PARLEY_DATABASE_POOL_SIZE` each) and Redis connections."""

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

    def sqlite_url(self, name: str) -> str:
        """The embedded default's database: one SQLite file per service under `data_dir`."""
        return f"sqlite+aiosqlite:///{self.data_dir / name}.db"

    def resolved_database_url(self) -> str:
        return self.database.url or self.sqlite_url(self.database_name)
