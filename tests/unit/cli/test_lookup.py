"""parley_cli.lookup: naming a chat by id, id prefix or title."""

from __future__ import annotations

from typing import cast

import pytest

from parley_cli import api, lookup
from parley_cli.errors import ApiError, UsageError


def _chat(chat_id: str, title: str | None, kind: str = "group", *members: str) -> api.Chat:
    return cast(
        api.Chat,
        {
            "id": chat_id,
            "kind": kind,
            "title": title,
            "members": [{"username": name} for name in ("alice", *members)],
        },
    )


LUNCH = _chat("3b34ff38-cb08-4f9e-ad31-c7df8e4e4b25", "Lunch")
OPS = _chat("3b99aa00-0000-4000-8000-000000000000", "ops")
BOB = _chat("8a50a08a-49b3-49b6-ab42-e5a6de125f99", None, "direct", "bob")
CHATS = [LUNCH, OPS, BOB]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("3b34ff38-cb08-4f9e-ad31-c7df8e4e4b25", LUNCH),
        ("3B34FF38-CB08-4F9E-AD31-C7DF8E4E4B25", LUNCH),
        ("3b34", LUNCH),
        ("Lunch", LUNCH),
        ("ops", OPS),
        ("@bob", BOB),
        ("8a5", BOB),
    ],
)
def test_a_chat_is_found_by_id_unique_prefix_or_exact_title(query: str, expected: api.Chat) -> None:
    assert lookup.match(query, CHATS, "alice") is expected


def test_a_prefix_shared_by_two_chats_is_ambiguous_and_names_them() -> None:
    with pytest.raises(
        ApiError, match=r"'3b' matches 2 chats: Lunch \(3b34ff38\), ops \(3b99aa00\)"
    ):
        lookup.match("3b", CHATS, "alice")


def test_titles_match_exactly_not_by_prefix_or_case() -> None:
    for query in ("Lun", "lunch"):
        with pytest.raises(ApiError, match="no chat matches"):
            lookup.match(query, CHATS, "alice")


def test_two_chats_with_the_same_title_must_be_told_apart_by_id() -> None:
    twin = _chat("77777777-0000-4000-8000-000000000000", "Lunch")
    with pytest.raises(ApiError, match="matches 2 chats"):
        lookup.match("Lunch", [LUNCH, twin], "alice")
    assert lookup.match("7777", [LUNCH, twin], "alice") is twin


def test_an_empty_chat_name_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        lookup.match(" ", CHATS, "alice")
