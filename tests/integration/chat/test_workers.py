"""`PARLEY_WORKERS=2`: one chat pod serving from two processes on one port
(parley_core.serving.supervise). Which worker holds a connection is read from /proc."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from support import auth, chat, services, sockets
from support.observability import scrape, value
from support.processes import ServiceProcess
from support.stream import StreamClient, token_of

ATTEMPTS = 60
"""Connections tried before concluding the kernel never hands one to the other worker."""


@pytest.fixture(scope="module")
def pod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServiceProcess, chat.ChatApi]]:
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
        chat_env = {
            "PARLEY_DATABASE_URL": url,
            "PARLEY_ADMIN_TOKEN": auth.ADMIN_TOKEN,
            "PARLEY_REDIS_URL": services.redis_url(),
            "PARLEY_REDIS_PREFIX": services.RUN_PREFIX,
            "PARLEY_WORKERS": "2",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path_factory.mktemp("metrics")),
        }
        with ServiceProcess("parley_auth", auth_env, log_dir=logs) as auth_process:
            chat_env["PARLEY_AUTH_URL"] = auth_process.url
            with (
                # The supervisor starts, then its workers: twice the imports of one process.
                ServiceProcess("parley_chat", chat_env, log_dir=logs, start_seconds=180) as server,
                auth.AuthApi(auth_process.url) as accounts,
            ):
                api = chat.ChatApi(server.url, accounts)
                try:
                    yield server, api
                finally:
                    api.close()
    finally:
        services.drop_postgres_database(url)


def _workers(server: ServiceProcess) -> list[int]:
    workers = sockets.children(server.pid)
    assert len(workers) == 2, workers
    return workers


def _stream_on(server: ServiceProcess, token: str, worker: int, stack: ExitStack) -> StreamClient:
    """A stream that the given worker accepted (others opened meanwhile are closed)."""
    for _ in range(ATTEMPTS):
        stream = StreamClient(server.url, token)
        client_port = stream.ws.socket.getsockname()[1]
        if sockets.holder([worker], server.port, client_port) == worker:
            stack.callback(stream.close)
            return stream
        stream.close()
    raise AssertionError(f"no stream connection reached worker {worker}")


def _http_on(server: ServiceProcess, worker: int) -> http.client.HTTPConnection:
    for _ in range(ATTEMPTS):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.connect()
        assert connection.sock is not None
        client_port = connection.sock.getsockname()[1]
        if sockets.holder([worker], server.port, client_port) == worker:
            return connection
        connection.close()
    raise AssertionError(f"no HTTP connection reached worker {worker}")


def test_a_message_sent_through_one_worker_reaches_a_stream_on_the_other(
    pod: tuple[ServiceProcess, chat.ChatApi],
) -> None:
    server, api = pod
    first, second = _workers(server)
    alice, bob = api.users(2)
    room = api.group(alice, bob)["id"]
    with ExitStack() as stack:
        on_first = _stream_on(server, token_of(bob), first, stack)
        on_second = _stream_on(server, token_of(bob), second, stack)
        sender = _http_on(server, second)
        stack.callback(sender.close)
        body = json.dumps({"body": "across workers"})
        headers = {**alice.headers, "Content-Type": "application/json"}
        sender.request("POST", f"/v1/chats/{room}/messages", body, headers)
        response = sender.getresponse()
        assert response.status == 201, response.read()
        response.read()
        for stream in (on_first, on_second):
            (frame,) = stream.messages(1)
            assert frame["message"]["body"] == "across workers"


def test_metrics_sum_both_workers(pod: tuple[ServiceProcess, chat.ChatApi]) -> None:
    server, api = pod
    first, second = _workers(server)
    alice, bob = api.users(2)
    room = api.group(alice, bob)["id"]
    with ExitStack() as stack:
        streams = [_stream_on(server, token_of(bob), worker, stack) for worker in (first, second)]
        before = scrape(server.url)
        api.send(alice, room, "counted once, delivered twice")
        for stream in streams:
            stream.messages(1)
        after = scrape(server.url)
    # Whichever worker answered the scrape, it speaks for both.
    assert value(after, "parley_stream_connections") >= 2
    persisted = "parley_chat_messages_persisted_total"
    assert value(after, persisted) - value(before, persisted) == 1
    live = value(after, "parley_stream_frames_sent_total", source="live") - value(
        before, "parley_stream_frames_sent_total", source="live"
    )
    assert live == 2
