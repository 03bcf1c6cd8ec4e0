"""What two replicas and many requests race on: `seq` allocation and idempotent sends.

Everything runs for real: PostgreSQL, one auth process and two chat processes (replicas
of one service on one database), with clients sending concurrently to both.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from support import auth, chat
from support.processes import ServiceProcess

WRITERS = 20
MESSAGES_EACH = 50


@dataclass
class Stack:
    auth: ServiceProcess
    replicas: list[ServiceProcess]
    api: chat.ChatApi


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from support import services

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
            chat_env = {**common, "PARLEY_AUTH_URL": auth_process.url}
            with (
                ServiceProcess("parley_chat", chat_env, log_dir=logs) as a,
                ServiceProcess("parley_chat", chat_env, log_dir=logs) as b,
            ):
                accounts = auth.AuthApi(auth_process.url)
                api = chat.ChatApi(a.url, accounts)
                try:
                    yield Stack(auth_process, [a, b], api)
                finally:
                    api.close()
                    accounts.close()
    finally:
        services.drop_postgres_database(url)


def users(stack: Stack, count: int) -> list[chat.User]:
    """Users of a new tenant whose send limit is out of the way of the race."""
    tenant = stack.api.tenant(limits={"messages_per_minute": 1_000_000})
    return stack.api.users(count, tenant)


def group(stack: Stack, owner: chat.User, members: list[chat.User]) -> str:
    chat_id: str = stack.api.group(owner, *members)["id"]
    return chat_id


async def full_history(base_url: str, user: chat.User, chat_id: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=base_url, headers=user.headers, timeout=30) as http:
        while True:
            response = await http.get(
                f"/v1/chats/{chat_id}/messages",
                params={"after_seq": messages[-1]["seq"] if messages else 0, "limit": 200},
            )
            assert response.status_code == 200, response.text
            page = response.json()
            messages += page["messages"]
            if not page["has_more"]:
                return messages


def test_concurrent_writers_on_two_replicas_get_every_seq_once_without_gaps(
    stack: Stack,
) -> None:
    writers = users(stack, WRITERS)
    chat_id = group(stack, writers[0], writers[1:])
    replica_urls = itertools.cycle(replica.url for replica in stack.replicas)
    clients = [
        httpx.AsyncClient(base_url=next(replica_urls), headers=w.headers, timeout=60)
        for w in writers
    ]

    async def write(index: int) -> list[int]:
        seqs = []
        for n in range(MESSAGES_EACH):
            response = await clients[index].post(
                f"/v1/chats/{chat_id}/messages", json={"body": f"{index}:{n}"}
            )
            assert response.status_code == 201, response.text
            seqs.append(response.json()["seq"])
        await clients[index].aclose()
        return seqs

    async def race() -> list[list[int]]:
        return await asyncio.gather(*(write(i) for i in range(WRITERS)))

    acknowledged = asyncio.run(race())
    total = WRITERS * MESSAGES_EACH
    assert sorted(itertools.chain(*acknowledged)) == list(range(1, total + 1))
    # Each writer's own messages were numbered in the order it sent them.
    assert all(seqs == sorted(seqs) for seqs in acknowledged)

    stored = asyncio.run(full_history(stack.replicas[1].url, writers[0], chat_id))
    assert [m["seq"] for m in stored] == list(range(1, total + 1))
    assert sorted(m["body"] for m in stored) == sorted(
        f"{i}:{n}" for i in range(WRITERS) for n in range(MESSAGES_EACH)
    )


def test_racing_repeats_of_one_client_msg_id_store_one_message_and_all_get_it(
    stack: Stack,
) -> None:
    (sender,) = users(stack, 1)
    chat_id = group(stack, sender, [])
    keys = [f"key-{n}" for n in range(MESSAGES_EACH)]
    clients = [
        httpx.AsyncClient(base_url=replica.url, headers=sender.headers, timeout=60)
        for replica in stack.replicas
    ]

    async def send(key: str, attempt: int) -> tuple[str, int, dict[str, Any]]:
        client = clients[attempt % len(clients)]
        response = await client.post(
            f"/v1/chats/{chat_id}/messages", json={"body": f"body of {key}", "client_msg_id": key}
        )
        return key, response.status_code, response.json()

    async def race() -> list[tuple[str, int, dict[str, Any]]]:
        # Every repeat of every key at once, spread over both replicas.
        try:
            return await asyncio.gather(
                *(send(key, attempt) for attempt in range(WRITERS) for key in keys)
            )
        finally:
            for client in clients:
                await client.aclose()

    results = asyncio.run(race())
    by_key: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for key, status, body in results:
        by_key[key].append((status, body))
    for key, answers in by_key.items():
        assert Counter(status for status, _ in answers) == {201: 1, 200: WRITERS - 1}, key
        assert len({body["id"] for _, body in answers}) == 1, key
        assert {body["client_msg_id"] for _, body in answers} == {key}

    stored = asyncio.run(full_history(stack.replicas[0].url, sender, chat_id))
    assert [m["seq"] for m in stored] == list(range(1, len(keys) + 1))
    assert sorted(m["client_msg_id"] for m in stored) == sorted(keys)


def test_a_chat_log_written_by_two_replicas_is_read_identically_from_both(
    stack: Stack,
) -> None:
    alice, bob = users(stack, 2)
    chat_id = group(stack, alice, [bob])
    for n, replica in zip(range(10), itertools.cycle(stack.replicas), strict=False):
        with httpx.Client(base_url=replica.url) as http:
            response = http.post(
                f"/v1/chats/{chat_id}/messages",
                json={"body": f"m{n}"},
                headers=(alice if n % 2 else bob).headers,
            )
        assert response.status_code == 201
    seen = [asyncio.run(full_history(r.url, alice, chat_id)) for r in stack.replicas]
    assert seen[0] == seen[1]
    assert [m["body"] for m in seen[0]] == [f"m{n}" for n in range(10)]
