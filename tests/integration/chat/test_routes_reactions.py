"""Reactions, on SQLite and on PostgreSQL (docs/api.md "Threads, reactions, mentions"):
idempotent PUT and DELETE, `me` per reader, counts exact under races, the 50-emoji limit,
and emoji validated as one Unicode emoji sequence or a shortcode."""

from __future__ import annotations

import asyncio

import httpx

from support.chat import ChatApi
from support.chat_inputs import Scene
from support.chat_routes import delete, react, reaction_path, reactions_of
from support.problems import case, invalid, problem

RACERS = 20
GOOD_EMOJI = (
    "\U0001f44d",  # thumbs up
    "\U0001f44d\U0001f3fd",  # with a skin tone
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",  # family: ZWJ sequence
    "\U0001f3f3\ufe0f\u200d\U0001f308",  # rainbow flag
    "\U0001f1fa\U0001f1e6",  # a flag: two regional indicators
    "#\ufe0f\u20e3",  # keycap
    "\u2764\ufe0f",  # red heart, fully qualified
    ":thumbs_up:",
    ":+1:",
    ":party-parrot_2:",
)
BAD_EMOJI = (
    "a",
    "ab",
    "\U0001f44d\U0001f44d",  # two emoji
    "\U0001f44d ",
    " \U0001f44d",
    "\U0001f3fd",  # a skin tone alone is a component, not an emoji
    "\U0001f1fa",  # one regional indicator
    "\u200d",
    "\ufe0f",
    "\U0001f44d\u200d",
    "::",
    ":UPPER:",
    ":a b:",
    ":" + "x" * 31 + ":",
    ":thumbs_up",
    "thumbs_up:",
    ":thumbs_up:\n",
    "\x00",
    "\u202e",
    "\U0001f600" * 40,
    "%",
)


def test_adding_a_reaction_is_204_and_idempotent_with_me_per_reader(
    chats: ChatApi, scene: Scene
) -> None:
    thumbs = "\U0001f44d"
    for _ in range(2):
        response = react(chats, scene.bob, scene.chat_id, 1, thumbs)
        assert (response.status_code, response.content) == (204, b"")
    assert reactions_of(chats, scene.bob, scene.chat_id, 1) == [
        {"emoji": thumbs, "count": 1, "me": True}
    ]
    assert reactions_of(chats, scene.alice, scene.chat_id, 1) == [
        {"emoji": thumbs, "count": 1, "me": False}
    ]
    assert react(chats, scene.alice, scene.chat_id, 1, thumbs).status_code == 204
    assert react(chats, scene.alice, scene.chat_id, 1, ":tada:").status_code == 204
    assert reactions_of(chats, scene.alice, scene.chat_id, 1) == [
        {"emoji": thumbs, "count": 2, "me": True},
        {"emoji": ":tada:", "count": 1, "me": True},
    ]
    for _ in range(2):
        assert react(chats, scene.bob, scene.chat_id, 1, thumbs, remove=True).status_code == 204
    assert reactions_of(chats, scene.bob, scene.chat_id, 1) == [
        {"emoji": thumbs, "count": 1, "me": False},
        {"emoji": ":tada:", "count": 1, "me": False},
    ]


def test_every_kind_of_emoji_sequence_and_shortcode_is_taken(chats: ChatApi, scene: Scene) -> None:
    for emoji in GOOD_EMOJI:
        with case(emoji):
            assert react(chats, scene.bob, scene.chat_id, 1, emoji).status_code == 204
    got = [r["emoji"] for r in reactions_of(chats, scene.bob, scene.chat_id, 1)]
    assert got == list(GOOD_EMOJI)


def test_an_emoji_without_its_variation_selector_is_the_same_reaction(
    chats: ChatApi, scene: Scene
) -> None:
    assert react(chats, scene.alice, scene.chat_id, 1, "\u2764").status_code == 204
    assert react(chats, scene.bob, scene.chat_id, 1, "\u2764\ufe0f").status_code == 204
    assert reactions_of(chats, scene.bob, scene.chat_id, 1) == [
        {"emoji": "\u2764\ufe0f", "count": 2, "me": True}
    ]


def test_a_bad_emoji_is_a_422_naming_emoji(chats: ChatApi, scene: Scene) -> None:
    for emoji in BAD_EMOJI:
        for remove in (False, True):
            with case(emoji, remove):
                invalid(react(chats, scene.bob, scene.chat_id, 1, emoji, remove=remove), "emoji")
    assert reactions_of(chats, scene.bob, scene.chat_id, 1) == []


def test_undecodable_bytes_in_the_emoji_segment_are_a_4xx(chats: ChatApi, scene: Scene) -> None:
    base = f"/v1/chats/{scene.chat_id}/messages/1/reactions/"
    for raw in ("%ff", "%ED%A0%80", "%C0%80", "%F0%9F", "%00", "%2F", "a%2Fb", "%25"):
        with case(raw):
            problem(chats.http.put(base + raw, headers=scene.bob.headers), 404, 405, 422)


def test_a_missing_or_deleted_message_and_a_non_member_get_404(
    chats: ChatApi, scene: Scene
) -> None:
    thumbs = "\U0001f44d"
    assert react(chats, scene.bob, scene.chat_id, 1, thumbs).status_code == 204
    for remove in (False, True):
        problem(react(chats, scene.bob, scene.chat_id, 2, thumbs, remove=remove), 404)
        problem(react(chats, scene.carol, scene.chat_id, 1, thumbs, remove=remove), 404)
    assert delete(chats, scene.alice, scene.chat_id, 1).status_code == 204
    for remove in (False, True):
        problem(react(chats, scene.bob, scene.chat_id, 1, thumbs, remove=remove), 404)
    (message,) = chats.history(scene.bob, scene.chat_id)["messages"]
    assert message["reactions"] == []


def test_a_fifty_first_different_emoji_is_a_422_but_more_of_the_same_are_fine(
    chats: ChatApi, scene: Scene
) -> None:
    fifty = [f":e{n}:" for n in range(50)]
    for emoji in fifty:
        assert react(chats, scene.bob, scene.chat_id, 1, emoji).status_code == 204
    invalid(react(chats, scene.bob, scene.chat_id, 1, ":e50:"), "emoji")
    invalid(react(chats, scene.alice, scene.chat_id, 1, "\U0001f44d"), "emoji")
    assert react(chats, scene.alice, scene.chat_id, 1, ":e0:").status_code == 204
    assert len(reactions_of(chats, scene.bob, scene.chat_id, 1)) == 50
    # Removing one makes room for another.
    assert react(chats, scene.bob, scene.chat_id, 1, ":e49:", remove=True).status_code == 204
    assert react(chats, scene.bob, scene.chat_id, 1, ":e50:").status_code == 204


def test_twenty_users_adding_and_then_removing_the_same_emoji_at_once_count_exactly(
    chats: ChatApi,
) -> None:
    users = chats.users(RACERS)
    chat_id = chats.group(users[0], *users[1:])["id"]
    chats.send(users[0], chat_id, "react to me")
    path = reaction_path(chat_id, 1, "\U0001f525")

    async def race(method: str) -> list[int]:
        async with httpx.AsyncClient(base_url=chats.url, timeout=60) as http:
            responses = await asyncio.gather(
                *(http.request(method, path, headers=user.headers) for user in users)
            )
        return [response.status_code for response in responses]

    assert asyncio.run(race("PUT")) == [204] * RACERS
    assert reactions_of(chats, users[3], chat_id, 1) == [
        {"emoji": "\U0001f525", "count": RACERS, "me": True}
    ]
    assert asyncio.run(race("DELETE")) == [204] * RACERS
    assert reactions_of(chats, users[3], chat_id, 1) == []
