"""The auth process's one settings class (docs/api.md "Running it")."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from parley_core.settings import CoreSettings, SettingsGroup


class Argon2Settings(SettingsGroup):
    """argon2id's cost; stored hashes are upgraded at the next login when it rises."""

    time_cost: int = Field(default=3, ge=1)
    """argon2id passes (RFC 9106 second recommendation: 3). Stored hashes are upgraded at
    the next login when the cost rises."""

    memory_kib: int = Field(default=65_536, ge=8)
    """argon2id memory in KiB (RFC 9106 second recommendation: 64 MiB)."""

    parallelism: int = Field(default=4, ge=1)
    """argon2id lanes (RFC 9106 second recommendation: 4)."""


class AuthSettings(CoreSettings):
    database_name: ClassVar[str] = "auth"

    signing_key_file: Path | None = None
    """PEM Ed25519 private key for access tokens; unset:
    `signing-key.pem` under `PARLEY_DATA_DIR`, made once; a file that is set must exist."""

    access_token_ttl_seconds: int = Field(default=900, ge=10, le=86_400)
    """Lifetime of an access token (15 minutes by default)."""

    refresh_token_ttl_seconds: int = Field(default=30 * 86_400, ge=1)
    """Lifetime of a refresh token; each rotation starts a new one."""

    argon2: Argon2Settings = Field(default_factory=Argon2Settings)
    """Password hashing cost (`PARLEY_ARGON2_*`)."""

    password_hash_concurrency: int = Field(default=4, ge=1)
    """Hashes computed at once; bounds memory at this times `PARLEY_ARGON2_MEMORY_KIB`."""

    login_failures_per_account: int = Field(default=10, ge=1)
    """Failed logins a minute for one tenant+username before 429."""

    login_failures_per_address: int = Field(default=100, ge=1)
    """Failed logins a minute from one client address before 429."""

    login_failure_window_seconds: int = Field(default=60, ge=1)
    """Length of the login windows: failed logins, and all logins per address."""

    logins_per_address: int = Field(default=300, ge=1)
    """Logins a window, successful or not, from one client address before 429: each one
    costs an argon2 verification, so this bounds what one address can make the CPU do."""

    registrations_per_address: int = Field(default=50, ge=1)
    """Self-registrations a window from one client address before 429: each one costs an
    argon2 hash and may take one of a tenant's max_users."""

    registration_window_seconds: int = Field(default=3600, ge=1)
    """Length of the registration window (an hour by default)."""

    refresh_token_purge_interval_seconds: int = Field(default=600, ge=1)
    """How often each replica deletes expired refresh tokens and revoked logins, in
    bounded batches (several replicas purging at once only share the work)."""

    server_key_requests_per_minute: int = Field(default=1200, ge=1)
    """Requests a minute one server key may make to the `/v1/tenant` routes before 429
    (shared by every replica through Redis when it is set)."""

    def resolved_signing_key_file(self) -> Path:
        return self.signing_key_file or self.data_dir / "signing-key.pem"
