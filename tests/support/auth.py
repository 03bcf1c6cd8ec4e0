"""Building and driving a real auth server in tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from parley_auth.settings import AuthSettings
from parley_auth.storage import migrations
from parley_core import migrations as core_migrations
from support import services

ADMIN_TOKEN = "test-admin-token-" + uuid.uuid4().hex
PASSWORD = "correct horse battery staple"
PROCESS_ENV = {
    "PARLEY_ARGON2_TIME_COST": "1",
    "PARLEY_ARGON2_MEMORY_KIB": "64",
    "PARLEY_ARGON2_PARALLELISM": "1",
    "PARLEY_LOGIN_FAILURES_PER_ADDRESS": "100000",
    "PARLEY_LOGINS_PER_ADDRESS": "100000",
    "PARLEY_REGISTRATIONS_PER_ADDRESS": "100000",
}
"""For auth processes a test starts, as `settings` below for in-process ones: argon2 at its
cheapest, so suites stay fast, and no per-address limits, since every test client is
127.0.0.1 (tests of those limits set their own)."""
AUTH_TABLES = ("server_keys", "refresh_tokens", "refresh_families", "users", "tenants")


def settings(data_dir: Path, database_url: str, **overrides: Any) -> AuthSettings:
    """Settings for a test server: cheap argon2 so suites stay fast, nothing from `.env`."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database": {"url": database_url},
        "admin_token": ADMIN_TOKEN,
        # Its own Redis keys (when a test gives it Redis), apart from other tests and runs.
        "redis": {"prefix": services.redis_prefix()},
        "argon2": {"time_cost": 1, "memory_kib": 64, "parallelism": 1},
        # Every test client is 127.0.0.1: only tests of the per-address limits set them.
        "login_failures_per_address": 100_000,
        "logins_per_address": 100_000,
        "registrations_per_address": 100_000,
    }
    return AuthSettings(
        _env_file=None,
        **services.settings_values(values, overrides, fields=AuthSettings.model_fields),
    )


def migrated(database_url: str) -> str:
    core_migrations.upgrade(migrations.PACKAGE, database_url)
    return database_url


def truncate(database_url: str) -> None:
    """Empty the auth tables between tests; the schema and server stay."""
    services.empty_tables(database_url, AUTH_TABLES)


@dataclass(frozen=True)
class Account:
    tenant: str
    username: str
    password: str
    id: str


class AuthApi:
    """An httpx client on a live auth server, with factories for tenants and users."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=30)
        self.admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> AuthApi:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def tenant(self, **spec: Any) -> str:
        slug = f"t-{uuid.uuid4().hex[:12]}"
        body = {"display_name": slug, "self_registration": True, **spec}
        response = self.http.put(f"/internal/v1/tenants/{slug}", json=body, headers=self.admin)
        assert response.status_code == 201, response.text
        return slug

    def account(self, tenant: str | None = None, *, password: str = PASSWORD) -> Account:
        tenant = tenant or self.tenant()
        username = f"u{uuid.uuid4().hex[:10]}"
        response = self.http.post(
            "/v1/auth/register",
            json={"tenant": tenant, "username": username, "password": password},
        )
        assert response.status_code == 201, response.text
        return Account(tenant, username, password, response.json()["id"])

    def login(self, account: Account) -> dict[str, Any]:
        response = self.http.post(
            "/v1/auth/login",
            json={
                "tenant": account.tenant,
                "username": account.username,
                "password": account.password,
            },
        )
        assert response.status_code == 200, response.text
        tokens: dict[str, Any] = response.json()
        return tokens

    def server_key(self, tenant: str, name: str = "backend") -> str:
        """A new server key of `tenant` (docs/api.md "Tenant backends"), its secret."""
        response = self.http.post(
            f"/internal/v1/tenants/{tenant}/server-keys", json={"name": name}, headers=self.admin
        )
        assert response.status_code == 201, response.text
        key: str = response.json()["key"]
        return key

    @staticmethod
    def bearer(tokens: dict[str, Any] | str) -> dict[str, str]:
        token = tokens if isinstance(tokens, str) else tokens["access_token"]
        return {"Authorization": f"Bearer {token}"}
