"""The parsing rules of mentions and reaction emoji (parley_chat.domain.mentions and
.reactions), without a database."""

from __future__ import annotations

import uuid

import emoji as unicode_emoji
import pytest

from parley_chat.domain import mentions, reactions
from parley_core.errors import InvalidField

ALICE, BOB, DOT = uuid.UUID(int=1), uuid.UUID(int=2), uuid.UUID(int=3)
MEMBERS = {"alice": ALICE, "bob.b": BOB, "dot.": DOT}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("hi @alice", [ALICE]),
        ("@ALICE and @Bob.B", [ALICE, BOB]),
        ("@bob.b, then @alice, then @bob.b again", [BOB, ALICE]),
        ("end of a sentence: @alice.", [ALICE]),
        ("a name that ends in a dot: @dot.", [DOT]),
        ("(@alice)", [ALICE]),
        ("mail alice@example.com or x@alice", []),
        ("@alice-and-more @alicé @@alice", []),
        ("@al @" + "a" * 33, []),
        ("no mention at all", []),
    ],
)
def test_a_mention_is_an_at_word_naming_a_member(body: str, expected: list[uuid.UUID]) -> None:
    assert mentions.pick(body, MEMBERS) == expected


def test_every_emoji_of_unicodes_list_but_a_lone_component_is_taken_fully_qualified() -> None:
    component = unicode_emoji.STATUS["component"]
    qualified = unicode_emoji.STATUS["fully_qualified"]
    for text, data in unicode_emoji.EMOJI_DATA.items():
        if data["status"] == component:
            with pytest.raises(InvalidField):
                reactions.parse_emoji(text)
            continue
        stored = reactions.parse_emoji(text)
        assert unicode_emoji.EMOJI_DATA[stored]["status"] == qualified, text
        if data["status"] == qualified:
            assert stored == text


@pytest.mark.parametrize("text", [":tada:", ":+1:", ":a:", ":" + "x" * 30 + ":"])
def test_a_shortcode_is_taken_as_it_is(text: str) -> None:
    assert reactions.parse_emoji(text) == text


@pytest.mark.parametrize(
    "text", ["", "a", "::", ":Tada:", ":" + "x" * 31 + ":", "\U0001f44d\U0001f44d", "\ud800"]
)
def test_anything_else_is_refused_naming_emoji(text: str) -> None:
    with pytest.raises(InvalidField) as refused:
        reactions.parse_emoji(text)
    assert refused.value.field == "emoji"
