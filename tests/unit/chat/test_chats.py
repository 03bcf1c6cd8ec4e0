"""parley_chat.domain.chats: opening chats, a pair's one direct chat, and titles."""

from __future__ import annotations

import pytest

from parley_chat.domain import errors
from parley_core.errors import InvalidField
from support.chat_domain import Run, Scene


def test_the_creator_owns_a_new_group_and_everyone_named_is_a_member(run: Run[None]) -> None:
    async def body(scene: Scene) -> None:
        alice, bob = scene.user("alice"), scene.user("bobby")
        chat, created = await scene.chats.create_chat(
            alice, kind="group", title="Plans", usernames=["bobby", "alice"]
        )
        assert created
        assert chat.title == "Plans"
        assert {(m.username, m.role) for m in chat.members} == {
            ("alice", "owner"),
            ("bobby", "member"),
        }
        assert (await scene.chats.get_chat(bob, chat.id)).id == chat.id
        assert scene.published.kinds() == ["member.joined", "member.joined"]

    run(body)


def test_a_pair_has_one_direct_chat_whoever_opens_it(run: Run[None]) -> None:
    async def body(scene: Scene) -> None:
        alice, bob = scene.user("alice"), scene.user("bobby")
        first, created = await scene.chats.create_chat(
            alice, kind="direct", title=None, usernames=["bobby"]
        )
        again, created_again = await scene.chats.create_chat(
            bob, kind="direct", title=None, usernames=["alice"]
        )
        assert created
        assert not created_again
        assert again.id == first.id

    run(body)


def test_a_direct_chat_names_exactly_one_other_user(run: Run[None]) -> None:
    async def body(scene: Scene) -> None:
        alice = scene.user("alice")
        scene.user("bobby")
        scene.user("carol")
        for usernames in (["alice"], ["bobby", "carol"]):
            with pytest.raises(InvalidField) as refused:
                await scene.chats.create_chat(alice, kind="direct", title=None, usernames=usernames)
            assert refused.value.field == "members"

    run(body)


def test_reopening_a_direct_chat_one_of_the_pair_left_brings_them_back(run: Run[None]) -> None:
    async def body(scene: Scene) -> None:
        alice, bob = scene.user("alice"), scene.user("bobby")
        chat, _ = await scene.chats.create_chat(
            alice, kind="direct", title=None, usernames=["bobby"]
        )
        await scene.chats.remove_member(bob, chat.id, "bobby")
        again, created = await scene.chats.create_chat(
            alice, kind="direct", title=None, usernames=["bobby"]
        )
        assert not created
        assert again.id == chat.id
        assert {m.username for m in again.members} == {"alice", "bobby"}

    run(body)


def test_unknown_usernames_are_named_and_no_chat_is_made(run: Run[None]) -> None:
    async def body(scene: Scene) -> None:
        alice = scene.user("alice")
        with pytest.raises(errors.UnknownUsers):
            await scene.chats.create_chat(alice, kind="group", title="x", usernames=["ghost"])
        assert (await scene.chats.list_chats(alice)).chats == []

    run(body)


@pytest.mark.parametrize("title", ["", "   ", "two\nlines", "tab\there", "\u202eevil", "\u200b"])
def test_a_title_must_be_one_visible_line(run: Run[None], title: str) -> None:
    async def body(scene: Scene) -> None:
        with pytest.raises(InvalidField) as refused:
            await scene.chats.create_chat(
                scene.user("alice"), kind="group", title=title, usernames=[]
            )
        assert refused.value.field == "title"

    run(body)


def test_the_chat_list_pages_by_cursor_most_recent_activity_first(run: Run[None]) -> None:
    async def body(scene: Scene) -> None:
        alice = scene.user("alice")
        made = []
        for title in ("one", "two", "three"):
            chat, _ = await scene.chats.create_chat(alice, kind="group", title=title, usernames=[])
            made.append(chat.id)
        await scene.chats.send(alice, made[0], body="bump", client_msg_id=None)
        first = await scene.chats.list_chats(alice, limit=2)
        assert first.next_cursor is not None
        rest = await scene.chats.list_chats(alice, limit=2, cursor=first.next_cursor)
        assert rest.next_cursor is None
        listed = [chat.id for chat in first.chats + rest.chats]
        assert listed == [made[0], made[2], made[1]]

    run(body)


def test_a_cursor_this_server_did_not_give_is_refused(run: Run[None]) -> None:
    async def body(scene: Scene) -> None:
        with pytest.raises(InvalidField) as refused:
            await scene.chats.list_chats(scene.user("alice"), limit=2, cursor="bm9wZQ")
        assert refused.value.field == "cursor"

    run(body)
