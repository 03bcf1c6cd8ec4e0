"""Every chat route of docs/api.md, on SQLite and on PostgreSQL: chats and members.

Messages are in test_routes_messages.py, the tenant routes in test_routes_tenants.py."""

from __future__ import annotations

from support.chat import ChatApi, new_id
from support.chat_routes import (
    CHAT_FIELDS,
    MEMBER_FIELDS,
    add,
    create,
    direct,
    is_utc,
    post,
    read,
    remove,
    roles,
    seqs,
)
from support.problems import invalid, problem

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
    # docs/api.md fixes no order for `members`.
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
