"""The presence stores (realtime/presence_store.py) against the real Redis, and the
in-process one, without servers: the counting rules, and the sweep and sync that keep
replicas' counts right when one dies or misses its heartbeats."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest

from parley_chat.domain.presence import Change
from parley_chat.realtime.presence_store import MemoryPresence, RedisPresence
from parley_core import ratelimit
from support import services

T = TypeVar("T")
TENANT = "acme"


def run(work: Awaitable[T]) -> T:
    return asyncio.get_event_loop_policy().get_event_loop().run_until_complete(work)


Replicas = Callable[..., list[RedisPresence]]


@pytest.fixture
def loop() -> Iterator[None]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield
    finally:
        loop.close()
        asyncio.set_event_loop(None)


@pytest.fixture
def replicas(loop: None) -> Iterator[Replicas]:
    """Stores of `count` replicas of one deployment (one prefix, one Redis client)."""
    clients = []

    def make(count: int, *, ttl_seconds: float = 30.0) -> list[RedisPresence]:
        prefix = services.redis_prefix()
        client = ratelimit.redis_client(services.redis_url())
        clients.append(client)
        return [RedisPresence(client, prefix=prefix, ttl_seconds=ttl_seconds) for _ in range(count)]

    yield make
    for client in clients:
        run(client.aclose())


def statuses(changes: list[Change]) -> list[str]:
    return [change.presence.status for change in changes]


def eventually(probe: Callable[[], Awaitable[list[Change]]], timeout: float = 10) -> list[Change]:
    deadline = time.monotonic() + timeout
    while not (found := run(probe())):
        assert time.monotonic() < deadline, "nothing changed in time"
    return found


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_a_user_shows_their_choice_while_any_stream_is_open(replicas: Replicas, kind: str) -> None:
    store = MemoryPresence() if kind == "memory" else replicas(1)[0]
    user = uuid.uuid4()
    assert run(store.choose(TENANT, user, "away")) is None  # offline: nothing shown changes
    first = run(store.connected(TENANT, user))
    assert first is not None
    assert first.presence.status == "away"
    assert run(store.connected(TENANT, user)) is None
    changed = run(store.choose(TENANT, user, "dnd"))
    assert changed is not None
    assert changed.presence.status == "dnd"
    assert run(store.choose(TENANT, user, "dnd")) is None
    assert run(store.disconnected(TENANT, user)) is None
    last = run(store.disconnected(TENANT, user))
    assert last is not None
    assert (last.presence.status, last.presence.last_seen_at is not None) == ("offline", True)
    assert run(store.disconnected(TENANT, user)) is None  # never below zero
    (seen,) = run(store.read(TENANT, [user])).values()
    assert seen.status == "offline"
    assert run(store.connected(TENANT, user)) is not None
    assert run(store.read(TENANT, [user]))[user].status == "dnd"
    # Another tenant's user of the same id is someone else.
    assert run(store.read("other", [user]))[user].status == "offline"


def test_a_dead_replicas_users_are_swept_offline_once_and_only_theirs(replicas: Replicas) -> None:
    alive, dead = replicas(2, ttl_seconds=0.3)
    mine, theirs, both = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for store in (alive, dead):
        run(store.heartbeat())
    run(alive.connected(TENANT, mine))
    run(dead.connected(TENANT, theirs))
    run(alive.connected(TENANT, both))
    run(dead.connected(TENANT, both))

    def beat_and_sweep() -> Awaitable[list[Change]]:
        async def go() -> list[Change]:
            await alive.heartbeat()
            return await alive.sweep()

        return go()

    gone = eventually(beat_and_sweep)

    assert [(c.presence.user_id, c.presence.status) for c in gone] == [(theirs, "offline")]
    assert run(alive.sweep()) == []  # claimed once
    shown = run(alive.read(TENANT, [mine, theirs, both]))
    assert [shown[user].status for user in (mine, theirs, both)] == ["online", "offline", "online"]
    # The dead replica's streams closing late takes nothing twice.
    assert run(dead.disconnected(TENANT, both)) is None
    assert run(alive.read(TENANT, [both]))[both].status == "online"


def test_a_replica_swept_while_alive_writes_its_streams_back(replicas: Replicas) -> None:
    slow, sweeper = replicas(2, ttl_seconds=0.3)
    user = uuid.uuid4()
    run(slow.heartbeat())
    run(slow.connected(TENANT, user))
    eventually(sweeper.sweep)
    assert run(sweeper.read(TENANT, [user]))[user].status == "offline"

    assert run(slow.heartbeat()) is False  # it learns it was taken for dead
    back = run(slow.sync({(TENANT, user): 1}))

    assert statuses(back) == ["online"]
    assert run(sweeper.read(TENANT, [user]))[user].status == "online"
    gone = run(slow.disconnected(TENANT, user))
    assert gone is not None
    assert gone.presence.status == "offline"


def test_sync_takes_back_a_stream_whose_close_was_never_written(replicas: Replicas) -> None:
    (store,) = replicas(1)
    user, other = uuid.uuid4(), uuid.uuid4()
    run(store.heartbeat())
    run(store.connected(TENANT, user))
    run(store.connected(TENANT, other))
    # The replica counts none of `user`'s streams any more (a close Redis missed).
    changes = run(store.sync({(TENANT, other): 1}))
    assert [(c.presence.user_id, c.presence.status) for c in changes] == [(user, "offline")]
    assert run(store.sync({(TENANT, other): 1})) == []


def test_a_replica_leaving_takes_its_streams_back_at_once(replicas: Replicas) -> None:
    leaving, staying = replicas(2)
    user = uuid.uuid4()
    run(leaving.heartbeat())
    run(leaving.connected(TENANT, user))
    gone = run(leaving.leave())
    assert statuses(gone) == ["offline"]
    assert run(staying.read(TENANT, [user]))[user].status == "offline"
