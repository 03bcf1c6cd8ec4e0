"""The per-user limits across replicas: two `parley-chat serve` processes on one PostgreSQL
and one Redis count each user's actions together, so a client that spreads its requests
over both gets no more than the limit."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from support import auth, chat, problems, services
from support.processes import ServiceProcess

LOW = 3


@dataclass
class Stack:
    replicas: list[ServiceProcess]
    api: chat.ChatApi


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis_url = services.redis_url()
    url = services.create_postgres_database()
    try:
        chat.migrated(auth.migrated(url))
        logs = tmp_path_factory.mktemp("logs")
        common = {"PARLEY_DATABASE_URL": url, "PARLEY_ADMIN_TOKEN": auth.ADMIN_TOKEN}
        auth_env = {
            **common,
            "PARLEY_DATA_DIR": str(tmp_path_factory.mktemp("auth")),
            **auth.PROCESS_ENV,
        }
        with ServiceProcess("parley_auth", auth_env, log_dir=logs) as auth_process:
            chat_env = {
                **common,
                "PARLEY_AUTH_URL": auth_process.url,
                "PARLEY_REDIS_URL": redis_url,
                "PARLEY_REDIS_PREFIX": services.redis_prefix(),
                "PARLEY_MESSAGE_EDITS_PER_MINUTE": str(LOW),
                "PARLEY_CHATS_JOINED_PER_HOUR": str(LOW),
            }
            with (
                ServiceProcess("parley_chat", chat_env, log_dir=logs) as a,
                ServiceProcess("parley_chat", chat_env, log_dir=logs) as b,
                auth.AuthApi(auth_process.url) as accounts,
            ):
                api = chat.ChatApi(a.url, accounts)
                try:
                    yield Stack([a, b], api)
                finally:
                    api.close()
    finally:
        services.drop_postgres_database(url)


def test_edits_spread_over_two_replicas_share_one_allowance(stack: Stack) -> None:
    a, b = stack.replicas
    alice, bob = stack.api.users(2)
    chat_id = stack.api.group(alice, bob)["id"]
    seq = stack.api.send(alice, chat_id, "draft")["seq"]

    def edit(replica: ServiceProcess, body: str) -> httpx.Response:
        return httpx.patch(
            f"{replica.url}/v1/chats/{chat_id}/messages/{seq}",
            json={"body": body},
            headers=alice.headers,
            timeout=10,
        )

    statuses = [edit(replica, f"edit {n}").status_code for n, replica in enumerate([a, b, a])]
    assert statuses == [200, 200, 200]
    for replica in (b, a):
        refused = edit(replica, "one too many")
        body = problems.problem(refused, 429)
        assert "message_edits" in body["detail"], body
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert stack.api.history(bob, chat_id)["messages"][0]["body"] == "edit 2"


def test_being_added_to_chats_through_either_replica_counts_once_for_both(
    stack: Stack,
) -> None:
    a, b = stack.replicas
    bob, *owners = stack.api.users(LOW + 3)

    def create(replica: ServiceProcess, owner: chat.User) -> httpx.Response:
        return httpx.post(
            f"{replica.url}/v1/chats",
            json={"kind": "group", "title": "team", "members": [bob.username]},
            headers=owner.headers,
            timeout=10,
        )

    replicas = [a, b, a, b, a]
    statuses = [
        create(replica, owner).status_code for replica, owner in zip(replicas, owners, strict=True)
    ]
    assert statuses == [201] * LOW + [429, 429]
    assert len(stack.api.listed(bob)) == LOW
