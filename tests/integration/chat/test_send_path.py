"""The send path on PostgreSQL, where it is one statement (storage/queries.py `append`):
what it promises beyond what the HTTP tests see, checked on the domain directly."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from parley_chat.domain import errors
from support.chat_domain import Run, Scene, runner_for


@pytest.fixture
def run() -> Iterator[Run[object]]:
    from support import services

    url = services.create_postgres_database()
    try:
        yield runner_for(url)
    finally:
        services.drop_postgres_database(url)


def test_a_send_takes_the_next_seq_and_moves_only_the_senders_read_marker(
    run: Run[None],
) -> None:
    async def body(scene: Scene) -> None:
        ann, bob = scene.user("ann"), scene.user("bob")
        chat, _ = await scene.chats.create_chat(ann, kind="group", title="t", usernames=["bob"])
        for n in range(1, 4):
            sent, created = await scene.chats.send(ann, chat.id, body=f"m{n}", client_msg_id=None)
            assert (sent.seq, created) == (n, True)
        await scene.chats.send(bob, chat.id, body="reply", client_msg_id=None)
        assert (await scene.chats.get_chat(ann, chat.id)).unread == 1
        assert (await scene.chats.get_chat(bob, chat.id)).last_read_seq == 4
        page = await scene.chats.history(ann, chat.id, after_seq=0, before_seq=None, limit=10)
        assert [(m.seq, m.body, m.sender_username) for m in page.messages] == [
            (1, "m1", "ann"),
            (2, "m2", "ann"),
            (3, "m3", "ann"),
            (4, "reply", "bob"),
        ]
        assert scene.published.kinds().count("message") == 4

    run(body)


def test_a_repeated_client_msg_id_gets_the_first_message_and_leaves_no_gap(
    run: Run[None],
) -> None:
    async def body(scene: Scene) -> None:
        ann = scene.user("ann")
        chat, _ = await scene.chats.create_chat(ann, kind="group", title="t", usernames=[])
        first, _ = await scene.chats.send(ann, chat.id, body="once", client_msg_id="c-1")
        again, created = await scene.chats.send(ann, chat.id, body="twice", client_msg_id="c-1")
        after, _ = await scene.chats.send(ann, chat.id, body="next", client_msg_id=None)
        assert (again.id, again.seq, again.body, created) == (first.id, 1, "once", False)
        assert after.seq == 2

    run(body)


def test_a_send_by_someone_outside_the_chat_stores_nothing(run: Run[None]) -> None:
    async def body(scene: Scene) -> None:
        ann, eve = scene.user("ann"), scene.user("eve")
        chat, _ = await scene.chats.create_chat(ann, kind="group", title="t", usernames=[])
        with pytest.raises(errors.ChatNotFound):
            await scene.chats.send(eve, chat.id, body="hi", client_msg_id=None)
        with pytest.raises(errors.ChatNotFound):
            await scene.chats.send(ann, uuid.uuid4(), body="hi", client_msg_id=None)
        assert (await scene.chats.get_chat(ann, chat.id)).last_seq == 0

    run(body)


def test_the_send_statement_is_prepared_on_its_connection_after_a_few_sends(
    run: Run[None],
) -> None:
    async def body(scene: Scene) -> None:
        ann = scene.user("ann")
        chat, _ = await scene.chats.create_chat(ann, kind="group", title="t", usernames=[])
        # One send at a time: the pool hands out the one connection it has each time.
        for n in range(8):
            await scene.chats.send(ann, chat.id, body=f"m{n}", client_msg_id=None)
        async with scene.chats.sessions() as session:
            prepared = await (await session.connection()).execute(
                sa.text(
                    "SELECT count(*) FROM pg_prepared_statements"
                    " WHERE statement LIKE '%WITH counter AS%'"
                )
            )
            assert prepared.scalar_one() == 1

    run(body)
