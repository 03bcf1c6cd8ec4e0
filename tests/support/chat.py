"""Building and driving a real chat server in tests, beside a real auth server."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from parley_chat.settings import ChatSettings
from parley_chat.storage import migrations
from parley_core import migrations as core_migrations
from support import auth, services

CHAT_TABLES = ("message_reactions", "message_mentions", "messages", "chat_members", "chats")


def settings(data_dir: Path, database_url: str, auth_url: str, **overrides: Any) -> ChatSettings:
    """Settings for a test server: auth is asked on every call (no fresh cache) so a
    test that changes a tenant sees it at once; nothing comes from `.env`."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database": {"url": database_url},
        "admin_token": auth.ADMIN_TOKEN,
        # Its own Redis keys (when a test gives it Redis), apart from other tests and runs.
        "redis": {"prefix": services.redis_prefix()},
        "auth": {"url": auth_url, "cache_seconds": 0},
    }
    return ChatSettings(
        _env_file=None,
        **services.settings_values(values, overrides, fields=ChatSettings.model_fields),
    )


def rows_of_tenant(database_url: str, tenant: str) -> dict[str, int]:
    """How many rows each chat table holds for `tenant`, read straight from the database."""
    engine = sa.create_engine(database_url.replace("+aiosqlite", ""))
    try:
        with engine.connect() as connection:
            return {
                table: connection.execute(
                    sa.text(f"SELECT count(*) FROM {table} WHERE tenant = :tenant"),
                    {"tenant": tenant},
                ).scalar_one()
                for table in CHAT_TABLES
            }
    finally:
        engine.dispose()


def migrated(database_url: str) -> str:
    core_migrations.upgrade(migrations.PACKAGE, database_url)
    return database_url


def truncate(database_url: str) -> None:
    """Empty the chat tables between tests; the schema and server stay."""
    services.empty_tables(database_url, (*CHAT_TABLES, "attachments", "leases"))


@dataclass(frozen=True)
class User:
    """A registered, logged-in user: what a test needs to act as them."""

    tenant: str
    username: str
    id: str
    headers: dict[str, str]
    account: auth.Account


class ChatApi:
    """An httpx client on a live chat server, with factories for users, chats and messages."""

    def __init__(self, url: str, accounts: auth.AuthApi) -> None:
        self.url = url
        self.accounts = accounts
        # Plain HTTP on loopback: no TLS context, whose CA bundle costs ~70 ms per test.
        self.http = httpx.Client(base_url=url, timeout=30, verify=False)

    def close(self) -> None:
        self.http.close()

    def tenant(self, **spec: Any) -> str:
        return self.accounts.tenant(**spec)

    @property
    def admin(self) -> dict[str, str]:
        """The admin bearer of the `/internal` routes; auth and chat share one token."""
        return self.accounts.admin

    def user(self, tenant: str | None = None, *, username: str | None = None) -> User:
        """A new logged-in user; `username` picks the name (for tests about name order)."""
        if username is None:
            account = self.accounts.account(tenant)
        else:
            account = self._register(tenant or self.tenant(), username)
        headers = auth.AuthApi.bearer(self.accounts.login(account))
        return User(account.tenant, account.username, account.id, headers, account)

    def _register(self, tenant: str, username: str) -> auth.Account:
        response = self.accounts.http.post(
            "/v1/auth/register",
            json={"tenant": tenant, "username": username, "password": auth.PASSWORD},
        )
        assert response.status_code == 201, response.text
        return auth.Account(tenant, username, auth.PASSWORD, response.json()["id"])

    def users(self, count: int, tenant: str | None = None) -> list[User]:
        tenant = tenant or self.tenant()
        return [self.user(tenant) for _ in range(count)]

    def group(self, owner: User, *members: User, title: str = "team") -> dict[str, Any]:
        response = self.http.post(
            "/v1/chats",
            json={"kind": "group", "title": title, "members": [m.username for m in members]},
            headers=owner.headers,
        )
        assert response.status_code == 201, response.text
        chat: dict[str, Any] = response.json()
        return chat

    def chat(self, user: User, chat_id: str) -> dict[str, Any]:
        response = self.http.get(f"/v1/chats/{chat_id}", headers=user.headers)
        assert response.status_code == 200, response.text
        chat: dict[str, Any] = response.json()
        return chat

    def listed(self, user: User) -> list[dict[str, Any]]:
        """The user's chat list, in the order the server gives it."""
        response = self.http.get("/v1/chats", headers=user.headers)
        assert response.status_code == 200, response.text
        chats: list[dict[str, Any]] = response.json()["chats"]
        return chats

    def send(self, user: User, chat_id: str, body: str = "hello", **extra: Any) -> dict[str, Any]:
        response = self.http.post(
            f"/v1/chats/{chat_id}/messages", json={"body": body, **extra}, headers=user.headers
        )
        assert response.status_code == 201, response.text
        message: dict[str, Any] = response.json()
        return message

    def history(self, user: User, chat_id: str, **params: Any) -> dict[str, Any]:
        response = self.http.get(
            f"/v1/chats/{chat_id}/messages", params=params, headers=user.headers
        )
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        return page


def new_id() -> str:
    return str(uuid.uuid4())
