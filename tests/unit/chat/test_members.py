"""parley_chat.domain.members: who may see a chat, add to it and leave it."""

from __future__ import annotations

import uuid

import pytest

from parley_chat.domain import errors
from support.chat_domain import Run, Scene


def test_a_chat_is_not_found_for_someone_outside_it(run: Run[None]) -> None:
    async def body(scene: Scene) -> None:
        alice, eve = scene.user("alice"), scene.user("eve01")
        chat, _ = await scene.chats.create_chat(alice, kind="group", title="x", usernames=[])
        with pytest.raises(errors.ChatNotFound):
            await scene.chats.get_chat(eve, chat.id)
        with pytest.raises(errors.ChatNotFound):
            await scene.chats.history(eve, chat.id, after_seq=None, before_seq=None, limit=10)
        with pytest.raises(errors.ChatNotFound):
            await scene.chats.send(eve, chat.id, body="hi", client_msg_id=None)
        with pytest.raises(errors.ChatNotFound):
            await scene.chats.add_member(eve, chat.id, "eve01")
        with pytest.raises(errors.ChatNotFound):
            await scene.chats.get_chat(alice, uuid.uuid4())

    run(body)


def test_only_the_owner_adds_members(run: Run[None]) -> None:
    async def body(scene: Scene) -> None:
        alice, bob = scene.user("alice"), scene.user("bobby")
        scene.user("carol")
        chat, _ = await scene.chats.create_chat(alice, kind="group", title="x", usernames=["bobby"])
        with pytest.raises(errors.NotOwner):
            await scene.chats.add_member(bob, chat.id, "carol")
        added = await scene.chats.add_member(alice, chat.id, "carol")
        assert (added.username, added.role) == ("carol", "member")

    run(body)


def test_a_newcomer_starts_with_nothing_unread(run: Run[None]) -> None:
    async def body(scene: Scene) -> None:
        alice, carol = scene.user("alice"), scene.user("carol")
        chat, _ = await scene.chats.create_chat(alice, kind="group", title="x", usernames=[])
        await scene.chats.send(alice, chat.id, body="before you came", client_msg_id=None)
        await scene.chats.add_member(alice, chat.id, "carol")
        seen = await scene.chats.get_chat(carol, chat.id)
        assert (seen.last_seq, seen.last_read_seq, seen.unread) == (1, 1, 0)

    run(body)


def test_adding_a_member_twice_is_a_conflict(run: Run[None]) -> None:
    async def body(scene: Scene) -> None:
        alice = scene.user("alice")
        scene.user("bobby")
        chat, _ = await scene.chats.create_chat(alice, kind="group", title="x", usernames=["bobby"])
        with pytest.raises(errors.AlreadyMember):
            await scene.chats.add_member(alice, chat.id, "bobby")

    run(body)


def test_nobody_is_added_to_a_direct_chat(run: Run[None]) -> None:
    async def body(scene: Scene) -> None:
        alice = scene.user("alice")
        scene.user("bobby")
        scene.user("carol")
        chat, _ = await scene.chats.create_chat(
            alice, kind="direct", title=None, usernames=["bobby"]
        )
        with pytest.raises(errors.DirectChatIsClosed):
            await scene.chats.add_member(alice, chat.id, "carol")

    run(body)


def test_a_member_removes_only_themselves(run: Run[None]) -> None:
    async def body(scene: Scene) -> None:
        alice, bob = scene.user("alice"), scene.user("bobby")
        scene.user("carol")
        chat, _ = await scene.chats.create_chat(
            alice, kind="group", title="x", usernames=["bobby", "carol"]
        )
        with pytest.raises(errors.NotOwner):
            await scene.chats.remove_member(bob, chat.id, "carol")
        await scene.chats.remove_member(bob, chat.id, "bobby")
        with pytest.raises(errors.ChatNotFound):
            await scene.chats.get_chat(bob, chat.id)
        with pytest.raises(errors.MemberNotFound):
            await scene.chats.remove_member(alice, chat.id, "bobby")
        assert scene.published.kinds()[-1] == "member.left"

    run(body)


def test_when_the_owner_leaves_the_longest_standing_member_becomes_owner(run: Run[None]) -> None:
    async def body(scene: Scene) -> None:
        alice, bob, carol = scene.user("alice"), scene.user("bobby"), scene.user("carol")
        chat, _ = await scene.chats.create_chat(alice, kind="group", title="x", usernames=["bobby"])
        await scene.chats.add_member(alice, chat.id, "carol")
        await scene.chats.remove_member(alice, chat.id, "alice")
        roles = {m.username: m.role for m in (await scene.chats.get_chat(carol, chat.id)).members}
        assert roles == {"bobby": "owner", "carol": "member"}
        await scene.chats.add_member(bob, chat.id, "alice")

    run(body)
