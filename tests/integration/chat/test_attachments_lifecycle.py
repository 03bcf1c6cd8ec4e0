"""docs/api.md "Attachments": files that go (uploads never sent, deleted messages, purged
tenants), deleted by a sweep that two replicas race for under one lease row; and a large
upload through chat's own store that never sits whole in memory."""

from __future__ import annotations

import asyncio
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from parley_chat import app as chat_app
from parley_chat import metrics
from parley_chat.storage import attachments as attachment_rows
from parley_core import db
from parley_core.db import utcnow
from support import chat
from support.attachments import Files, Store, local_store
from support.auth import AuthApi
from support.chat import ChatApi
from support.problems import case
from support.servers import ServedApp

SWEEP_SECONDS = 0.2
UNSENT_SECONDS = 2


@pytest.fixture
def replicas(
    store: Store, database_url: str, auth_server: str, tmp_path: Path
) -> Iterator[list[str]]:
    """Two chat replicas on one database and one store, sweeping often."""
    overrides = {
        **store.overrides,
        "attachments": {
            **store.overrides.get("attachments", {}),
            "sweep_seconds": SWEEP_SECONDS,
            "unsent_seconds": UNSENT_SECONDS,
        },
    }
    settings = [
        chat.settings(tmp_path / name, database_url, auth_server, **overrides)
        for name in ("one", "two")
    ]
    with (
        ServedApp(chat_app.create_app(settings[0])) as one,
        ServedApp(chat_app.create_app(settings[1])) as two,
    ):
        yield [one.url, two.url]


@pytest.fixture
def chats(replicas: list[str], api: AuthApi, database_url: str) -> Iterator[ChatApi]:
    client = ChatApi(replicas[0], api)
    try:
        yield client
    finally:
        client.close()
        chat.truncate(database_url)


def deleted(reason: str) -> float:
    value: float = metrics.ATTACHMENTS_DELETED.labels(reason=reason)._value.get()
    return value


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_sweep_deletes_unsent_uploads_and_files_of_deleted_messages_and_purged_tenants(
    chats: ChatApi, store: Store
) -> None:
    before = {reason: deleted(reason) for reason in metrics.ATTACHMENT_DELETION_REASONS}
    files = Files(chats)
    alice, bob = chats.users(2)
    kept_user = chats.user()
    room = chats.group(alice, bob)
    unsent = files.upload(kept_user)  # another tenant's: the purge would take alice's
    in_deleted = files.upload(alice)
    seq = files.send(alice, room["id"], [in_deleted]).json()["seq"]
    removed = chats.http.delete(f"/v1/chats/{room['id']}/messages/{seq}", headers=alice.headers)
    assert removed.status_code == 204
    of_purged = files.upload(alice)
    assert files.send(alice, room["id"], [of_purged]).status_code == 201
    kept_room = chats.group(kept_user)
    kept = files.upload(kept_user)
    assert files.send(kept_user, kept_room["id"], [kept]).status_code == 201
    purge = chats.http.delete(f"/internal/v1/tenants/{alice.tenant}", headers=chats.admin)
    assert purge.status_code == 204

    for tenant, attachment in [
        (alice.tenant, in_deleted),
        (alice.tenant, of_purged),
        (kept_user.tenant, unsent),
    ]:
        with case(attachment):
            wait_for(lambda: not store.holds(tenant, attachment))  # noqa: B023
    # Both replicas swept all along, and each file was deleted and counted once.
    wait_for(
        lambda: (
            {reason: deleted(reason) - before[reason] for reason in before}
            == {"unsent": 1, "message_deleted": 1, "tenant_purged": 1}
        )
    )
    assert store.holds(kept_user.tenant, kept)
    assert files.fetch(kept_user, kept).status_code == 200
    files.close()


def test_two_replicas_racing_for_the_lease_never_both_hold_it(database_url: str) -> None:
    async def race() -> list[int]:
        engines = [db.create_engine(database_url) for _ in range(2)]
        sessions = [db.sessionmaker(engine) for engine in engines]
        winners = []
        try:
            for _ in range(20):
                name = f"test-{uuid.uuid4().hex[:8]}"

                async def take(index: int, name: str = name) -> bool:
                    async with sessions[index]() as session, session.begin():
                        return await attachment_rows.take_lease(
                            session,
                            name,
                            f"replica-{index}",
                            now=utcnow(),
                            until=utcnow() + timedelta(seconds=30),
                        )

                held = await asyncio.gather(take(0), take(1))
                winners.append(sum(held))
                # The holder renews; the other still cannot take it before it expires.
                assert await take(held.index(True)) is True
                assert await take(held.index(False)) is False
        finally:
            for engine in engines:
                await engine.dispose()
        return winners

    assert asyncio.run(race()) == [1] * 20


def test_an_expired_lease_passes_to_another_replica(database_url: str) -> None:
    async def hand_over() -> tuple[bool, bool, bool]:
        engine = db.create_engine(database_url)
        sessions = db.sessionmaker(engine)
        name = f"test-{uuid.uuid4().hex[:8]}"
        now = utcnow()
        try:
            async with sessions() as session, session.begin():
                first = await attachment_rows.take_lease(
                    session, name, "one", now=now, until=now + timedelta(seconds=1)
                )
            async with sessions() as session, session.begin():
                early = await attachment_rows.take_lease(
                    session, name, "two", now=now, until=now + timedelta(seconds=30)
                )
            later = now + timedelta(seconds=2)
            async with sessions() as session, session.begin():
                late = await attachment_rows.take_lease(
                    session, name, "two", now=later, until=later + timedelta(seconds=30)
                )
        finally:
            await engine.dispose()
        return first, early, late

    assert asyncio.run(hand_over()) == (True, False, True)


def test_a_100_mib_upload_through_the_local_store_never_holds_more_than_a_few_mib(
    api: AuthApi, auth_server: str, database_url: str, tmp_path: Path
) -> None:
    store = local_store(tmp_path / "files")
    settings = chat.settings(tmp_path / "chat", database_url, auth_server, **store.overrides)
    size = 100 * 1024 * 1024
    chunk = b"\x00" * 65_536
    with ServedApp(chat_app.create_app(settings)) as served:
        chats = ChatApi(served.url, api)
        files = Files(chats)
        try:
            (alice,) = chats.users(1, chats.tenant(limits={"max_attachment_bytes": size}))
            upload = files.declare(
                alice, size=size, filename="big.zip", content_type="application/zip"
            )
            # The server runs in this process: tracemalloc sees its allocations and the
            # client's (which sends one reused chunk), so the bound holds for both.
            tracemalloc.start()
            try:
                response = files.put(upload, (chunk for _ in range(size // len(chunk))))
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            assert response.status_code == 200, response.text
            assert peak < 16 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"
            assert store.directory is not None
            assert (store.directory / alice.tenant / upload["id"]).stat().st_size == size
            downloaded = 0
            with files.http.stream(
                "GET", f"{served.url}/v1/attachments/{upload['id']}", headers=alice.headers
            ) as stream:
                assert stream.status_code == 200
                for part in stream.iter_bytes():
                    downloaded += len(part)
            assert downloaded == size
        finally:
            files.close()
            chats.close()
            chat.truncate(database_url)
