"""Live servers on both database backends docs/api.md allows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from parley_auth.app import create_app
from parley_chat import app as chat_app
from support import auth, chat, services
from support.servers import ServedApp


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database per backend, for the whole run."""
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("sqlite") / "auth.db"
        yield chat.migrated(auth.migrated(f"sqlite+aiosqlite:///{path}"))
        return
    url = services.create_postgres_database()
    try:
        yield chat.migrated(auth.migrated(url))
    finally:
        services.drop_postgres_database(url)


@pytest.fixture(scope="session")
def auth_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    app = create_app(auth.settings(tmp_path_factory.mktemp("auth"), database_url))
    with ServedApp(app) as served:
        yield served.url


@pytest.fixture
def api(auth_server: str, database_url: str) -> Iterator[auth.AuthApi]:
    """A client on the shared auth server; the tables are emptied after each test."""
    client = auth.AuthApi(auth_server)
    try:
        yield client
    finally:
        client.close()
        auth.truncate(database_url)


@pytest.fixture(scope="session")
def chat_server(
    database_url: str, auth_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    settings = chat.settings(tmp_path_factory.mktemp("chat"), database_url, auth_server)
    with ServedApp(chat_app.create_app(settings)) as served:
        yield served.url


@pytest.fixture
def chats(chat_server: str, api: auth.AuthApi, database_url: str) -> Iterator[chat.ChatApi]:
    """A client on the shared chat server; the chat tables are emptied after each test."""
    client = chat.ChatApi(chat_server, api)
    try:
        yield client
    finally:
        client.close()
        chat.truncate(database_url)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh migrated PostgreSQL database for one test that needs its own server."""
    url = services.create_postgres_database()
    try:
        yield auth.migrated(url)
    finally:
        services.drop_postgres_database(url)
