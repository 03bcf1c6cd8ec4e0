"""`Subscribe` (docs/grpc.md), the stream over gRPC, across real replicas: two
`parley-chat serve` processes with PARLEY_GRPC_PORT on one PostgreSQL and one Redis.

It is the stream of /v1/stream (realtime/connection.py) on another transport, so its
promise is the same: every message after the request's cursors in `seq` order, then live
ones, with no gap and no duplicate, however replicas come and go; and the two transports
see each other's messages.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import httpx
import pytest

from parley_proto.chat.v1 import chat_pb2, chat_pb2_grpc
from support import auth, chat, services
from support.parity import Subscription
from support.processes import ServiceProcess, free_port
from support.stream import StreamClient, token_of


@dataclass
class Replica:
    process: ServiceProcess
    grpc_target: str


@dataclass
class Stack:
    replicas: list[Replica]
    api: chat.ChatApi


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    url = services.create_postgres_database()
    logs = tmp_path_factory.mktemp("logs")
    try:
        chat.migrated(auth.migrated(url))
        auth_env = {
            "PARLEY_DATABASE_URL": url,
            "PARLEY_ADMIN_TOKEN": auth.ADMIN_TOKEN,
            "PARLEY_DATA_DIR": str(tmp_path_factory.mktemp("auth")),
            **auth.PROCESS_ENV,
        }
        with ServiceProcess("parley_auth", auth_env, log_dir=logs) as auth_process:
            ports = [free_port(), free_port()]
            envs = [
                {
                    "PARLEY_DATABASE_URL": url,
                    "PARLEY_ADMIN_TOKEN": auth.ADMIN_TOKEN,
                    "PARLEY_AUTH_URL": auth_process.url,
                    "PARLEY_REDIS_URL": services.redis_url(),
                    "PARLEY_REDIS_PREFIX": services.RUN_PREFIX,
                    "PARLEY_GRPC_PORT": str(port),
                }
                for port in ports
            ]
            with (
                ServiceProcess("parley_chat", envs[0], log_dir=logs) as a,
                ServiceProcess("parley_chat", envs[1], log_dir=logs) as b,
                auth.AuthApi(auth_process.url) as accounts,
            ):
                api = chat.ChatApi(b.url, accounts)
                try:
                    yield Stack(
                        [Replica(a, f"127.0.0.1:{ports[0]}"), Replica(b, f"127.0.0.1:{ports[1]}")],
                        api,
                    )
                finally:
                    api.close()
    finally:
        services.drop_postgres_database(url)


def _post(base_url: str, user: chat.User, chat_id: str, body: str) -> int:
    response = httpx.post(
        f"{base_url}/v1/chats/{chat_id}/messages",
        json={"body": body},
        headers=user.headers,
        timeout=30,
    )
    assert response.status_code == 201, response.text
    seq: int = response.json()["seq"]
    return seq


def test_subscribe_sends_what_follows_the_cursor_in_order_then_live_messages(
    stack: Stack,
) -> None:
    a, b = stack.replicas
    alice, bob = stack.api.users(2)
    chat_id = stack.api.group(alice, bob)["id"]
    for n in range(3):
        _post(b.process.url, alice, chat_id, f"before {n}")
    with Subscription(a.grpc_target, token_of(bob), {chat_id: 1}) as subscription:
        assert subscription.next() == {"ready": {"user_id": bob.id}}
        assert subscription.seqs_until(lambda seqs: len(seqs) >= 2) == [2, 3]
        _post(b.process.url, alice, chat_id, "live")
        assert subscription.seqs_until(lambda seqs: len(seqs) >= 1) == [4]


def test_subscribe_resumes_on_another_replica_after_a_kill_with_no_gap_and_no_duplicate(
    stack: Stack,
) -> None:
    a, b = stack.replicas
    alice, bob = stack.api.users(2)
    chat_id = stack.api.group(alice, bob)["id"]
    total = 30
    for n in range(5):
        _post(b.process.url, alice, chat_id, f"m{n}")
    seen: list[int] = []
    try:
        first = Subscription(a.grpc_target, token_of(bob), {chat_id: 0})
        seen += first.seqs_until(lambda seqs: len(seqs) >= 5)

        def send_the_rest() -> None:
            for n in range(5, total):
                _post(b.process.url, alice, chat_id, f"m{n}")

        sender = threading.Thread(target=send_the_rest)
        sender.start()
        seen += first.seqs_until(lambda seqs: len(seqs) >= 2)
        a.process.stop(signal.SIGKILL)
        # The killed replica's stream breaks: whatever it had sent is all it sends.
        tail, code = first.drain()
        seen += tail
        assert code == grpc.StatusCode.UNAVAILABLE
        first.close()
        with Subscription(b.grpc_target, token_of(bob), {chat_id: seen[-1]}) as second:
            seen += second.seqs_until(lambda seqs: bool(seqs) and seqs[-1] == total)
        sender.join(timeout=60)
    finally:
        a.process.start()
    assert seen == list(range(1, total + 1))


def test_a_message_sent_over_rest_arrives_on_subscribe_and_one_sent_over_grpc_on_the_websocket(
    stack: Stack,
) -> None:
    a, b = stack.replicas
    alice, bob = stack.api.users(2)
    chat_id = stack.api.group(alice, bob)["id"]
    with (
        StreamClient(a.process.url, token_of(alice)) as socket,
        Subscription(b.grpc_target, token_of(bob)) as subscription,
    ):
        assert "ready" in subscription.next()
        seq = _post(a.process.url, alice, chat_id, "over rest")
        event = subscription.next()
        assert event["message"]["message"]["seq"] == seq
        assert event["message"]["message"]["body"] == "over rest"
        with grpc.insecure_channel(b.grpc_target) as channel:
            stub = chat_pb2_grpc.ChatServiceStub(channel)
            sent = stub.SendMessage(
                chat_pb2.SendMessageRequest(chat_id=chat_id, body="over grpc"),
                metadata=(("authorization", f"Bearer {token_of(bob)}"),),
                timeout=30,
            )
        frames = socket.recv_until(
            lambda frames: [frame["type"] for frame in frames].count("message") == 2
        )
        messages = [frame["message"] for frame in frames if frame["type"] == "message"]
        assert [message["body"] for message in messages] == ["over rest", "over grpc"]
        assert messages[-1]["seq"] == sent.message.seq == seq + 1


def test_a_replica_shutting_down_ends_subscribe_with_unavailable(stack: Stack) -> None:
    a = stack.replicas[0]
    (alice,) = stack.api.users(1)
    subscription = Subscription(a.grpc_target, token_of(alice))
    try:
        assert "ready" in subscription.next()
        a.process.stop(signal.SIGTERM)
        assert subscription.ended_with() == grpc.StatusCode.UNAVAILABLE
    finally:
        subscription.close()
        a.process.start()


def test_subscribe_without_a_token_is_unauthenticated(stack: Stack) -> None:
    with grpc.insecure_channel(stack.replicas[1].grpc_target) as channel:
        stub = chat_pb2_grpc.ChatServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            next(iter(stub.Subscribe(chat_pb2.SubscribeRequest(), timeout=30)))
    assert isinstance(caught.value, grpc.Call)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
