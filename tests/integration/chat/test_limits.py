"""Per-user limits on everything besides sending (parley_chat.domain.limits), on a chat
server whose limits are set low, on SQLite and PostgreSQL; and paging the chat list.

Each limit is counted per user, so every test starts from fresh users and no test waits
for a window to pass: the window's length shows only in `Retry-After`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from parley_chat import app as chat_app
from support import auth, chat
from support.chat import ChatApi, User
from support.problems import case, invalid, problem
from support.servers import ServedApp
from support.stream import StreamClient, token_of

LOW = 3
"""Every limit of the limited server: the fourth action in a window is refused."""

LOW_LIMITS: dict[str, Any] = {
    "message_edits_per_minute": LOW,
    "chat_creations_per_minute": LOW,
    "member_adds_per_minute": LOW,
    "read_markers_per_minute": LOW,
    "typing_frames_per_minute": LOW,
    "chats_joined_per_hour": LOW,
    "reactions_per_minute": LOW,
    # Only the per-user typing limit applies, not the per-chat interval.
    "stream": {"typing_interval_seconds": 0},
}


@pytest.fixture(scope="module")
def limited_server(
    database_url: str, auth_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    settings = chat.settings(
        tmp_path_factory.mktemp("limited"), database_url, auth_server, **LOW_LIMITS
    )
    with ServedApp(chat_app.create_app(settings)) as served:
        yield served.url


@pytest.fixture
def limited(limited_server: str, api: auth.AuthApi, database_url: str) -> Iterator[ChatApi]:
    client = ChatApi(limited_server, api)
    try:
        yield client
    finally:
        client.close()
        chat.truncate(database_url)


def refused(response: httpx.Response, limit: str, *, window: int = 60) -> None:
    """A 429 whose detail names `limit` and whose Retry-After lies within its window."""
    body = problem(response, 429)
    assert limit in body["detail"], body
    assert 1 <= int(response.headers["Retry-After"]) <= window, response.headers


def create(chats: ChatApi, user: User, *members: User, kind: str = "group") -> httpx.Response:
    body: dict[str, Any] = {"kind": kind, "members": [member.username for member in members]}
    if kind == "group":
        body["title"] = "team"
    return chats.http.post("/v1/chats", json=body, headers=user.headers)


def add(chats: ChatApi, user: User, chat_id: str, member: User) -> httpx.Response:
    return chats.http.post(
        f"/v1/chats/{chat_id}/members", json={"username": member.username}, headers=user.headers
    )


def edit(chats: ChatApi, user: User, chat_id: str, seq: int, body: str) -> httpx.Response:
    return chats.http.patch(
        f"/v1/chats/{chat_id}/messages/{seq}", json={"body": body}, headers=user.headers
    )


def member_names(chats: ChatApi, user: User, chat_id: str) -> set[str]:
    return {member["username"] for member in chats.chat(user, chat_id)["members"]}


# -- edits and deletions ----------------------------------------------------------------------


def test_past_the_edit_limit_an_edit_is_429_naming_message_edits(limited: ChatApi) -> None:
    alice, bob = limited.users(2)
    chat_id = limited.group(alice, bob)["id"]
    seqs = [limited.send(alice, chat_id, f"m{n}")["seq"] for n in range(3)]
    # Deletions and edits share the one allowance.
    assert edit(limited, alice, chat_id, seqs[0], "first edit").status_code == 200
    assert edit(limited, alice, chat_id, seqs[1], "second edit").status_code == 200
    deleted = limited.http.delete(f"/v1/chats/{chat_id}/messages/{seqs[2]}", headers=alice.headers)
    assert deleted.status_code == 204, deleted.text

    refused(edit(limited, alice, chat_id, seqs[0], "one too many"), "message_edits")
    refused(
        limited.http.delete(f"/v1/chats/{chat_id}/messages/{seqs[0]}", headers=alice.headers),
        "message_edits",
    )

    messages = limited.history(bob, chat_id)["messages"]
    assert [(m["body"], m["deleted"]) for m in messages] == [
        ("first edit", False),
        ("second edit", False),
        ("", True),
    ]
    # The allowance is the editor's own: bob still edits his messages.
    seq = limited.send(bob, chat_id, "mine")["seq"]
    assert edit(limited, bob, chat_id, seq, "mine, edited").status_code == 200


# -- chats and members ------------------------------------------------------------------------


def test_past_the_creation_limit_a_new_chat_is_429_naming_chat_creations(
    limited: ChatApi,
) -> None:
    alice, bob, carol = limited.users(3)
    for _ in range(LOW):
        assert create(limited, alice).status_code == 201

    refused(create(limited, alice), "chat_creations")
    refused(create(limited, alice, bob, kind="direct"), "chat_creations")

    assert len(limited.listed(alice)) == LOW
    assert limited.listed(bob) == []
    assert create(limited, carol).status_code == 201


def test_past_the_member_add_limit_an_add_is_429_naming_member_adds(limited: ChatApi) -> None:
    owner, *others = limited.users(LOW + 2)
    chat_id = create(limited, owner).json()["id"]
    for other in others[:LOW]:
        assert add(limited, owner, chat_id, other).status_code == 201

    refused(add(limited, owner, chat_id, others[LOW]), "member_adds")
    # Counted before anything else: even an add to a chat that is not the caller's.
    refused(add(limited, owner, chat.new_id(), others[LOW]), "member_adds")

    assert others[LOW].username not in member_names(limited, owner, chat_id)


def test_past_the_read_marker_limit_a_read_is_429_naming_read_markers(
    limited: ChatApi,
) -> None:
    alice, bob = limited.users(2)
    chat_id = limited.group(alice, bob)["id"]
    for n in range(LOW + 1):
        limited.send(alice, chat_id, f"m{n}")

    def read(seq: int) -> httpx.Response:
        return limited.http.post(
            f"/v1/chats/{chat_id}/read", json={"seq": seq}, headers=bob.headers
        )

    for seq in range(1, LOW + 1):
        assert read(seq).status_code == 204
    refused(read(LOW + 1), "read_markers")
    assert limited.chat(bob, chat_id)["last_read_seq"] == LOW


def test_past_the_reaction_limit_a_reaction_is_429_naming_reactions(limited: ChatApi) -> None:
    alice, bob = limited.users(2)
    chat_id = limited.group(alice, bob)["id"]
    limited.send(alice, chat_id, "react to me")
    path = f"/v1/chats/{chat_id}/messages/1/reactions/%3Aok%3A"
    # A repeat and a removal count too: each is a request the chat's members may hear of.
    for method in ("PUT", "PUT", "DELETE"):
        assert limited.http.request(method, path, headers=bob.headers).status_code == 204
    refused(limited.http.put(path, headers=bob.headers), "reactions")
    assert limited.http.put(path, headers=alice.headers).status_code == 204


def test_a_user_put_in_too_many_chats_by_others_is_refused_naming_chats_joined(
    limited: ChatApi,
) -> None:
    bob, carol, dave, erin, frank = limited.users(5)
    # Each way of being put in a chat counts for bob: created with him, a direct chat, an add.
    assert create(limited, carol, bob).status_code == 201
    assert create(limited, dave, bob, kind="direct").status_code == 201
    chat_id = create(limited, erin).json()["id"]
    assert add(limited, erin, chat_id, bob).status_code == 201

    other_chat = create(limited, frank).json()["id"]
    refused(add(limited, frank, other_chat, bob), "chats_joined", window=3600)
    refused(create(limited, frank, bob), "chats_joined", window=3600)
    refused(create(limited, frank, bob, kind="direct"), "chats_joined", window=3600)

    assert len(limited.listed(bob)) == LOW
    assert member_names(limited, frank, other_chat) == {frank.username}
    # A chat bob makes himself is his own doing, and a repeat of an existing direct
    # chat puts him nowhere new.
    assert create(limited, bob).status_code == 201
    assert create(limited, dave, bob, kind="direct").status_code == 200


def test_a_refused_creation_spends_none_of_the_other_members_allowance(
    limited: ChatApi,
) -> None:
    bob, carol, *owners = limited.users(2 + LOW + 1)
    for owner in owners[:LOW]:
        assert create(limited, owner, bob).status_code == 201

    # bob is full; carol, named beside him, is not put anywhere and not counted.
    refused(create(limited, owners[LOW], bob, carol), "chats_joined", window=3600)
    assert limited.listed(carol) == []
    for owner in owners[:LOW]:
        assert create(limited, owner, carol).status_code == 201


def test_adding_someone_who_is_already_a_member_counts_nothing_for_them(
    limited: ChatApi,
) -> None:
    bob, carol, dave, erin = limited.users(4)
    chat_id = create(limited, carol).json()["id"]
    assert add(limited, carol, chat_id, bob).status_code == 201
    for _ in range(2):
        problem(add(limited, carol, chat_id, bob), 409)

    # Had the 409s counted, bob would be full after the first of these.
    assert create(limited, dave, bob).status_code == 201
    assert create(limited, erin, bob).status_code == 201


# -- typing on the stream -----------------------------------------------------------------------


def test_typing_past_its_limit_is_dropped_with_an_error_frame_and_the_stream_stays_open(
    limited: ChatApi,
) -> None:
    alice, bob = limited.users(2)
    chat_id = limited.group(alice, bob)["id"]
    with (
        StreamClient(limited.url, token_of(alice)) as typist,
        StreamClient(limited.url, token_of(bob)) as watcher,
    ):
        watcher.send({"type": "ping"})  # a client speaks first (docs/stream.md)
        assert watcher.recv() == {"type": "pong"}
        for _ in range(LOW + 2):
            typist.send({"type": "typing", "chat_id": chat_id})
        errors = typist.recv_until(lambda got: len(got) == 2)
        assert [frame["type"] for frame in errors] == ["error", "error"]
        assert "typing" in errors[0]["detail"]
        typist.send({"type": "ping"})
        assert typist.recv() == {"type": "pong"}

        # A message after the typing frames shows where they end, without waiting.
        limited.send(alice, chat_id, "done typing")
        frames = watcher.recv_until(lambda got: any(f["type"] == "message" for f in got))
    assert [frame["type"] for frame in frames] == ["typing"] * LOW + ["message"]


# -- paging the chat list -----------------------------------------------------------------------


def page(chats: ChatApi, user: User, **params: Any) -> dict[str, Any]:
    response = chats.http.get("/v1/chats", params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"chats", "next_cursor"}
    body: dict[str, Any] = response.json()
    return body


def walk(chats: ChatApi, user: User, limit: int) -> Iterator[list[str]]:
    """The ids of each page, following next_cursor to the end."""
    params: dict[str, Any] = {"limit": limit}
    while True:
        body = page(chats, user, **params)
        assert len(body["chats"]) <= limit
        yield [listed["id"] for listed in body["chats"]]
        if body["next_cursor"] is None:
            return
        params["cursor"] = body["next_cursor"]


def chats_of_many(chats: ChatApi, count: int) -> tuple[User, User, list[str]]:
    """alice in `count` chats of bob's (one message each, so their activity differs), and
    their ids most recent first."""
    tenant = chats.tenant(limits={"messages_per_minute": 10_000})
    alice, bob = chats.users(2, tenant)
    ids = []
    for n in range(count):
        chat_id = chats.group(bob, alice, title=f"chat {n}")["id"]
        chats.send(bob, chat_id, f"hello {n}")
        ids.append(chat_id)
    return alice, bob, ids[::-1]


def test_paging_the_chat_list_walks_every_chat_once_in_the_unpaged_order(
    chats: ChatApi,
) -> None:
    alice, _, ids = chats_of_many(chats, 7)
    assert [listed["id"] for listed in chats.listed(alice)] == ids

    for limit in (1, 3, 7, 200):
        with case(limit):
            pages = list(walk(chats, alice, limit))
            assert [chat_id for ids_of_page in pages for chat_id in ids_of_page] == ids
            assert all(len(ids_of_page) == limit for ids_of_page in pages[:-1])


def test_a_chat_list_page_keeps_the_chat_shape_and_the_last_page_has_no_cursor(
    chats: ChatApi,
) -> None:
    alice, _, _ = chats_of_many(chats, 2)
    whole = page(chats, alice)
    assert whole["next_cursor"] is None
    first = page(chats, alice, limit=1)
    assert first["chats"] == whole["chats"][:1]
    assert isinstance(first["next_cursor"], str)
    last = page(chats, alice, limit=1, cursor=first["next_cursor"])
    assert (last["chats"], last["next_cursor"]) == (whole["chats"][1:], None)
    assert page(chats, chats.user(), limit=5) == {"chats": [], "next_cursor": None}


def test_activity_while_paging_repeats_no_chat_and_skips_none_that_stayed_put(
    chats: ChatApi,
) -> None:
    alice, bob, ids = chats_of_many(chats, 6)
    first = page(chats, alice, limit=2)
    assert [listed["id"] for listed in first["chats"]] == ids[:2]

    # A chat already listed and one not listed yet both move to the top meanwhile.
    chats.send(bob, ids[1], "again")
    chats.send(bob, ids[4], "moved")

    seen = [listed["id"] for listed in first["chats"]]
    cursor = first["next_cursor"]
    while cursor is not None:
        body = page(chats, alice, limit=2, cursor=cursor)
        seen += [listed["id"] for listed in body["chats"]]
        cursor = body["next_cursor"]

    # ids[4] moved above the cursor: the stream told the client about it, not this walk.
    assert seen == [ids[0], ids[1], ids[2], ids[3], ids[5]]


def test_a_bad_limit_or_cursor_on_the_chat_list_is_a_422_naming_it(chats: ChatApi) -> None:
    alice, _, _ = chats_of_many(chats, 1)

    def encoded(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    bad = {
        "limit": ["0", "201", "-1", "1.5", "ten", "", "9" * 30],
        "cursor": [
            "!!!",
            "",
            "a" * 201,
            "abc",
            encoded("nope"),
            encoded("2026-01-01T00:00:00|not-a-uuid"),
            encoded(f"2026-01-01T00:00:00|{chat.new_id()}"),  # no time zone
            encoded(f"yesterday|{chat.new_id()}"),
            encoded(f"2026-01-01T00:00:00+00:00|{chat.new_id()}|more"),
            encoded(f"0001-01-01T00:00:00+14:00|{chat.new_id()}"),
            encoded(f"9999-12-31T23:59:59-14:00|{chat.new_id()}"),
        ],
    }
    for name, values in bad.items():
        for value in values:
            with case(name, value):
                response = chats.http.get("/v1/chats", params={name: value}, headers=alice.headers)
                invalid(response, name)
