"""Presence across replicas (docs/api.md "Presence", docs/stream.md "Presence"): two
`parley-chat serve` processes on one PostgreSQL and one Redis, with heartbeats every
0.3 s and a 1.5 s TTL so that a killed replica's users go offline in seconds here (60 s
at most with the defaults' 30 s TTL and 10 s heartbeat).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from support import auth, chat, observability, services
from support.processes import ServiceProcess
from support.stream import Frame, StreamClient, token_of

HEARTBEAT_SECONDS = 0.3
TTL_SECONDS = 1.5


@dataclass
class Stack:
    replicas: list[ServiceProcess]
    api: chat.ChatApi
    chat_env: dict[str, str]
    logs: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis_url = services.redis_url()
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
            env = {
                "PARLEY_DATABASE_URL": url,
                "PARLEY_ADMIN_TOKEN": auth.ADMIN_TOKEN,
                "PARLEY_AUTH_URL": auth_process.url,
                "PARLEY_REDIS_URL": redis_url,
                # Presence keys of this module's own: no other run's replicas to sweep.
                "PARLEY_REDIS_PREFIX": services.redis_prefix(),
                "PARLEY_PRESENCE_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
                "PARLEY_PRESENCE_TTL_SECONDS": str(TTL_SECONDS),
                "PARLEY_CHAT_CREATIONS_PER_MINUTE": "1000",
            }
            with (
                ServiceProcess("parley_chat", env, log_dir=logs) as a,
                ServiceProcess("parley_chat", env, log_dir=logs) as b,
                auth.AuthApi(auth_process.url) as accounts,
            ):
                api = chat.ChatApi(a.url, accounts)
                try:
                    yield Stack([a, b], api, env, logs)
                finally:
                    api.close()
    finally:
        services.drop_postgres_database(url)


def presence(url: str, viewer: chat.User, *users: chat.User) -> dict[str, dict[str, Any]]:
    response = httpx.get(
        f"{url}/v1/presence",
        params=[("user_id", user.id) for user in users],
        headers=viewer.headers,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return {entry["user_id"]: entry for entry in response.json()["presence"]}


def set_status(url: str, user: chat.User, status: str) -> None:
    response = httpx.put(
        f"{url}/v1/presence", json={"status": status}, headers=user.headers, timeout=10
    )
    assert response.status_code == 204, response.text


def shows(user: chat.User, status: str) -> Any:
    def done(frames: list[Frame]) -> bool:
        return any(
            f["type"] == "presence" and f["user_id"] == user.id and f["status"] == status
            for f in frames
        )

    return done


def about(frames: list[Frame], user: chat.User) -> list[Frame]:
    return [f for f in frames if f["type"] == "presence" and f["user_id"] == user.id]


def test_a_stream_on_one_replica_makes_its_user_online_on_the_other(stack: Stack) -> None:
    a, b = stack.replicas
    alice, bob = stack.api.users(2)
    stack.api.group(alice, bob)
    with StreamClient(b.url, token_of(bob), presence=True) as watching:
        with StreamClient(a.url, token_of(alice), presence=True):
            watching.recv_until(shows(alice, "online"))
            assert presence(b.url, bob, alice)[alice.id]["status"] == "online"
        watching.recv_until(shows(alice, "offline"))
        assert presence(a.url, bob, alice)[alice.id]["status"] == "offline"


def test_a_user_streaming_on_both_replicas_goes_offline_after_the_last_stream(
    stack: Stack,
) -> None:
    a, b = stack.replicas
    alice, bob = stack.api.users(2)
    stack.api.group(alice, bob)
    with StreamClient(a.url, token_of(bob), presence=True) as watching:
        on_a = StreamClient(a.url, token_of(alice), presence=True)
        watching.recv_until(shows(alice, "online"))
        with StreamClient(b.url, token_of(alice), presence=True):
            on_a.close()
            assert about(watching.silence(1.0), alice) == []
            assert presence(b.url, bob, alice)[alice.id]["status"] == "online"
        watching.recv_until(shows(alice, "offline"))


def test_away_and_dnd_outlive_reconnects_to_either_replica(stack: Stack) -> None:
    a, b = stack.replicas
    alice, bob = stack.api.users(2)
    stack.api.group(alice, bob)
    set_status(a.url, alice, "away")
    with StreamClient(a.url, token_of(bob), presence=True) as watching:
        with StreamClient(b.url, token_of(alice), presence=True):
            watching.recv_until(shows(alice, "away"))
            set_status(a.url, alice, "dnd")
            watching.recv_until(shows(alice, "dnd"))
        watching.recv_until(shows(alice, "offline"))
        with StreamClient(a.url, token_of(alice), presence=True):
            watching.recv_until(shows(alice, "dnd"))
            assert presence(b.url, bob, alice)[alice.id]["status"] == "dnd"


def test_frames_reach_only_users_who_share_a_chat(stack: Stack) -> None:
    a, b = stack.replicas
    tenant = stack.api.tenant()
    alice, bob, stranger = stack.api.users(3, tenant)
    stack.api.group(alice, bob)
    with (
        StreamClient(b.url, token_of(bob), presence=True) as watching,
        StreamClient(b.url, token_of(stranger), presence=True) as outside,
        StreamClient(a.url, token_of(stranger), presence=True) as outside_too,
    ):
        with StreamClient(a.url, token_of(alice), presence=True):
            watching.recv_until(shows(alice, "online"))
            set_status(b.url, alice, "away")
            watching.recv_until(shows(alice, "away"))
        watching.recv_until(shows(alice, "offline"))
        for stream in (outside, outside_too):
            assert about(stream.silence(0.5), alice) == []
    assert set(presence(b.url, stranger, alice)) == set()


def test_a_change_of_a_user_in_many_chats_is_one_publish_and_one_frame(stack: Stack) -> None:
    a, b = stack.replicas
    tenant = stack.api.tenant()
    alice, bob, carol = stack.api.users(3, tenant)
    for _ in range(30):
        stack.api.group(alice, bob, carol)
    with (
        StreamClient(b.url, token_of(bob), presence=True) as bob_watching,
        StreamClient(a.url, token_of(carol), presence=True) as carol_watching,
        StreamClient(a.url, token_of(alice), presence=True),
    ):
        for watching in (bob_watching, carol_watching):
            watching.recv_until(shows(alice, "online"))
        published = "parley_broker_publishes_total"
        before = observability.value(observability.scrape(a.url), published, outcome="ok")
        set_status(a.url, alice, "away")
        after = observability.value(observability.scrape(a.url), published, outcome="ok")
        # 30 chats with two others each: still one publish through Redis...
        assert after - before == 1
        # ...and one frame to each watcher, not one per shared chat.
        for watching in (bob_watching, carol_watching):
            frames = watching.recv_until(shows(alice, "away"))
            frames += watching.silence(0.5)
            assert [f["status"] for f in about(frames, alice)] == ["away"]


def test_a_replica_killed_with_sigkill_takes_its_users_offline(stack: Stack) -> None:
    a, _ = stack.replicas
    alice, bob = stack.api.users(2)
    stack.api.group(alice, bob)
    with (
        ServiceProcess("parley_chat", stack.chat_env, log_dir=stack.logs) as doomed,
        StreamClient(a.url, token_of(bob), presence=True) as watching,
    ):
        alice_stream = StreamClient(doomed.url, token_of(alice), presence=True)
        try:
            watching.recv_until(shows(alice, "online"))
            doomed.stop(signal.SIGKILL)
            # The surviving replica's sweeper notices the missed heartbeats (docs: within
            # 60 s with the defaults; here TTL 1.5 s plus a heartbeat).
            (frame,) = about(watching.recv_until(shows(alice, "offline"), timeout=60), alice)[-1:]
            assert frame["last_seen_at"] is not None
            assert presence(a.url, bob, alice)[alice.id]["status"] == "offline"
        finally:
            alice_stream.close()
