"""Fixtures the chat route suites share, beside tests/integration/conftest.py's servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from parley_chat import app as chat_app
from support import chat
from support.attachments import MotoServer, Store, local_store, s3_store
from support.chat import ChatApi
from support.chat_inputs import ROOMY, Scene
from support.servers import ServedApp


@pytest.fixture
def scene(chats: ChatApi) -> Scene:
    alice, bob, carol = chats.users(3, chats.tenant(**ROOMY))
    chat = chats.group(alice, bob)
    chats.send(alice, chat["id"], "first")
    return Scene(chat["id"], alice, bob, carol)


# -- attachments: the same suites against both file stores ---------------------------------


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    server = MotoServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module", params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Store:
    if request.param == "local":
        return local_store(tmp_path_factory.mktemp("attachments"))
    return s3_store(request.getfixturevalue("moto"))


@pytest.fixture(scope="module")
def files_server(
    store: Store, database_url: str, auth_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    settings = chat.settings(
        tmp_path_factory.mktemp("chat"), database_url, auth_server, **store.overrides
    )
    with ServedApp(chat_app.create_app(settings)) as served:
        yield served.url
