"""The tenant feed across replicas, on PostgreSQL: two chat servers on one database and one
Redis, writers on both, and readers that must never see an event appear behind their
cursor (docs/api.md "Tenant backends": commit order, no gap, no duplicate), a server key
revoked on auth refused by every replica within a second, and an auth that is down."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from parley_auth.app import create_app as create_auth_app
from parley_chat import app as chat_app
from support import auth, chat, problems, services
from support.servers import ServedApp

WRITERS = 10
SENDS_EACH = 15


@dataclass
class Stack:
    replicas: list[str]
    api: chat.ChatApi


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    url = chat.migrated(auth.migrated(services.create_postgres_database()))
    try:
        auth_app = create_auth_app(auth.settings(tmp_path_factory.mktemp("auth"), url))
        with ServedApp(auth_app) as auth_server:
            redis = {"url": services.redis_url(), "prefix": services.redis_prefix()}

            def replica() -> ServedApp:
                settings = chat.settings(
                    tmp_path_factory.mktemp("chat"), url, auth_server.url, redis=redis
                )
                return ServedApp(chat_app.create_app(settings))

            with (
                replica() as a,
                replica() as b,
                auth.AuthApi(auth_server.url) as accounts,
            ):
                api = chat.ChatApi(a.url, accounts)
                try:
                    yield Stack([a.url, b.url], api)
                finally:
                    api.close()
    finally:
        services.drop_postgres_database(url)


def _position(cursor: str) -> int:
    text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    return int(text.rpartition("/")[2])


def _read(client: httpx.Client, key: dict[str, str], **params: Any) -> dict[str, Any]:
    response = client.get("/v1/tenant/events", params=params, headers=key, timeout=40)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_concurrent_writers_on_two_replicas_make_a_feed_a_concurrent_reader_sees_whole(
    stack: Stack,
) -> None:
    owner, *others = stack.api.users(WRITERS)
    key = auth.AuthApi.bearer(stack.api.accounts.server_key(owner.tenant))
    # Several chats, so that appends of different chats commit concurrently.
    chats = [stack.api.group(owner, *others)["id"] for _ in range(3)]
    writers = [owner, *others]
    start = _read(stack.api.http, key)["cursor"]
    done = threading.Event()
    seen: list[dict[str, Any]] = []

    def reader() -> None:
        cursor = start
        with httpx.Client(base_url=stack.replicas[1]) as client:
            while True:
                finished = done.is_set()
                body = _read(client, key, after=cursor, limit=7)
                seen.extend(body["events"])
                cursor = body["cursor"]
                if finished and not body["events"]:
                    return

    def write(index: int) -> None:
        user = writers[index]
        with httpx.Client(base_url=stack.replicas[index % 2], timeout=30) as client:
            for n in range(SENDS_EACH):
                chat_id = chats[(index + n) % len(chats)]
                response = client.post(
                    f"/v1/chats/{chat_id}/messages",
                    json={"body": f"{index}-{n}"},
                    headers=user.headers,
                )
                assert response.status_code == 201, response.text

    watcher = threading.Thread(target=reader)
    watcher.start()
    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(write, range(WRITERS)))
    done.set()
    watcher.join(timeout=60)
    assert not watcher.is_alive()

    everything = _read(stack.api.http, key, after=start, limit=1000)["events"]
    positions = [_position(event["cursor"]) for event in everything]
    assert len(everything) == WRITERS * SENDS_EACH
    assert positions == list(range(positions[0], positions[0] + len(positions)))
    # What the reader saw while the writes committed is the whole feed, in the same order:
    # nothing ever appeared behind its cursor.
    assert [event["id"] for event in seen] == [event["id"] for event in everything]
    bodies = sorted(event["data"]["message"]["body"] for event in everything)
    assert bodies == sorted(f"{i}-{n}" for i in range(WRITERS) for n in range(SENDS_EACH))
    # Each chat's messages are in `seq` order within the feed.
    for chat_id in chats:
        seqs = [e["data"]["message"]["seq"] for e in everything if e["chat_id"] == chat_id]
        assert seqs == sorted(seqs)


def test_a_long_poll_on_one_replica_wakes_for_an_event_written_on_the_other(
    stack: Stack,
) -> None:
    alice, bob = stack.api.users(2)
    key = auth.AuthApi.bearer(stack.api.accounts.server_key(alice.tenant))
    chat_id = stack.api.group(alice, bob)["id"]
    cursor = _read(stack.api.http, key)["cursor"]
    answered: list[dict[str, Any]] = []

    def poll() -> None:
        with httpx.Client(base_url=stack.replicas[1]) as client:
            answered.append(_read(client, key, after=cursor, wait=25))

    poller = threading.Thread(target=poll)
    started = time.monotonic()
    poller.start()
    time.sleep(0.5)  # the poll is waiting: waking it is the test
    stack.api.send(alice, chat_id, "across")
    poller.join(timeout=40)

    (body,) = answered
    assert [e["data"]["message"]["body"] for e in body["events"]] == ["across"]
    assert time.monotonic() - started < 20


def test_a_revoked_server_key_is_refused_by_every_replica_within_a_second(
    stack: Stack,
) -> None:
    tenant = stack.api.tenant()
    accounts = stack.api.accounts
    created = accounts.http.post(
        f"/internal/v1/tenants/{tenant}/server-keys", json={"name": "soon"}, headers=accounts.admin
    )
    assert created.status_code == 201, created.text
    key = auth.AuthApi.bearer(created.json()["key"])
    clients = [httpx.Client(base_url=url, timeout=10) for url in stack.replicas]
    try:
        for client in clients:
            _read(client, key)  # known, and cached, on both
        revoked = accounts.http.delete(
            f"/internal/v1/tenants/{tenant}/server-keys/{created.json()['id']}",
            headers=accounts.admin,
        )
        assert revoked.status_code == 204, revoked.text
        at = time.monotonic()
        refused = [False] * len(clients)
        while not all(refused):
            assert time.monotonic() - at < 1.0, "a replica still took the revoked key"
            for index, client in enumerate(clients):
                if not refused[index]:
                    response = client.get("/v1/tenant/events", headers=key)
                    refused[index] = response.status_code == 401
        for client in clients:
            problems.problem(client.get("/v1/tenant/events", headers=key), 401)
    finally:
        for client in clients:
            client.close()


def test_a_server_key_is_503_naming_auth_while_auth_does_not_answer(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = chat.settings(
        tmp_path_factory.mktemp("lonely"),
        chat.migrated(f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'chat.db'}"),
        "http://127.0.0.1:9",  # discard: nothing answers
        auth={"timeout_seconds": 0.5, "retries": 0},
    )
    with ServedApp(chat_app.create_app(settings)) as lonely:
        response = httpx.get(
            f"{lonely.url}/v1/tenant/events",
            headers={"Authorization": "Bearer psk_" + "y" * 43},
            timeout=10,
        )
    assert response.status_code == 503, response.text
    assert "auth" in response.json()["detail"]
