"""Every chat route of shared/API.md, on SQLite and on PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from support.chat import ChatApi, User, new_id, rows_of_tenant
from support.problems import invalid, problem

CHAT_FIELDS = {
    "id",
    "kind",
    "title",
    "created_at",
    "last_seq",
    "last_read_seq",
    "unread",
    "members",
}
MEMBER_FIELDS = {"user_id", "username", "role", "joined_at"}
MESSAGE_FIELDS = {
    "id",
    "chat_id",
    "seq",
    "sender_id",
    "sender_username",
    "body",
    "client_msg_id",
    "created_at",
    "edited_at",
    "deleted",
}
ROOMY = {"limits": {"messages_per_minute": 10_000}}
"""A tenant spec whose send quota no paging test runs into (the default is 120 a minute)."""


def create(chats: ChatApi, user: User, **body: Any) -> httpx.Response:
    return chats.http.post("/v1/chats", json=body, headers=user.headers)


def direct(chats: ChatApi, user: User, *others: User) -> httpx.Response:
    return create(chats, user, kind="direct", members=[other.username for other in others])


def post(chats: ChatApi, user: User, chat_id: str, body: str, **extra: Any) -> httpx.Response:
    return chats.http.post(
        f"/v1/chats/{chat_id}/messages", json={"body": body, **extra}, headers=user.headers
    )


def add(chats: ChatApi, user: User, chat_id: str, username: str) -> httpx.Response:
    return chats.http.post(
        f"/v1/chats/{chat_id}/members", json={"username": username}, headers=user.headers
    )


def remove(chats: ChatApi, user: User, chat_id: str, username: str) -> httpx.Response:
    return chats.http.delete(f"/v1/chats/{chat_id}/members/{username}", headers=user.headers)


def edit(chats: ChatApi, user: User, chat_id: str, seq: int, body: str) -> httpx.Response:
    return chats.http.patch(
        f"/v1/chats/{chat_id}/messages/{seq}", json={"body": body}, headers=user.headers
    )


def delete(chats: ChatApi, user: User, chat_id: str, seq: int) -> httpx.Response:
    return chats.http.delete(f"/v1/chats/{chat_id}/messages/{seq}", headers=user.headers)


def read(chats: ChatApi, user: User, chat_id: str, seq: int) -> httpx.Response:
    return chats.http.post(f"/v1/chats/{chat_id}/read", json={"seq": seq}, headers=user.headers)


def seqs(page: dict[str, Any]) -> list[int]:
    return [message["seq"] for message in page["messages"]]


def roles(chat: dict[str, Any]) -> dict[str, str]:
    return {member["username"]: member["role"] for member in chat["members"]}


def is_utc(timestamp: str) -> bool:
    return timestamp.endswith(("Z", "+00:00"))


# -- a conversation -----------------------------------------------------------------------


def test_a_group_chat_carries_a_conversation_from_create_to_read(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chat = chats.group(alice, bob, title="Team")
    assert chat["kind"] == "group"
    assert chat["title"] == "Team"
    assert [(m["username"], m["role"]) for m in chat["members"]] == [
        (alice.username, "owner"),
        (bob.username, "member"),
    ]

    sent = [chats.send(alice, chat["id"], f"hello {n}") for n in range(3)]
    assert [m["seq"] for m in sent] == [1, 2, 3]

    listed = chats.http.get("/v1/chats", headers=bob.headers).json()["chats"]
    assert [(c["id"], c["last_seq"], c["unread"]) for c in listed] == [(chat["id"], 3, 3)]

    response = chats.http.post(f"/v1/chats/{chat['id']}/read", json={"seq": 2}, headers=bob.headers)
    assert response.status_code == 204
    mine = chats.http.get(f"/v1/chats/{chat['id']}", headers=bob.headers).json()
    assert (mine["last_read_seq"], mine["unread"]) == (2, 1)


# -- POST /v1/chats: groups -----------------------------------------------------------------


def test_creating_a_group_answers_201_with_the_chat_in_the_contract_shape(
    chats: ChatApi,
) -> None:
    alice, bob, carol = chats.users(3)
    response = create(
        chats, alice, kind="group", title="Launch", members=[bob.username, carol.username]
    )
    assert response.status_code == 201, response.text
    chat = response.json()
    assert set(chat) >= CHAT_FIELDS
    assert (chat["kind"], chat["title"]) == ("group", "Launch")
    assert (chat["last_seq"], chat["last_read_seq"], chat["unread"]) == (0, 0, 0)
    assert is_utc(chat["created_at"])
    for member in chat["members"]:
        assert set(member) >= MEMBER_FIELDS
        assert is_utc(member["joined_at"])
    assert {(m["user_id"], m["username"], m["role"]) for m in chat["members"]} == {
        (alice.id, alice.username, "owner"),
        (bob.id, bob.username, "member"),
        (carol.id, carol.username, "member"),
    }
    got = chats.chat(alice, chat["id"])
    # shared/API.md fixes no order for `members`.
    assert {**got, "members": None} == {**chat, "members": None}
    assert sorted(got["members"], key=str) == sorted(chat["members"], key=str)


def test_every_member_of_a_new_group_sees_it(chats: ChatApi) -> None:
    alice, bob, carol = chats.users(3)
    chat = chats.group(alice, bob, carol)
    for user in (alice, bob, carol):
        assert [listed["id"] for listed in chats.listed(user)] == [chat["id"]]
        assert chats.chat(user, chat["id"])["title"] == "team"


def test_a_group_title_is_optional(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    for body in (
        {"kind": "group", "members": [bob.username]},
        {"kind": "group", "members": [bob.username], "title": None},
    ):
        response = create(chats, alice, **body)
        assert response.status_code == 201, response.text
        assert response.json()["title"] is None
        assert chats.chat(bob, response.json()["id"])["title"] is None


def test_a_group_may_start_with_its_owner_alone(chats: ChatApi) -> None:
    alice = chats.user()
    response = create(chats, alice, kind="group", title="notes", members=[])
    assert response.status_code == 201, response.text
    assert [(m["username"], m["role"]) for m in response.json()["members"]] == [
        (alice.username, "owner")
    ]


def test_the_creator_named_among_the_members_is_listed_once_as_the_owner(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    response = create(
        chats, alice, kind="group", members=[alice.username, bob.username, bob.username]
    )
    assert response.status_code == 201, response.text
    assert sorted((m["username"], m["role"]) for m in response.json()["members"]) == sorted(
        [(alice.username, "owner"), (bob.username, "member")]
    )


def test_creating_a_group_with_an_unknown_username_is_404_and_creates_nothing(
    chats: ChatApi,
) -> None:
    alice, bob = chats.users(2)
    response = create(chats, alice, kind="group", members=[bob.username, "nobody-here"])
    assert "nobody-here" in problem(response, 404)["detail"]
    assert chats.listed(alice) == []
    assert chats.listed(bob) == []


# -- POST /v1/chats: direct chats -----------------------------------------------------------


def test_creating_a_direct_chat_answers_201_with_both_users(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    response = direct(chats, alice, bob)
    assert response.status_code == 201, response.text
    chat = response.json()
    assert set(chat) >= CHAT_FIELDS
    assert chat["kind"] == "direct"
    assert {(m["user_id"], m["username"]) for m in chat["members"]} == {
        (alice.id, alice.username),
        (bob.id, bob.username),
    }
    assert chats.chat(bob, chat["id"])["kind"] == "direct"


def test_opening_a_direct_chat_again_from_either_side_is_200_and_the_same_chat(
    chats: ChatApi,
) -> None:
    alice, bob = chats.users(2)
    first = direct(chats, alice, bob)
    assert first.status_code == 201, first.text
    chats.send(alice, first.json()["id"], "hi")
    for opener, other in ((alice, bob), (bob, alice), (alice, bob)):
        again = direct(chats, opener, other)
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"]
        assert again.json()["last_seq"] == 1
    assert [chat["id"] for chat in chats.listed(alice)] == [first.json()["id"]]
    assert [chat["id"] for chat in chats.listed(bob)] == [first.json()["id"]]


def test_each_pair_of_users_gets_its_own_direct_chat(chats: ChatApi) -> None:
    alice, bob, carol = chats.users(3)
    with_bob = direct(chats, alice, bob)
    with_carol = direct(chats, alice, carol)
    assert (with_bob.status_code, with_carol.status_code) == (201, 201)
    assert with_bob.json()["id"] != with_carol.json()["id"]


def test_a_direct_chat_naming_no_other_user_or_two_of_them_is_a_422_naming_members(
    chats: ChatApi,
) -> None:
    alice, bob, carol = chats.users(3)
    for members in ([], [alice.username], [bob.username, carol.username]):
        response = create(chats, alice, kind="direct", members=members)
        invalid(response, "members")
    assert chats.listed(alice) == []


def test_a_direct_chat_with_an_unknown_username_is_404(chats: ChatApi) -> None:
    alice = chats.user()
    response = create(chats, alice, kind="direct", members=["nobody-here"])
    problem(response, 404)
    assert chats.listed(alice) == []


# -- GET /v1/chats and GET /v1/chats/{chat_id} ----------------------------------------------


def test_a_new_user_has_no_chats(chats: ChatApi) -> None:
    assert chats.http.get("/v1/chats", headers=chats.user().headers).json() == {
        "chats": [],
        "next_cursor": None,
    }


def test_the_chat_list_puts_the_most_recent_activity_first(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    first = chats.group(alice, bob, title="first")
    second = chats.group(alice, bob, title="second")
    third = chats.group(alice, bob, title="third")
    assert [c["id"] for c in chats.listed(alice)] == [third["id"], second["id"], first["id"]]

    chats.send(bob, first["id"], "bump")
    expected = [first["id"], third["id"], second["id"]]
    assert [c["id"] for c in chats.listed(alice)] == expected
    assert [c["id"] for c in chats.listed(bob)] == expected

    chats.send(alice, second["id"], "bump")
    assert [c["id"] for c in chats.listed(bob)] == [second["id"], first["id"], third["id"]]


def test_the_chat_list_carries_each_callers_own_read_state(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    quiet = chats.group(alice, bob, title="quiet")
    busy = chats.group(alice, bob, title="busy")
    for n in range(4):
        chats.send(alice, busy["id"], f"m{n}")
    assert read(chats, bob, busy["id"], 1).status_code == 204

    mine = {c["id"]: (c["last_seq"], c["last_read_seq"], c["unread"]) for c in chats.listed(alice)}
    theirs = {c["id"]: (c["last_seq"], c["last_read_seq"], c["unread"]) for c in chats.listed(bob)}
    assert mine == {busy["id"]: (4, 4, 0), quiet["id"]: (0, 0, 0)}
    assert theirs == {busy["id"]: (4, 1, 3), quiet["id"]: (0, 0, 0)}


def test_getting_a_chat_matches_its_entry_in_the_list(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chat = chats.group(alice, bob, title="Plans")
    chats.send(bob, chat["id"], "hello")
    response = chats.http.get(f"/v1/chats/{chat['id']}", headers=alice.headers)
    assert response.status_code == 200
    got = response.json()
    assert set(got) >= CHAT_FIELDS
    assert got == chats.listed(alice)[0]
    assert (got["id"], got["title"], got["last_seq"], got["unread"]) == (
        chat["id"],
        "Plans",
        1,
        1,
    )
    assert got["created_at"] == chat["created_at"]


def test_getting_a_chat_that_does_not_exist_is_404(chats: ChatApi) -> None:
    problem(chats.http.get(f"/v1/chats/{new_id()}", headers=chats.user().headers), 404)


# -- POST /v1/chats/{chat_id}/members ------------------------------------------------------


def test_the_owner_adds_a_member_who_starts_with_nothing_unread(chats: ChatApi) -> None:
    alice, bob, carol = chats.users(3)
    chat = chats.group(alice, bob)
    for n in range(3):
        chats.send(bob, chat["id"], f"before {n}")

    response = add(chats, alice, chat["id"], carol.username)

    assert response.status_code == 201, response.text
    member = response.json()
    assert set(member) >= MEMBER_FIELDS
    assert (member["user_id"], member["username"], member["role"]) == (
        carol.id,
        carol.username,
        "member",
    )
    assert is_utc(member["joined_at"])
    joined = chats.chat(carol, chat["id"])
    assert (joined["last_seq"], joined["last_read_seq"], joined["unread"]) == (3, 3, 0)
    assert carol.username in roles(joined)
    assert carol.username in roles(chats.chat(alice, chat["id"]))
    assert [c["id"] for c in chats.listed(carol)] == [chat["id"]]

    chats.send(bob, chat["id"], "after")
    assert chats.chat(carol, chat["id"])["unread"] == 1


def test_a_new_member_can_post_and_be_read_by_the_others(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chat = chats.group(alice)
    assert add(chats, alice, chat["id"], bob.username).status_code == 201
    message = chats.send(bob, chat["id"], "glad to be here")
    assert (message["seq"], message["sender_id"]) == (1, bob.id)
    assert seqs(chats.history(alice, chat["id"])) == [1]


def test_adding_someone_who_is_already_a_member_is_409(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chat = chats.group(alice, bob)
    problem(add(chats, alice, chat["id"], bob.username), 409)
    problem(add(chats, alice, chat["id"], alice.username), 409)
    assert len(chats.chat(alice, chat["id"])["members"]) == 2


def test_adding_an_unknown_username_is_404(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chat = chats.group(alice, bob)
    problem(add(chats, alice, chat["id"], "nobody-here"), 404)
    assert len(chats.chat(alice, chat["id"])["members"]) == 2


# -- DELETE /v1/chats/{chat_id}/members/{username} -----------------------------------------


def test_the_owner_removes_a_member_who_then_no_longer_sees_the_chat(chats: ChatApi) -> None:
    alice, bob, carol = chats.users(3)
    chat = chats.group(alice, bob, carol)
    chats.send(bob, chat["id"], "hello")

    response = remove(chats, alice, chat["id"], bob.username)

    assert response.status_code == 204
    assert response.content == b""
    assert roles(chats.chat(alice, chat["id"])) == {
        alice.username: "owner",
        carol.username: "member",
    }
    problem(chats.http.get(f"/v1/chats/{chat['id']}", headers=bob.headers), 404)
    problem(post(chats, bob, chat["id"], "still here?"), 404)
    assert chats.listed(bob) == []
    # What they said stays in the log.
    assert [m["sender_id"] for m in chats.history(carol, chat["id"])["messages"]] == [bob.id]


def test_a_member_leaves_by_removing_themselves(chats: ChatApi) -> None:
    alice, bob, carol = chats.users(3)
    chat = chats.group(alice, bob, carol)
    assert remove(chats, carol, chat["id"], carol.username).status_code == 204
    assert roles(chats.chat(alice, chat["id"])) == {
        alice.username: "owner",
        bob.username: "member",
    }
    assert chats.listed(carol) == []


def test_when_the_owner_leaves_the_longest_standing_member_becomes_the_owner(
    chats: ChatApi,
) -> None:
    tenant = chats.tenant()
    alice = chats.user(tenant, username="alice")
    # "zoe" joined first; "abe" joined later but sorts first by name.
    zoe = chats.user(tenant, username="zoe")
    abe = chats.user(tenant, username="abe")
    chat = chats.group(alice, zoe)
    assert add(chats, alice, chat["id"], abe.username).status_code == 201

    assert remove(chats, alice, chat["id"], alice.username).status_code == 204

    assert roles(chats.chat(abe, chat["id"])) == {"zoe": "owner", "abe": "member"}
    # The new owner can do what owners do.
    newcomer = chats.user(tenant, username="newcomer")
    assert add(chats, zoe, chat["id"], newcomer.username).status_code == 201
    assert remove(chats, zoe, chat["id"], abe.username).status_code == 204
    problem(add(chats, alice, chat["id"], alice.username), 404)


def test_the_owner_of_a_direct_chat_leaving_leaves_the_other_as_owner(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chat = direct(chats, alice, bob).json()
    owner = next(m for m in chat["members"] if m["role"] == "owner")
    stays, goes = (bob, alice) if owner["user_id"] == alice.id else (alice, bob)
    assert remove(chats, goes, chat["id"], goes.username).status_code == 204
    assert roles(chats.chat(stays, chat["id"])) == {stays.username: "owner"}


def test_removing_someone_who_is_not_a_member_is_404(chats: ChatApi) -> None:
    alice, bob, carol = chats.users(3)
    chat = chats.group(alice, bob)
    problem(remove(chats, alice, chat["id"], carol.username), 404)
    problem(remove(chats, alice, chat["id"], "nobody-here"), 404)
    assert len(chats.chat(alice, chat["id"])["members"]) == 2


# -- POST /v1/chats/{chat_id}/messages -----------------------------------------------------


def test_sending_answers_201_with_the_message_in_the_contract_shape(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chat = chats.group(alice, bob)
    response = post(chats, bob, chat["id"], "hello there")
    assert response.status_code == 201, response.text
    message = response.json()
    assert set(message) >= MESSAGE_FIELDS
    assert {key: message[key] for key in MESSAGE_FIELDS - {"id", "created_at"}} == {
        "chat_id": chat["id"],
        "seq": 1,
        "sender_id": bob.id,
        "sender_username": bob.username,
        "body": "hello there",
        "client_msg_id": None,
        "edited_at": None,
        "deleted": False,
    }
    assert is_utc(message["created_at"])
    assert chats.history(alice, chat["id"])["messages"] == [message]


def test_seq_runs_from_1_without_gaps_whoever_sends(chats: ChatApi) -> None:
    alice, bob, carol = chats.users(3)
    chat = chats.group(alice, bob, carol)
    senders = [alice, bob, carol, bob, alice, alice, carol]
    sent = [chats.send(user, chat["id"], f"n{n}") for n, user in enumerate(senders)]
    assert [m["seq"] for m in sent] == list(range(1, 8))
    assert len({m["id"] for m in sent}) == 7
    assert chats.chat(alice, chat["id"])["last_seq"] == 7
    page = chats.history(carol, chat["id"])
    assert seqs(page) == list(range(1, 8))
    assert [m["sender_id"] for m in page["messages"]] == [user.id for user in senders]


def test_each_chat_numbers_its_own_messages(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    one, two = chats.group(alice, bob), chats.group(alice, bob)
    chats.send(alice, one["id"])
    chats.send(alice, one["id"])
    assert chats.send(alice, two["id"])["seq"] == 1
    assert chats.send(alice, one["id"])["seq"] == 3


def test_repeating_a_client_msg_id_is_200_with_the_original_and_stores_nothing(
    chats: ChatApi,
) -> None:
    alice, bob = chats.users(2)
    chat = chats.group(alice, bob)
    first = post(chats, alice, chat["id"], "once", client_msg_id="c-1")
    assert first.status_code == 201, first.text
    assert first.json()["client_msg_id"] == "c-1"

    for body in ("once", "a different body"):
        again = post(chats, alice, chat["id"], body, client_msg_id="c-1")
        assert again.status_code == 200, again.text
        assert again.json() == first.json()

    assert chats.chat(bob, chat["id"])["last_seq"] == 1
    assert chats.history(bob, chat["id"])["messages"] == [first.json()]
    assert chats.send(alice, chat["id"], "next")["seq"] == 2


def test_the_same_client_msg_id_from_another_sender_or_in_another_chat_is_a_new_message(
    chats: ChatApi,
) -> None:
    alice, bob = chats.users(2)
    chat, other = chats.group(alice, bob), chats.group(alice, bob)
    first = post(chats, alice, chat["id"], "a", client_msg_id="same")
    by_bob = post(chats, bob, chat["id"], "b", client_msg_id="same")
    elsewhere = post(chats, alice, other["id"], "c", client_msg_id="same")
    assert (first.status_code, by_bob.status_code, elsewhere.status_code) == (201, 201, 201)
    assert (first.json()["seq"], by_bob.json()["seq"], elsewhere.json()["seq"]) == (1, 2, 1)
    assert len({first.json()["id"], by_bob.json()["id"], elsewhere.json()["id"]}) == 3


def test_a_repeat_of_a_deleted_messages_client_msg_id_returns_the_tombstone(
    chats: ChatApi,
) -> None:
    alice, bob = chats.users(2)
    chat = chats.group(alice, bob)
    sent = chats.send(alice, chat["id"], "oops", client_msg_id="c-9")
    assert delete(chats, alice, chat["id"], sent["seq"]).status_code == 204
    again = post(chats, alice, chat["id"], "oops", client_msg_id="c-9")
    assert again.status_code == 200, again.text
    assert (again.json()["id"], again.json()["deleted"], again.json()["body"]) == (
        sent["id"],
        True,
        "",
    )
    assert chats.chat(alice, chat["id"])["last_seq"] == 1


# -- GET /v1/chats/{chat_id}/messages ------------------------------------------------------


def chat_with(chats: ChatApi, count: int) -> tuple[User, User, dict[str, Any]]:
    """A two-person group with `count` messages from its owner, in a roomy tenant."""
    alice, bob = chats.users(2, chats.tenant(**ROOMY))
    chat = chats.group(alice, bob)
    for n in range(1, count + 1):
        chats.send(alice, chat["id"], f"message {n}")
    return alice, bob, chat


def busy_chat(chats: ChatApi, count: int) -> tuple[User, User, dict[str, Any]]:
    """Like `chat_with`, sent from a few threads at once: faster, bodies in no set order."""
    alice, bob = chats.users(2, chats.tenant(**ROOMY))
    chat = chats.group(alice, bob)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda n: chats.send(alice, chat["id"], f"message {n}"), range(count)))
    return alice, bob, chat


def test_history_after_a_seq_pages_forward_in_ascending_order(chats: ChatApi) -> None:
    _, bob, chat = chat_with(chats, 7)
    first = chats.history(bob, chat["id"], after_seq=0, limit=3)
    assert (seqs(first), first["has_more"]) == ([1, 2, 3], True)
    assert [m["body"] for m in first["messages"]] == ["message 1", "message 2", "message 3"]
    middle = chats.history(bob, chat["id"], after_seq=3, limit=3)
    assert (seqs(middle), middle["has_more"]) == ([4, 5, 6], True)
    last = chats.history(bob, chat["id"], after_seq=6, limit=3)
    assert (seqs(last), last["has_more"]) == ([7], False)
    exact = chats.history(bob, chat["id"], after_seq=4, limit=3)
    assert (seqs(exact), exact["has_more"]) == ([5, 6, 7], False)
    for after in (7, 8, 1000):
        assert chats.history(bob, chat["id"], after_seq=after) == {
            "messages": [],
            "has_more": False,
        }


def test_history_before_a_seq_pages_backward_in_ascending_order(chats: ChatApi) -> None:
    _, bob, chat = chat_with(chats, 7)
    newest = chats.history(bob, chat["id"], before_seq=8, limit=3)
    assert (seqs(newest), newest["has_more"]) == ([5, 6, 7], True)
    middle = chats.history(bob, chat["id"], before_seq=5, limit=3)
    assert (seqs(middle), middle["has_more"]) == ([2, 3, 4], True)
    oldest = chats.history(bob, chat["id"], before_seq=2, limit=3)
    assert (seqs(oldest), oldest["has_more"]) == ([1], False)
    exact = chats.history(bob, chat["id"], before_seq=4, limit=3)
    assert (seqs(exact), exact["has_more"]) == ([1, 2, 3], False)
    assert chats.history(bob, chat["id"], before_seq=1) == {"messages": [], "has_more": False}
    beyond = chats.history(bob, chat["id"], before_seq=1000, limit=2)
    assert (seqs(beyond), beyond["has_more"]) == ([6, 7], True)


def test_history_without_a_cursor_is_the_latest_page(chats: ChatApi) -> None:
    _, bob, chat = chat_with(chats, 7)
    latest = chats.history(bob, chat["id"], limit=3)
    assert (seqs(latest), latest["has_more"]) == ([5, 6, 7], True)
    everything = chats.history(bob, chat["id"], limit=7)
    assert (seqs(everything), everything["has_more"]) == (list(range(1, 8)), False)
    assert chats.history(bob, chat["id"]) == everything


def test_history_of_an_empty_chat_is_an_empty_page(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chat = chats.group(alice, bob)
    for params in ({}, {"after_seq": 0}, {"before_seq": 1}, {"limit": 1}):
        assert chats.history(bob, chat["id"], **params) == {"messages": [], "has_more": False}


def test_history_limit_defaults_to_50_and_is_at_most_200(chats: ChatApi) -> None:
    _, bob, chat = busy_chat(chats, 201)

    default = chats.history(bob, chat["id"])
    assert (seqs(default), default["has_more"]) == (list(range(152, 202)), True)
    forward = chats.history(bob, chat["id"], after_seq=0)
    assert (seqs(forward), forward["has_more"]) == (list(range(1, 51)), True)
    widest = chats.history(bob, chat["id"], limit=200)
    assert (seqs(widest), widest["has_more"]) == (list(range(2, 202)), True)
    rest = chats.history(bob, chat["id"], before_seq=2, limit=200)
    assert (seqs(rest), rest["has_more"]) == ([1], False)

    response = chats.http.get(
        f"/v1/chats/{chat['id']}/messages", params={"limit": 201}, headers=bob.headers
    )
    invalid(response, "limit")


def test_history_with_both_cursors_is_a_422(chats: ChatApi) -> None:
    _, bob, chat = chat_with(chats, 3)
    response = chats.http.get(
        f"/v1/chats/{chat['id']}/messages",
        params={"after_seq": 1, "before_seq": 3},
        headers=bob.headers,
    )
    body = invalid(response, "seq")
    assert "after_seq" in body["detail"] or "before_seq" in body["detail"]


# -- PATCH /v1/chats/{chat_id}/messages/{seq} ----------------------------------------------


def test_editing_a_message_answers_200_with_the_new_body_and_edited_at(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chat = chats.group(alice, bob)
    sent = chats.send(alice, chat["id"], "helo")
    chats.send(bob, chat["id"], "hi")

    response = edit(chats, alice, chat["id"], 1, "hello")

    assert response.status_code == 200, response.text
    edited = response.json()
    assert set(edited) >= MESSAGE_FIELDS
    assert edited["body"] == "hello"
    assert edited["edited_at"] is not None
    assert is_utc(edited["edited_at"])
    assert edited["edited_at"] >= sent["created_at"]
    unchanged = ("id", "seq", "chat_id", "sender_id", "created_at", "client_msg_id", "deleted")
    assert {key: edited[key] for key in unchanged} == {key: sent[key] for key in unchanged}
    assert chats.history(bob, chat["id"])["messages"][0] == edited
    assert chats.chat(bob, chat["id"])["last_seq"] == 2


def test_editing_twice_keeps_the_last_body(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chat = chats.group(alice, bob)
    chats.send(alice, chat["id"], "one")
    assert edit(chats, alice, chat["id"], 1, "two").status_code == 200
    assert edit(chats, alice, chat["id"], 1, "three").json()["body"] == "three"
    assert [m["body"] for m in chats.history(bob, chat["id"])["messages"]] == ["three"]


def test_editing_a_deleted_message_is_404_and_brings_nothing_back(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chat = chats.group(alice, bob)
    chats.send(alice, chat["id"], "secret")
    assert delete(chats, alice, chat["id"], 1).status_code == 204

    problem(edit(chats, alice, chat["id"], 1, "resurrected"), 404)

    [message] = chats.history(bob, chat["id"])["messages"]
    assert (message["deleted"], message["body"]) == (True, "")


def test_editing_a_message_that_does_not_exist_is_404(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chat = chats.group(alice, bob)
    chats.send(alice, chat["id"], "only one")
    for seq in (2, 3, 2**31 - 1):
        problem(edit(chats, alice, chat["id"], seq, "x"), 404)


# -- DELETE /v1/chats/{chat_id}/messages/{seq} ---------------------------------------------


def test_deleting_a_message_leaves_a_tombstone_and_keeps_every_seq(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chat = chats.group(alice, bob)
    sent = [chats.send(alice, chat["id"], f"m{n}") for n in range(1, 4)]

    response = delete(chats, alice, chat["id"], 2)

    assert response.status_code == 204
    assert response.content == b""
    page = chats.history(bob, chat["id"])
    assert seqs(page) == [1, 2, 3]
    tombstone = page["messages"][1]
    assert (tombstone["id"], tombstone["deleted"], tombstone["body"]) == (sent[1]["id"], True, "")
    assert [(m["body"], m["deleted"]) for m in (page["messages"][0], page["messages"][2])] == [
        ("m1", False),
        ("m3", False),
    ]
    assert chats.chat(bob, chat["id"])["last_seq"] == 3
    assert chats.send(alice, chat["id"], "m4")["seq"] == 4
    assert seqs(chats.history(bob, chat["id"], after_seq=1)) == [2, 3, 4]


def test_deleting_a_message_twice_is_204_both_times(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chat = chats.group(alice, bob)
    chats.send(alice, chat["id"], "gone soon")
    assert delete(chats, alice, chat["id"], 1).status_code == 204
    assert delete(chats, alice, chat["id"], 1).status_code == 204
    [message] = chats.history(bob, chat["id"])["messages"]
    assert (message["seq"], message["deleted"], message["body"]) == (1, True, "")


def test_deleting_a_message_that_does_not_exist_is_404(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chat = chats.group(alice, bob)
    problem(delete(chats, alice, chat["id"], 1), 404)
    chats.send(alice, chat["id"], "one")
    problem(delete(chats, alice, chat["id"], 2), 404)


# -- POST /v1/chats/{chat_id}/read ---------------------------------------------------------


def test_marking_read_moves_the_marker_forward_and_never_back(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chat = chats.group(alice, bob)
    for n in range(5):
        chats.send(alice, chat["id"], f"m{n}")

    for seq, expected in ((3, 3), (1, 3), (0, 3), (3, 3), (5, 5), (2, 5)):
        response = read(chats, bob, chat["id"], seq)
        assert response.status_code == 204, response.text
        assert response.content == b""
        mine = chats.chat(bob, chat["id"])
        assert (mine["last_read_seq"], mine["unread"]) == (expected, 5 - expected), seq


def test_marking_read_beyond_the_last_seq_is_a_422_naming_seq(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chat = chats.group(alice, bob)
    invalid(read(chats, bob, chat["id"], 1), "seq")
    chats.send(alice, chat["id"], "one")
    chats.send(alice, chat["id"], "two")
    invalid(read(chats, bob, chat["id"], 3), "seq")
    assert chats.chat(bob, chat["id"])["last_read_seq"] == 0
    assert read(chats, bob, chat["id"], 2).status_code == 204


def test_reading_is_per_member(chats: ChatApi) -> None:
    alice, bob, carol = chats.users(3)
    chat = chats.group(alice, bob, carol)
    for n in range(4):
        chats.send(alice, chat["id"], f"m{n}")
    assert read(chats, bob, chat["id"], 4).status_code == 204
    assert chats.chat(bob, chat["id"])["unread"] == 0
    assert chats.chat(carol, chat["id"])["unread"] == 4


def test_the_senders_own_messages_are_not_unread_for_them(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chat = chats.group(alice, bob)
    for n in range(3):
        chats.send(alice, chat["id"], f"m{n}")
    mine = chats.chat(alice, chat["id"])
    theirs = chats.chat(bob, chat["id"])
    assert (mine["last_seq"], mine["last_read_seq"], mine["unread"]) == (3, 3, 0)
    assert (theirs["last_seq"], theirs["last_read_seq"], theirs["unread"]) == (3, 0, 3)
    assert [c["unread"] for c in chats.listed(alice)] == [0]


# -- tenant limits -------------------------------------------------------------------------


def test_past_messages_per_minute_a_send_is_429_with_retry_after(chats: ChatApi) -> None:
    alice, bob = chats.users(2, chats.tenant(limits={"messages_per_minute": 3}))
    chat = chats.group(alice, bob)
    assert [chats.send(alice, chat["id"], f"m{n}")["seq"] for n in range(3)] == [1, 2, 3]

    response = post(chats, alice, chat["id"], "one too many")

    problem(response, 429)
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert chats.chat(alice, chat["id"])["last_seq"] == 3
    # The quota is the sender's: someone else in the tenant still sends.
    assert chats.send(bob, chat["id"], "my turn")["seq"] == 4


def test_a_repeat_of_a_stored_client_msg_id_is_200_even_while_limited(chats: ChatApi) -> None:
    alice, bob = chats.users(2, chats.tenant(limits={"messages_per_minute": 3}))
    chat = chats.group(alice, bob)
    first = chats.send(alice, chat["id"], "m1", client_msg_id="c-1")
    chats.send(alice, chat["id"], "m2")
    chats.send(alice, chat["id"], "m3")
    problem(post(chats, alice, chat["id"], "m4", client_msg_id="c-4"), 429)

    again = post(chats, alice, chat["id"], "m1", client_msg_id="c-1")

    assert again.status_code == 200, again.text
    assert again.json() == first
    problem(post(chats, alice, chat["id"], "m4", client_msg_id="c-4"), 429)
    assert chats.chat(bob, chat["id"])["last_seq"] == 3


def test_a_body_over_max_message_chars_is_a_422_naming_body(chats: ChatApi) -> None:
    alice, bob = chats.users(2, chats.tenant(limits={"max_message_chars": 10}))
    chat = chats.group(alice, bob)
    assert chats.send(alice, chat["id"], "x" * 10)["body"] == "x" * 10
    assert chats.send(alice, chat["id"], "😀" * 10)["body"] == "😀" * 10

    invalid(post(chats, alice, chat["id"], "x" * 11), "body")
    invalid(post(chats, alice, chat["id"], "é" * 11), "body")
    invalid(edit(chats, alice, chat["id"], 1, "y" * 11), "body")

    assert [m["body"] for m in chats.history(bob, chat["id"])["messages"]] == [
        "x" * 10,
        "😀" * 10,
    ]


def test_the_default_max_message_chars_is_4000(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chat = chats.group(alice, bob)
    assert len(chats.send(alice, chat["id"], "x" * 4000)["body"]) == 4000
    invalid(post(chats, alice, chat["id"], "x" * 4001), "body")
    assert chats.chat(bob, chat["id"])["last_seq"] == 1


def put_tenant(chats: ChatApi, slug: str, **spec: Any) -> None:
    body = {"display_name": slug, "self_registration": True, **spec}
    response = chats.accounts.http.put(
        f"/internal/v1/tenants/{slug}", json=body, headers=chats.admin
    )
    assert response.status_code == 200, response.text


def test_a_suspended_tenant_cannot_send(chats: ChatApi) -> None:
    tenant = chats.tenant()
    alice, bob = chats.users(2, tenant)
    chat = chats.group(alice, bob)
    chats.send(alice, chat["id"], "before")

    put_tenant(chats, tenant, suspended=True)

    for user in (alice, bob):
        problem(post(chats, user, chat["id"], "during"), 403)
        problem(post(chats, user, chat["id"], "during", client_msg_id="c-1"), 403)
    assert chats.chat(bob, chat["id"])["last_seq"] == 1

    put_tenant(chats, tenant, suspended=False)
    assert chats.send(bob, chat["id"], "after")["seq"] == 2


# -- DELETE /internal/v1/tenants/{slug} on the chat server ---------------------------------


def purge(chats: ChatApi, slug: str, headers: dict[str, str] | None = None) -> httpx.Response:
    admin = chats.admin if headers is None else headers
    return chats.http.delete(f"/internal/v1/tenants/{slug}", headers=admin)


def busy_tenant(chats: ChatApi) -> tuple[str, User, User, dict[str, Any]]:
    """A tenant with a group, a direct chat, members and messages."""
    tenant = chats.tenant()
    alice, bob = chats.users(2, tenant)
    chat = chats.group(alice, bob)
    chats.send(alice, chat["id"], "one")
    chats.send(bob, chat["id"], "two", client_msg_id="c-2")
    pair = direct(chats, alice, bob).json()
    chats.send(bob, pair["id"], "psst")
    return tenant, alice, bob, chat


def test_purging_a_tenant_removes_all_its_chats_members_and_messages(
    chats: ChatApi, database_url: str
) -> None:
    tenant, alice, bob, chat = busy_tenant(chats)
    assert rows_of_tenant(database_url, tenant) == {
        "chats": 2,
        "chat_members": 4,
        "messages": 3,
    }

    response = purge(chats, tenant)

    assert response.status_code == 204
    assert response.content == b""
    assert rows_of_tenant(database_url, tenant) == {"chats": 0, "chat_members": 0, "messages": 0}
    # The users' tokens are still good; nothing of the tenant's chats answers them.
    for user in (alice, bob):
        assert chats.listed(user) == []
        problem(chats.http.get(f"/v1/chats/{chat['id']}", headers=user.headers), 404)
        problem(post(chats, user, chat["id"], "anyone?"), 404)
        problem(
            chats.http.get(f"/v1/chats/{chat['id']}/messages", headers=user.headers),
            404,
        )


def test_purging_a_tenant_is_idempotent(chats: ChatApi, database_url: str) -> None:
    tenant, *_ = busy_tenant(chats)
    assert purge(chats, tenant).status_code == 204
    assert purge(chats, tenant).status_code == 204
    assert purge(chats, "never-heard-of").status_code == 204
    assert rows_of_tenant(database_url, tenant) == {"chats": 0, "chat_members": 0, "messages": 0}


def test_purging_a_tenant_leaves_other_tenants_untouched(chats: ChatApi, database_url: str) -> None:
    doomed, *_ = busy_tenant(chats)
    kept, carol, dave, chat = busy_tenant(chats)
    before = chats.history(carol, chat["id"])

    assert purge(chats, doomed).status_code == 204

    assert rows_of_tenant(database_url, kept) == {"chats": 2, "chat_members": 4, "messages": 3}
    assert chats.history(dave, chat["id"]) == before
    assert len(chats.listed(carol)) == 2
    assert chats.send(carol, chat["id"], "still here")["seq"] == 3


def test_purging_a_tenant_without_the_admin_token_is_401_and_removes_nothing(
    chats: ChatApi, database_url: str
) -> None:
    tenant, alice, _, _ = busy_tenant(chats)
    for headers in (
        {},
        alice.headers,
        {"Authorization": "Bearer not-the-admin-token"},
        {"Authorization": chats.admin["Authorization"].replace("Bearer ", "Basic ")},
        {"Authorization": chats.admin["Authorization"] + "x"},
    ):
        problem(purge(chats, tenant, headers), 401)
    assert rows_of_tenant(database_url, tenant) == {"chats": 2, "chat_members": 4, "messages": 3}


def test_reopening_a_direct_chat_one_side_left_brings_both_back(chats: ChatApi) -> None:
    alice, bob = chats.users(2, chats.tenant())
    first = chats.http.post(
        "/v1/chats", json={"kind": "direct", "members": [bob.username]}, headers=alice.headers
    ).json()
    chats.send(alice, first["id"], "hi")
    left = chats.http.delete(f"/v1/chats/{first['id']}/members/{bob.username}", headers=bob.headers)
    assert left.status_code == 204
    again = chats.http.post(
        "/v1/chats", json={"kind": "direct", "members": [alice.username]}, headers=bob.headers
    )
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert {m["username"] for m in again.json()["members"]} == {alice.username, bob.username}
    assert chats.history(bob, first["id"])["messages"][0]["body"] == "hi"


def test_a_body_of_only_invisible_characters_is_a_422_naming_body(chats: ChatApi) -> None:
    alice = chats.user()
    chat_id = chats.group(alice)["id"]
    for body in ("\u200b", "\u200e\u200f", " \u2060 \n"):
        response = chats.http.post(
            f"/v1/chats/{chat_id}/messages", json={"body": body}, headers=alice.headers
        )
        assert response.status_code == 422, body
        assert response.json()["errors"][0]["field"] == "body"
