"""parley_chat.domain.feed and the outbox writes (storage/feed.py), on SQLite: which
changes write which events, that a rollback writes none and leaves no gap, the cursor's
rules and retention."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from unittest.mock import ANY

import pytest
import sqlalchemy as sa

from parley_chat.domain import events, feed
from parley_chat.realtime import presence_store, wire
from parley_core.db import utcnow
from parley_core.errors import DependencyUnavailable, InvalidField
from support.chat_domain import TENANT, Run, Scene
from support.problems import case


class NoWakeups:
    @asynccontextmanager
    async def listening(self, tenant: str) -> AsyncIterator[feed.Wait]:
        async def wait(timeout: float) -> None:
            return None

        yield wait


def _feed(scene: Scene, *, retention_seconds: float = 604_800) -> feed.Feed:
    return feed.Feed(
        sessions=scene.chats.sessions,
        presence=presence_store.MemoryPresence(),
        wakeups=NoWakeups(),
        retention_seconds=retention_seconds,
    )


def _position(cursor: str) -> int:
    return int(base64.urlsafe_b64decode(cursor + "==").decode().rpartition("/")[2])


def test_a_cursor_names_a_position_of_its_own_tenant_only() -> None:
    assert feed.read_cursor(feed.cursor_of("acme", 42), tenant="acme") == 42
    for cursor in (
        feed.cursor_of("other", 42),
        feed.cursor_of("acme", -1),
        "",
        "////",
        "é",
        base64.urlsafe_b64encode(b"acme/1" + b"0" * 30).decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ):
        with case(cursor), pytest.raises(InvalidField):
            feed.read_cursor(cursor, tenant="acme")


def test_each_change_writes_its_frame_and_a_rollback_writes_nothing_and_leaves_no_gap(
    run: Run[None],
) -> None:
    async def body(scene: Scene) -> None:
        alice, bob = scene.user("alice"), scene.user("bob")
        chat, _ = await scene.chats.create_chat(alice, kind="group", title="t", usernames=["bob"])
        sent, _ = await scene.chats.send(alice, chat.id, body="one", client_msg_id=None)
        with pytest.raises(InvalidField):
            # A reply to a message that is itself no root: the whole send rolls back.
            await scene.chats.send(alice, chat.id, body="two", client_msg_id=None, reply_to=99)
        await scene.chats.react(bob, chat.id, sent.seq, "👍", add=True)
        await scene.chats.react(bob, chat.id, sent.seq, "👍", add=True)  # a repeat: nothing

        page = await _feed(scene).read(tenant=TENANT, after=None, limit=100)

        assert [event.type for event in page.events] == [
            "member.joined",
            "member.joined",
            "message",
            "reaction",
        ]
        positions = [_position(event.cursor) for event in page.events]
        assert positions == [1, 2, 3, 4]
        # `data` is the frame the stream published, with the feed's one addition.
        (published,) = [e for e in scene.published.events if isinstance(e, events.MessageEvent)]
        framed = json.loads(wire.frame_of(published))
        assert {**framed, "offline_member_ids": ANY} == page.events[2].data
        assert sorted(page.events[2].data["offline_member_ids"]) == sorted(
            [str(alice.user_id), str(bob.user_id)]
        )
        assert page.events[3].data == {
            "chat_id": str(chat.id),
            "seq": sent.seq,
            "emoji": "👍",
            "user_id": str(bob.user_id),
            "op": "add",
            "count": 1,
            "type": "reaction",
        }

    run(body)


def test_retention_deletes_the_oldest_stretch_and_an_older_cursor_is_gone(
    run: Run[None],
) -> None:
    async def body(scene: Scene) -> None:
        alice = scene.user("alice")
        chat, _ = await scene.chats.create_chat(alice, kind="group", title="t", usernames=[])
        for text in ("a", "b", "c"):
            await scene.chats.send(alice, chat.id, body=text, client_msg_id=None)
        reader = _feed(scene, retention_seconds=3600)
        async with scene.chats.sessions() as session, session.begin():
            # Positions 1 and 3 are old, 2 is not: the whole stretch up to 3 goes.
            for position in (1, 3):
                await (await session.connection()).execute(
                    sa.text("UPDATE events SET occurred_at = :at WHERE position = :position"),
                    {"at": utcnow() - timedelta(hours=2), "position": position},
                )

        assert await reader.purge_expired() == 3

        page = await reader.read(tenant=TENANT, after=None, limit=10)
        assert [_position(event.cursor) for event in page.events] == [4]
        assert (await reader.read(tenant=TENANT, after=feed.cursor_of(TENANT, 3), limit=10)).events
        with pytest.raises(feed.CursorExpired):
            await reader.read(tenant=TENANT, after=feed.cursor_of(TENANT, 2), limit=10)
        with pytest.raises(InvalidField):
            await reader.read(tenant=TENANT, after=feed.cursor_of(TENANT, 5), limit=10)

    run(body)


def test_an_empty_feed_reads_empty_with_a_cursor_to_go_on_from(run: Run[None]) -> None:
    async def body(scene: Scene) -> None:
        page = await _feed(scene).read(tenant=TENANT, after=None, limit=10)
        assert page.events == []
        again = await _feed(scene).read(tenant=TENANT, after=page.cursor, limit=10, wait=0.1)
        assert again.events == []
        assert again.cursor == page.cursor

    run(body)


class DownPresence:
    async def read(self, tenant: str, user_ids: object) -> dict[object, object]:
        raise DependencyUnavailable("redis")


def test_while_presence_is_unknown_every_member_counts_as_offline(run: Run[None]) -> None:
    async def body(scene: Scene) -> None:
        alice, bob = scene.user("alice"), scene.user("bob")
        chat, _ = await scene.chats.create_chat(alice, kind="group", title="t", usernames=["bob"])
        await scene.chats.send(alice, chat.id, body="anyone?", client_msg_id=None)
        reader = feed.Feed(
            sessions=scene.chats.sessions,
            presence=DownPresence(),  # type: ignore[arg-type]
            wakeups=NoWakeups(),
            retention_seconds=60,
        )

        page = await reader.read(tenant=TENANT, after=None, limit=10)

        assert sorted(page.events[-1].data["offline_member_ids"]) == sorted(
            [str(alice.user_id), str(bob.user_id)]
        )

    run(body)
