"""The stream across replicas: two `parley-chat serve` processes on one PostgreSQL and one
Redis, one auth process, and clients that hop between replicas.

docs/api.md: a message acknowledged by POST is never lost, and each chat's messages
arrive in `seq` order, on whichever replica the client is connected to.
"""

from __future__ import annotations

import itertools
import signal
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from redis import Redis
from websockets.exceptions import ConnectionClosed

from support import auth, chat, services
from support.processes import RedisClusterProcess, RedisProcess, ServiceProcess
from support.stream import (
    StreamClient,
    close_code_at_connect,
    reconnecting,
    ticket_for,
    token_of,
)

SENDERS = 5


@dataclass
class Stack:
    auth: ServiceProcess
    replicas: list[ServiceProcess]
    api: chat.ChatApi
    database_url: str
    logs: Path


def _auth_env(url: str, data_dir: Path) -> dict[str, str]:
    return {
        "PARLEY_DATABASE_URL": url,
        "PARLEY_ADMIN_TOKEN": auth.ADMIN_TOKEN,
        "PARLEY_DATA_DIR": str(data_dir),
        **auth.PROCESS_ENV,
    }


def _chat_env(url: str, auth_url: str, redis_url: str) -> dict[str, str]:
    return {
        "PARLEY_DATABASE_URL": url,
        "PARLEY_ADMIN_TOKEN": auth.ADMIN_TOKEN,
        "PARLEY_AUTH_URL": auth_url,
        "PARLEY_REDIS_URL": redis_url,
        "PARLEY_REDIS_PREFIX": services.RUN_PREFIX,
    }


ON_CLUSTER = pytest.mark.parametrize("stack", ["redis", "redis-cluster"], indirect=True)
"""Run a test on the shared Redis and again on a Redis Cluster of its own, with sharded
pub/sub (`PARLEY_REDIS_CLUSTER`)."""


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    on_cluster = getattr(request, "param", "redis") == "redis-cluster"
    url = services.create_postgres_database()
    logs = tmp_path_factory.mktemp("logs")
    try:
        chat.migrated(auth.migrated(url))
        auth_env = _auth_env(url, tmp_path_factory.mktemp("auth"))
        with (
            ServiceProcess("parley_auth", auth_env, log_dir=logs) as auth_process,
            RedisClusterProcess(tmp_path_factory.mktemp("cluster"))
            if on_cluster
            else nullcontext() as cluster,
        ):
            env = _chat_env(url, auth_process.url, cluster.url if cluster else services.redis_url())
            if cluster:
                env["PARLEY_REDIS_CLUSTER"] = "1"
            with (
                ServiceProcess("parley_chat", env, log_dir=logs) as a,
                ServiceProcess("parley_chat", env, log_dir=logs) as b,
                auth.AuthApi(auth_process.url) as accounts,
            ):
                api = chat.ChatApi(a.url, accounts)
                try:
                    yield Stack(auth_process, [a, b], api, url, logs)
                finally:
                    api.close()
    finally:
        services.drop_postgres_database(url)


def _post(base_url: str, user: chat.User, chat_id: str, body: str) -> int | None:
    """POST a message; its `seq` when acknowledged with 201, else None."""
    try:
        response = httpx.post(
            f"{base_url}/v1/chats/{chat_id}/messages",
            json={"body": body},
            headers=user.headers,
            timeout=10,
        )
    except httpx.TransportError:
        return None
    return response.json()["seq"] if response.status_code == 201 else None


def _read_until_closed(stream: StreamClient) -> list[int]:
    seqs = []
    try:
        while True:
            frame = stream.recv(timeout=10)
            if frame["type"] == "message":
                seqs.append(frame["message"]["seq"])
    except ConnectionClosed:
        return seqs


@ON_CLUSTER
def test_a_message_posted_to_one_replica_reaches_a_socket_on_the_other(stack: Stack) -> None:
    a, b = stack.replicas
    alice, bob = stack.api.users(2)
    chat_id = stack.api.group(alice, bob)["id"]
    with StreamClient(b.url, token_of(bob)) as stream:
        assert _post(a.url, alice, chat_id, "across replicas") == 1
        (frame,) = stream.messages(1)
        assert (frame["chat_id"], frame["message"]["body"]) == (chat_id, "across replicas")


def test_concurrent_senders_on_both_replicas_arrive_in_seq_order_with_none_missing(
    stack: Stack,
) -> None:
    users = stack.api.users(SENDERS + 1)
    reader, senders = users[0], users[1:]
    chat_id = stack.api.group(senders[0], reader, *senders[1:])["id"]
    urls = [replica.url for replica in stack.replicas]

    def send_twenty(index: int) -> list[int | None]:
        return [
            _post(urls[(index + n) % 2], senders[index], chat_id, f"{index}:{n}") for n in range(20)
        ]

    with (
        StreamClient(stack.replicas[0].url, token_of(reader)) as on_a,
        StreamClient(stack.replicas[1].url, token_of(reader)) as on_b,
        ThreadPoolExecutor(SENDERS) as pool,
    ):
        acknowledged = list(itertools.chain(*pool.map(send_twenty, range(SENDERS))))
        assert sorted(acknowledged) == list(range(1, 101))  # type: ignore[type-var]
        for stream in (on_a, on_b):
            seqs = [f["message"]["seq"] for f in stream.messages(100, timeout=30)]
            assert seqs == list(range(1, 101))


@ON_CLUSTER
def test_a_killed_replica_loses_no_acknowledged_message(stack: Stack) -> None:
    a, b = stack.replicas
    users = stack.api.users(SENDERS + 1)
    reader, senders = users[0], users[1:]
    chat_id = stack.api.group(senders[0], reader, *senders[1:])["id"]
    acknowledged: set[int] = set()
    lock = threading.Lock()
    killed = threading.Event()

    def keep_sending(index: int) -> None:
        for n in range(40):
            # Before the kill, half the senders use replica A; after it, everyone uses B.
            url = a.url if index % 2 and not killed.is_set() else b.url
            seq = _post(url, senders[index], chat_id, f"{index}:{n}")
            if seq is not None:
                with lock:
                    acknowledged.add(seq)
            time.sleep(0.005)

    received: list[int] = []
    stream = StreamClient(a.url, token_of(reader))
    try:
        with ThreadPoolExecutor(SENDERS) as pool:
            futures = [pool.submit(keep_sending, i) for i in range(SENDERS)]
            while len(received) < 40:
                received += [f["message"]["seq"] for f in stream.messages(1)]
            a.stop(signal.SIGKILL)
            killed.set()
            # The socket dies with the replica; the client reconnects elsewhere and resumes.
            received += _read_until_closed(stream)
            stream.close()
            stream = StreamClient(b.url, token_of(reader))
            stream.send({"type": "resume", "cursors": {chat_id: received[-1]}})
            for future in futures:
                future.result()
        deadline = time.monotonic() + 30
        while not acknowledged <= set(received):
            assert time.monotonic() < deadline, sorted(acknowledged - set(received))
            frame = stream.recv(timeout=10)
            if frame["type"] == "message":
                received.append(frame["message"]["seq"])
        received += [f["message"]["seq"] for f in stream.silence(0.5) if f["type"] == "message"]
    finally:
        stream.close()
        a.start()
    assert len(received) == len(set(received)), "a message arrived twice"
    assert received == sorted(received), "messages arrived out of seq order"
    assert received == list(range(1, received[-1] + 1)), "a gap in the stream"


def test_a_replica_shutting_down_closes_its_sockets_with_1012(stack: Stack) -> None:
    a = stack.replicas[0]
    alice = stack.api.user()
    stream = StreamClient(a.url, token_of(alice))
    try:
        a.stop(signal.SIGTERM)
        assert stream.close_code() == 1012
    finally:
        stream.close()
        a.start()


def test_messages_whose_publish_failed_are_stored_and_delivered_by_resume(
    stack: Stack, tmp_path: Path
) -> None:
    with RedisProcess(tmp_path) as redis:
        env = _chat_env(stack.database_url, stack.auth.url, redis.url)
        with ServiceProcess("parley_chat", env, log_dir=stack.logs) as replica:
            alice, bob = stack.api.users(2)
            chat_id = stack.api.group(alice, bob)["id"]
            with StreamClient(replica.url, token_of(bob)) as stream:
                assert _post(replica.url, alice, chat_id, "before") == 1
                assert [f["message"]["seq"] for f in stream.messages(1)] == [1]

            redis.stop()
            acknowledged = [_post(replica.url, alice, chat_id, f"during {n}") for n in range(3)]
            assert acknowledged == [2, 3, 4]  # stored although nothing could be published

            redis.start()
            with reconnecting(replica.url, token_of(bob)) as stream:
                stream.send({"type": "resume", "cursors": {chat_id: 1}})
                got = [f["message"] for f in stream.messages(3)]
                assert [(m["seq"], m["body"]) for m in got] == [
                    (2, "during 0"),
                    (3, "during 1"),
                    (4, "during 2"),
                ]
                # And live delivery works again once the broker is back.
                deadline = time.monotonic() + 15
                while True:
                    seq = _post(replica.url, alice, chat_id, "after")
                    frames = stream.silence(0.5)
                    if any(f.get("message", {}).get("seq") == seq for f in frames):
                        break
                    assert time.monotonic() < deadline, "live delivery did not come back"


def test_a_chats_last_message_whose_publish_was_lost_still_arrives_live(
    stack: Stack, tmp_path: Path
) -> None:
    # No later message will reveal the gap, and the re-check is an hour away: only the
    # publisher's redelivery can bring the message in.
    with RedisProcess(tmp_path) as broker:
        env = _chat_env(stack.database_url, stack.auth.url, broker.url)
        quiet = {**env, "PARLEY_STREAM_RECHECK_SECONDS": "3600"}
        with (
            ServiceProcess("parley_chat", env, log_dir=stack.logs) as publisher,
            ServiceProcess("parley_chat", quiet, log_dir=stack.logs) as listener,
        ):
            alice, bob = stack.api.users(2)
            chat_id = stack.api.group(alice, bob)["id"]
            with StreamClient(listener.url, token_of(bob)) as stream:
                stream.send({"type": "resume", "cursors": {chat_id: 0}})
                assert _post(publisher.url, alice, chat_id, "before") == 1
                assert [f["message"]["seq"] for f in stream.messages(1)] == [1]

                # Writes (and so PUBLISH) wait; the listener's subscription stays up.
                with Redis.from_url(broker.url) as admin:
                    admin.execute_command("CLIENT", "PAUSE", "4000", "WRITE")
                assert _post(publisher.url, alice, chat_id, "lost") == 2
                got = stream.messages(1, timeout=30)
                assert [(f["message"]["seq"], f["message"]["body"]) for f in got] == [(2, "lost")]


def test_a_hung_broker_costs_one_timeout_not_one_per_event(stack: Stack) -> None:
    # A Redis that accepts connections and never answers, as behind a network partition.
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(128)
        redis_url = f"redis://127.0.0.1:{hung.getsockname()[1]}/0"
        env = _chat_env(stack.database_url, stack.auth.url, redis_url)
        alice = stack.api.user()
        crowd = stack.api.users(30, alice.tenant)
        with (
            ServiceProcess("parley_chat", env, log_dir=stack.logs) as replica,
            httpx.Client(base_url=replica.url, timeout=60) as http,
        ):
            started = time.monotonic()
            # One member.joined event for each of the 31 members.
            created = http.post(
                "/v1/chats",
                json={"kind": "group", "members": [user.username for user in crowd]},
                headers=alice.headers,
            )
            elapsed = time.monotonic() - started
    assert created.status_code == 201
    assert elapsed < 8  # about one publish timeout (1 s), not 31 of them


@ON_CLUSTER
def test_a_stream_ticket_is_single_use_across_replicas(stack: Stack) -> None:
    a, b = stack.replicas
    alice = stack.api.user()
    issued = ticket_for(a.url, token_of(alice))
    with StreamClient(b.url, "", ticket=issued["ticket"]) as stream:
        assert stream.user_id == alice.id
    for replica in (a, b):
        assert close_code_at_connect(replica.url, f"?ticket={issued['ticket']}") == 4401


@ON_CLUSTER
def test_two_replicas_racing_for_one_ticket_let_exactly_one_in(stack: Stack) -> None:
    a, b = stack.replicas
    alice = stack.api.user()
    for _ in range(5):
        ticket = ticket_for(b.url, token_of(alice))["ticket"]

        def connect_to(url: str, ticket: str = ticket) -> int | None:
            try:
                with StreamClient(url, "", ticket=ticket):
                    return None  # let in
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else -1

        with ThreadPoolExecutor(2) as pool:
            outcomes = sorted(pool.map(connect_to, [a.url, b.url]), key=str)
        assert outcomes == [4401, None]


# -- threads and reactions (docs/stream.md) --------------------------------------------------


def test_a_reply_on_one_replica_arrives_on_the_other_with_its_roots_new_summary(
    stack: Stack,
) -> None:
    a, b = stack.replicas
    alice, bob = stack.api.users(2)
    chat_id = stack.api.group(alice, bob)["id"]
    root = stack.api.send(alice, chat_id, "root")["seq"]
    with StreamClient(b.url, token_of(bob)) as stream:
        response = httpx.post(
            f"{a.url}/v1/chats/{chat_id}/messages",
            json={"body": "a reply", "reply_to": root},
            headers=alice.headers,
        )
        assert response.status_code == 201, response.text
        frames = stream.recv_until(lambda got: len(got) >= 2)
    (message,) = [f for f in frames if f["type"] == "message"]
    (updated,) = [f for f in frames if f["type"] == "message.updated"]
    assert (message["message"]["seq"], message["message"]["reply_to"]) == (2, root)
    assert updated["message"]["seq"] == root
    assert updated["message"]["thread"] == {
        "replies": 1,
        "last_reply_seq": 2,
        "last_reply_at": response.json()["created_at"],
    }


def test_reactions_on_one_replica_arrive_on_the_other_as_reaction_frames_with_exact_counts(
    stack: Stack,
) -> None:
    a, b = stack.replicas
    alice, bob, carol = stack.api.users(3)
    chat_id = stack.api.group(alice, bob, carol)["id"]
    stack.api.send(alice, chat_id, "react to me")
    path = f"/v1/chats/{chat_id}/messages/1/reactions/%F0%9F%8E%89"
    with StreamClient(b.url, token_of(alice)) as stream:
        for user, method in ((bob, "PUT"), (carol, "PUT"), (bob, "PUT"), (bob, "DELETE")):
            response = httpx.request(method, a.url + path, headers=user.headers)
            assert response.status_code == 204, response.text
        frames = stream.recv_until(lambda got: len(got) >= 3)
        # The repeated PUT changed nothing and announced nothing.
        assert stream.silence(0.5) == []
        # A frame's `me` speaks for nobody: one frame goes to every member.
        edited = httpx.patch(
            f"{a.url}/v1/chats/{chat_id}/messages/1", json={"body": "edited"}, headers=alice.headers
        )
        assert edited.status_code == 200
        (update,) = stream.recv_until(lambda got: len(got) >= 1)
    assert [(f["type"], f["op"], f["user_id"], f["count"]) for f in frames] == [
        ("reaction", "add", bob.id, 1),
        ("reaction", "add", carol.id, 2),
        ("reaction", "remove", bob.id, 1),
    ]
    assert {(f["chat_id"], f["seq"], f["emoji"]) for f in frames} == {(chat_id, 1, "\U0001f389")}
    assert update["message"]["reactions"] == [{"emoji": "\U0001f389", "count": 1, "me": False}]


def test_a_reaction_in_a_chat_one_is_not_in_never_reaches_ones_stream(stack: Stack) -> None:
    a, b = stack.replicas
    alice, bob, carol = stack.api.users(3)
    chat_id = stack.api.group(alice, bob)["id"]
    other = stack.api.group(carol, alice, title="other")["id"]
    stack.api.send(alice, chat_id, "x")
    stack.api.send(carol, other, "y")
    with StreamClient(b.url, token_of(bob)) as stream:
        for target in (other, chat_id):
            response = httpx.put(
                f"{a.url}/v1/chats/{target}/messages/1/reactions/%3Aok%3A", headers=alice.headers
            )
            assert response.status_code == 204
        (frame,) = stream.recv_until(lambda got: len(got) >= 1)
        assert frame["chat_id"] == chat_id
        assert stream.silence(0.5) == []
