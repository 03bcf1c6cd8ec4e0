"""The stream follows the database and the tenant, not only the broker: a member removed
while its `member.left` event was lost stops receiving the chat, and a suspended or
re-created tenant's streams close. The chat server here re-checks every 0.2 s
(`stream_recheck_seconds`) and asks auth on every check (no policy cache)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from parley_chat import app as chat_app
from parley_chat.storage.models import Member
from support import chat
from support.chat import ChatApi
from support.servers import ServedApp
from support.stream import StreamClient, close_code_at_connect, token_of


@pytest.fixture(scope="module")
def rechecking_server(
    database_url: str, auth_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    settings = chat.settings(
        tmp_path_factory.mktemp("chat"), database_url, auth_server, stream={"recheck_seconds": 0.2}
    )
    with ServedApp(chat_app.create_app(settings)) as served:
        yield served.url


@pytest.fixture
def api(rechecking_server: str, chats: ChatApi) -> Iterator[ChatApi]:
    """A client on the re-checking server; `chats` empties the tables afterwards."""
    client = ChatApi(rechecking_server, chats.accounts)
    try:
        yield client
    finally:
        client.close()


def _remove_without_publishing(database_url: str, chat_id: str, user_id: str) -> None:
    """Delete a membership straight from the database: as if `member.left` was lost."""
    engine = sa.create_engine(database_url.replace("+aiosqlite", ""))
    try:
        with engine.begin() as connection:
            removed = connection.execute(
                sa.delete(Member).where(
                    Member.chat_id == uuid.UUID(chat_id),  # type: ignore[arg-type]
                    Member.user_id == uuid.UUID(user_id),  # type: ignore[arg-type]
                )
            )
            assert removed.rowcount == 1
    finally:
        engine.dispose()


def _wait_until_not_a_member(stream: StreamClient, chat_id: str, timeout: float = 15) -> None:
    """Typing into a chat the connection no longer counts as its own answers an error;
    until then the typing is relayed and only the ping's pong comes back."""
    deadline = time.monotonic() + timeout
    while True:
        assert time.monotonic() < deadline, "the connection kept the chat"
        stream.send({"type": "typing", "chat_id": chat_id})
        stream.send({"type": "ping"})
        frames = stream.recv_until(lambda got: any(f["type"] == "pong" for f in got))
        assert all(f["type"] in ("pong", "error") for f in frames), frames
        if any(f["type"] == "error" for f in frames):
            return
        time.sleep(0.1)


def test_a_removed_member_whose_member_left_was_lost_receives_no_further_messages(
    api: ChatApi, database_url: str
) -> None:
    alice, bob = api.users(2)
    chat_id = api.group(alice, bob)["id"]
    other_id = api.group(alice, bob, title="other")["id"]
    with StreamClient(api.url, token_of(bob)) as stream:
        stream.send({"type": "ping"})
        assert stream.recv()["type"] == "pong"
        api.send(alice, chat_id, "bob still reads this")
        (seen,) = stream.messages(1)
        assert seen["chat_id"] == chat_id

        _remove_without_publishing(database_url, chat_id, bob.id)
        _wait_until_not_a_member(stream, chat_id)

        for n in range(3):
            api.send(alice, chat_id, f"after bob left {n}")
        api.send(alice, other_id, "sentinel")
        frames = stream.recv_until(lambda got: any(f["type"] == "message" for f in got))
        assert [f["chat_id"] for f in frames if "chat_id" in f] == [other_id]
        assert frames[-1]["message"]["body"] == "sentinel"
        assert all(f.get("chat_id") != chat_id for f in stream.silence(0.3))


def test_a_suspended_tenant_closes_its_open_streams_with_4403_and_refuses_new_ones(
    api: ChatApi,
) -> None:
    tenant = api.tenant()
    alice = api.user(tenant)
    with StreamClient(api.url, token_of(alice)) as stream:
        suspended = api.accounts.http.put(
            f"/internal/v1/tenants/{tenant}",
            json={"display_name": tenant, "suspended": True},
            headers=api.admin,
        )
        assert suspended.status_code == 200
        assert stream.close_code(timeout=15) == 4403
    assert close_code_at_connect(api.url, token=token_of(alice)) == 4403


def test_a_deleted_tenant_closes_its_streams_with_4401_even_when_created_again(
    api: ChatApi,
) -> None:
    tenant = api.tenant()
    alice = api.user(tenant)
    with StreamClient(api.url, token_of(alice)) as stream:
        _delete_tenant(api, tenant)
        _create_tenant(api, tenant)
        assert stream.close_code(timeout=15) == 4401
    assert close_code_at_connect(api.url, token=token_of(alice)) == 4401


def _delete_tenant(api: ChatApi, tenant: str) -> None:
    for http in (api.accounts.http, api.http):
        response = http.delete(f"/internal/v1/tenants/{tenant}", headers=api.admin)
        assert response.status_code == 204, response.text


def _create_tenant(api: ChatApi, tenant: str) -> None:
    response = api.accounts.http.put(
        f"/internal/v1/tenants/{tenant}",
        json={"display_name": tenant, "self_registration": True},
        headers=api.admin,
    )
    assert response.status_code == 201, response.text
