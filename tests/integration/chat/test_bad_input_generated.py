"""Generated message bodies, chat bodies and history queries: each is answered as
docs/api.md says, never with a 500."""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.chat import ChatApi
from support.chat_inputs import (
    BLANK_BODIES,
    C0_CONTROLS,
    DEFAULT_MAX_CHARS,
    FLOATS,
    HISTORY_PARAMS,
    MAX_SEQ,
    NOT_INTEGERS,
    ROUND_TRIP_BODIES,
    Scene,
    history,
    last_seq,
)
from support.problems import HYPOTHESIS, JSON_VALUES, invalid, not_a_server_error, problem

# -- generated input -----------------------------------------------------------------------

ODD_TEXT = st.text(max_size=60) | st.sampled_from(
    (*ROUND_TRIP_BODIES[:-1], *C0_CONTROLS, *BLANK_BODIES[:-1], "\x85", "\u200b", "\ufeff")
)


def has_controls(value: str) -> bool:
    """Control characters other than tab and line breaks, or lone surrogates."""
    return any(
        (unicodedata.category(char) == "Cc" and char not in "\t\n\r")
        or unicodedata.category(char) == "Cs"
        for char in value
    )


def is_message_body(value: Any) -> bool:
    """docs/api.md "Names": 1 to max_message_chars characters, not all white space (nor
    only invisible format characters such as U+200B); and no control characters but tab
    and line breaks."""
    return (
        isinstance(value, str)
        and any(not char.isspace() and unicodedata.category(char) != "Cf" for char in value)
        and len(value) <= DEFAULT_MAX_CHARS
        and not has_controls(value)
    )


@HYPOTHESIS
@given(body=ODD_TEXT | JSON_VALUES)
def test_any_json_value_as_a_message_body_is_a_201_or_a_422_naming_body(
    chats: ChatApi, scene: Scene, body: Any
) -> None:
    response = chats.http.post(scene.messages, json={"body": body}, headers=scene.alice.headers)
    not_a_server_error(response)
    if is_message_body(body):
        assert response.status_code == 201, response.text
        assert response.json()["body"] == body
    else:
        invalid(response, "body")


@HYPOTHESIS
@given(
    document=JSON_VALUES
    | st.fixed_dictionaries({"body": ODD_TEXT}, optional={"client_msg_id": JSON_VALUES})
)
def test_any_json_document_sent_as_a_message_is_answered_without_a_server_error(
    chats: ChatApi, scene: Scene, document: Any
) -> None:
    before = last_seq(chats, scene)
    response = chats.http.post(scene.messages, json=document, headers=scene.alice.headers)
    not_a_server_error(response)
    valid = (
        isinstance(document, dict)
        and is_message_body(document.get("body"))
        and (
            document.get("client_msg_id") is None
            or (
                isinstance(document["client_msg_id"], str)
                and 1 <= len(document["client_msg_id"]) <= 128
                and not has_controls(document["client_msg_id"])
            )
        )
    )
    if not valid:
        problem(response, 422)
        assert last_seq(chats, scene) == before
        return
    assert response.status_code in (200, 201), response.text
    stored = 1 if response.status_code == 201 else 0
    assert last_seq(chats, scene) == before + stored


def as_number(value: Any) -> int | None:
    """The integer a JSON number decodes as (`1.0` is 1: bodies decode in lax mode)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) else None


@HYPOTHESIS
@given(reply_to=JSON_VALUES | st.integers(-3, 12) | st.sampled_from((MAX_SEQ, MAX_SEQ + 1)))
def test_any_json_value_as_reply_to_is_a_reply_to_a_root_or_a_422_naming_reply_to(
    chats: ChatApi, scene: Scene, reply_to: Any
) -> None:
    before = last_seq(chats, scene)
    body = {"body": "a reply", "reply_to": reply_to}
    response = chats.http.post(scene.messages, json=body, headers=scene.alice.headers)
    not_a_server_error(response)
    if response.status_code != 201:
        invalid(response, "reply_to")
        assert last_seq(chats, scene) == before
        # Seq 1 is the scene's first message, a root; nothing here deletes it.
        assert reply_to is not None
        assert as_number(reply_to) != 1
        return
    root = response.json()["reply_to"]
    if reply_to is None:
        assert root is None
        return
    # Whatever decoded as a seq named a root: a message of the chat that is no reply.
    assert as_number(reply_to) in (None, root)
    [message] = history(chats, scene, {"after_seq": root - 1, "limit": 1}).json()["messages"]
    assert (message["seq"], message["reply_to"], message["deleted"]) == (root, None, False)


@HYPOTHESIS
@given(emoji=st.text(min_size=1, max_size=12) | st.sampled_from(ROUND_TRIP_BODIES[:5]))
def test_any_text_as_a_reaction_is_a_204_or_a_422_naming_emoji(
    chats: ChatApi, scene: Scene, emoji: str
) -> None:
    path = f"{scene.messages}/1/reactions/{quote(emoji, safe='')}"
    response = chats.http.put(path, headers=scene.bob.headers)
    not_a_server_error(response)
    # "." and ".." are dot segments the client resolves away, and the server decodes
    # %2F before routing: such paths name no route at all.
    if emoji in (".", "..") or "/" in emoji:
        return
    if response.status_code != 204:
        invalid(response, "emoji")


CANONICAL = re.compile(r"0|[1-9][0-9]*")
QUERY_TEXT = (
    st.text(max_size=12)
    | st.integers(-(10**32), 10**32).map(str)
    | st.integers(-3, 12).map(str)
    | st.sampled_from((*NOT_INTEGERS, *FLOATS, "200", "201", str(MAX_SEQ), str(MAX_SEQ + 1)))
)
HISTORY_LENGTH = 8
"""How many messages the generated-query chat holds."""


def expected_seqs(params: dict[str, str]) -> list[int] | None:
    """The page docs/api.md gives for canonical values, or None when it is a 422."""
    values = {name: int(value) for name, value in params.items()}
    limit = values.get("limit", 50)
    after, before = values.get("after_seq"), values.get("before_seq")
    if not 1 <= limit <= 200 or (after is not None and before is not None):
        return None
    if after is not None:
        if not 0 <= after <= MAX_SEQ:
            return None
        return list(range(after + 1, HISTORY_LENGTH + 1))[:limit]
    if before is not None and not 1 <= before <= MAX_SEQ:
        return None
    end = HISTORY_LENGTH + 1 if before is None else before
    below = list(range(1, min(end, HISTORY_LENGTH + 1)))
    return below[-limit:] if below else []


@pytest.fixture
def history_scene(chats: ChatApi, scene: Scene) -> Scene:
    for n in range(2, HISTORY_LENGTH + 1):
        chats.send(scene.alice, scene.chat_id, f"m{n}")
    return scene


@HYPOTHESIS
@given(params=st.dictionaries(st.sampled_from(HISTORY_PARAMS), QUERY_TEXT, max_size=3))
def test_any_text_as_limit_or_cursor_is_a_200_with_the_right_page_or_a_422(
    chats: ChatApi, history_scene: Scene, params: dict[str, str]
) -> None:
    response = history(chats, history_scene, params)
    assert response.status_code in (200, 422), (response.status_code, response.text[:300])
    if all(CANONICAL.fullmatch(value) for value in params.values()):
        expected = expected_seqs(params)
        if expected is None:
            problem(response, 422)
        else:
            assert response.status_code == 200, response.text
            assert [m["seq"] for m in response.json()["messages"]] == expected
    elif not all(re.search("[0-9]", value) for value in params.values()):
        # A value without a single digit is never a number.
        problem(response, 422)
    if response.status_code == 422:
        assert any(name in response.json()["detail"] for name in params), response.text


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(("group", "direct")) | JSON_VALUES,
    title=st.none() | ODD_TEXT | JSON_VALUES,
    members=st.lists(st.sampled_from(("bob-slot", "nobody-here", "ABC", "a")), max_size=3)
    | JSON_VALUES,
)
def test_any_create_chat_body_is_answered_without_a_server_error(
    chats: ChatApi, scene: Scene, kind: Any, title: Any, members: Any
) -> None:
    if isinstance(members, list):
        members = [scene.bob.username if name == "bob-slot" else name for name in members]
    body = {"kind": kind, "title": title, "members": members}
    response = chats.http.post("/v1/chats", json=body, headers=scene.alice.headers)
    not_a_server_error(response)
    if kind not in ("group", "direct"):
        problem(response, 422)
    if response.status_code in (200, 201):
        chat = response.json()
        assert chat["kind"] == kind
        assert {m["username"] for m in chat["members"]} <= {
            scene.alice.username,
            scene.bob.username,
        }


# -- search --------------------------------------------------------------------------------

# Lone surrogates cannot be put in a URL by the client; raw bytes are test_bad_input_urls'.
SEARCH_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40) | st.sampled_from(
    (
        '"',
        "'",
        "(",
        ")",
        "*",
        "**",
        "a*b",
        "NEAR(a b)",
        "a AND b",
        "a OR NOT b",
        "body:first",
        "-first",
        "^first",
        "first:*",
        "a <-> b",
        "a & !b",
        "\x00first",
        "first\x00",
        "\u0301",
        "x" * 257,
        "w " * 17,
        "FIRST",
        "fírst",
        "fir*",
    )
)


def search_words(q: str) -> list[str]:
    """The words docs/search.md reads from `q`: runs of letters and digits (with the
    combining marks that follow them); a run of marks alone is no word."""
    words, current = [], ""
    for char in q + " ":
        if char.isalnum() or unicodedata.category(char) in ("Mn", "Mc", "Me", "Co"):
            current += char
            continue
        if any(c.isalnum() for c in current):
            words.append(current)
        current = ""
    return words


@HYPOTHESIS
@given(q=SEARCH_TEXT | st.none())
def test_any_text_as_a_search_query_is_a_200_or_a_422_naming_q(
    chats: ChatApi, scene: Scene, q: str | None
) -> None:
    params = {} if q is None else {"q": q}
    response = chats.http.get("/v1/search", params=params, headers=scene.bob.headers)
    not_a_server_error(response)
    words = search_words(q or "")
    if q is None or not words or len(q) > 256 or len(words) > 16:
        invalid(response, "q")
        return
    assert response.status_code == 200, response.text
    bodies = [result["message"]["body"] for result in response.json()["results"]]
    assert bodies in ([], ["first"])


@HYPOTHESIS
@given(
    params=st.dictionaries(
        st.sampled_from(("limit", "cursor", "chat_id")),
        QUERY_TEXT
        | st.uuids().map(str)
        | st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_=", max_size=80),
        max_size=3,
    )
)
def test_any_text_as_a_search_limit_cursor_or_chat_id_is_never_a_server_error(
    chats: ChatApi, scene: Scene, params: dict[str, str]
) -> None:
    response = chats.http.get(
        "/v1/search", params={"q": "first", **params}, headers=scene.bob.headers
    )
    not_a_server_error(response)
    assert response.status_code in (200, 404, 422), response.text
    if response.status_code == 422:
        assert any(name in response.json()["detail"] for name in params), response.text
    if response.status_code == 404:
        assert "chat_id" in params
