"""parley_chat.domain.messages: the log's numbering, repeats, edits, deletions, read
markers and what a body may hold."""

from __future__ import annotations

import uuid

import pytest

from parley_chat.domain import errors
from parley_chat.domain.views import Caller
from parley_core.errors import InvalidField
from support.chat_domain import Run, Scene


async def _group(scene: Scene, *others: str) -> tuple[Caller, uuid.UUID]:
    alice = scene.user("alice")
    for name in others:
        scene.user(name)
    chat, _ = await scene.chats.create_chat(alice, kind="group", title="x", usernames=list(others))
    return alice, chat.id


def test_each_message_takes_the_next_seq_of_its_chat(run: Run[None]) -> None:
    async def body(scene: Scene) -> None:
        alice, chat_id = await _group(scene)
        _, other_chat = await _group(scene)
        seqs = [
            (await scene.chats.send(alice, chat_id, body=f"m{i}", client_msg_id=None))[0].seq
            for i in range(3)
        ]
        elsewhere, _ = await scene.chats.send(alice, other_chat, body="m", client_msg_id=None)
        assert seqs == [1, 2, 3]
        assert elsewhere.seq == 1
        assert (await scene.chats.get_chat(alice, chat_id)).last_seq == 3

    run(body)


def test_a_repeated_client_msg_id_returns_the_first_message_without_a_new_seq(
    run: Run[None],
) -> None:
    async def body(scene: Scene) -> None:
        alice, chat_id = await _group(scene)
        first, created = await scene.chats.send(alice, chat_id, body="hi", client_msg_id="c1")
        again, created_again = await scene.chats.send(alice, chat_id, body="hi", client_msg_id="c1")
        assert created
        assert not created_again
        assert again == first
        assert (await scene.chats.get_chat(alice, chat_id)).last_seq == 1
        assert scene.published.kinds().count("message") == 1

    run(body)


def test_history_pages_in_ascending_seq_from_either_end(run: Run[None]) -> None:
    async def body(scene: Scene) -> None:
        alice, chat_id = await _group(scene)
        for i in range(5):
            await scene.chats.send(alice, chat_id, body=f"m{i}", client_msg_id=None)
        latest = await scene.chats.history(alice, chat_id, after_seq=None, before_seq=None, limit=2)
        assert ([m.seq for m in latest.messages], latest.has_more) == ([4, 5], True)
        after = await scene.chats.history(alice, chat_id, after_seq=3, before_seq=None, limit=10)
        assert ([m.seq for m in after.messages], after.has_more) == ([4, 5], False)
        with pytest.raises(InvalidField):
            await scene.chats.history(alice, chat_id, after_seq=1, before_seq=3, limit=10)

    run(body)


def test_only_the_sender_edits_or_deletes_a_message(run: Run[None]) -> None:
    async def body(scene: Scene) -> None:
        alice, chat_id = await _group(scene, "bobby")
        bob = scene.user("bobby")
        sent, _ = await scene.chats.send(alice, chat_id, body="mine", client_msg_id=None)
        with pytest.raises(errors.NotSender):
            await scene.chats.edit(bob, chat_id, sent.seq, body="yours now")
        with pytest.raises(errors.NotSender):
            await scene.chats.delete_message(bob, chat_id, sent.seq)
        edited = await scene.chats.edit(alice, chat_id, sent.seq, body="still mine")
        assert (edited.body, edited.seq) == ("still mine", sent.seq)
        assert edited.edited_at is not None
        with pytest.raises(errors.MessageNotFound):
            await scene.chats.edit(alice, chat_id, 99, body="nothing there")

    run(body)


def test_a_deleted_message_keeps_its_seq_with_an_empty_body_and_cannot_be_edited(
    run: Run[None],
) -> None:
    async def body(scene: Scene) -> None:
        alice, chat_id = await _group(scene)
        sent, _ = await scene.chats.send(alice, chat_id, body="oops", client_msg_id=None)
        deleted = await scene.chats.delete_message(alice, chat_id, sent.seq)
        assert (deleted.seq, deleted.body, deleted.deleted) == (sent.seq, "", True)
        assert await scene.chats.delete_message(alice, chat_id, sent.seq) == deleted
        with pytest.raises(errors.MessageNotFound):
            await scene.chats.edit(alice, chat_id, sent.seq, body="back")
        page = await scene.chats.history(alice, chat_id, after_seq=0, before_seq=None, limit=10)
        assert [(m.seq, m.body, m.deleted) for m in page.messages] == [(1, "", True)]
        assert scene.published.kinds().count("message.updated") == 1

    run(body)


def test_unread_counts_what_others_sent_after_the_read_marker(run: Run[None]) -> None:
    async def body(scene: Scene) -> None:
        alice, chat_id = await _group(scene, "bobby")
        bob = scene.user("bobby")
        for i in range(3):
            await scene.chats.send(alice, chat_id, body=f"m{i}", client_msg_id=None)
        assert (await scene.chats.get_chat(alice, chat_id)).unread == 0
        assert (await scene.chats.get_chat(bob, chat_id)).unread == 3
        await scene.chats.mark_read(bob, chat_id, 2)
        await scene.chats.mark_read(bob, chat_id, 1)  # a marker never moves back
        assert (await scene.chats.get_chat(bob, chat_id)).unread == 1
        with pytest.raises(InvalidField) as refused:
            await scene.chats.mark_read(bob, chat_id, 4)
        assert refused.value.field == "seq"

    run(body)


@pytest.mark.parametrize("text", ["two\nlines", "tab\tand\r\nbreaks", "\u05e9\u200f!"])
def test_a_body_may_hold_line_breaks_tabs_and_direction_marks(run: Run[None], text: str) -> None:
    async def body(scene: Scene) -> None:
        alice, chat_id = await _group(scene)
        sent, _ = await scene.chats.send(alice, chat_id, body=text, client_msg_id=None)
        assert sent.body == text

    run(body)


@pytest.mark.parametrize("text", ["", " \n\t", "\u200b", "nul\x00", "esc\x1b[2J", "x" * 4001])
def test_a_body_that_is_empty_invisible_controlled_or_too_long_is_refused(
    run: Run[None], text: str
) -> None:
    async def body(scene: Scene) -> None:
        alice, chat_id = await _group(scene)
        sent, _ = await scene.chats.send(alice, chat_id, body="ok", client_msg_id=None)
        with pytest.raises(InvalidField) as refused:
            await scene.chats.send(alice, chat_id, body=text, client_msg_id=None)
        assert refused.value.field == "body"
        with pytest.raises(InvalidField) as refused:
            await scene.chats.edit(alice, chat_id, sent.seq, body=text)
        assert refused.value.field == "body"

    run(body)


def test_a_client_msg_id_with_a_control_character_is_refused(run: Run[None]) -> None:
    async def body(scene: Scene) -> None:
        alice, chat_id = await _group(scene)
        with pytest.raises(InvalidField) as refused:
            await scene.chats.send(alice, chat_id, body="hi", client_msg_id="id\x00")
        assert refused.value.field == "client_msg_id"

    run(body)
