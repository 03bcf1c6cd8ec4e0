"""Every message route of docs/api.md, on SQLite and on PostgreSQL: send, history, edit,
delete and the read marker."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from support.chat import ChatApi, User
from support.chat_routes import MESSAGE_FIELDS, ROOMY, delete, edit, is_utc, post, read, seqs
from support.problems import invalid, problem

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
        "reply_to": None,
        "thread": None,
        "reactions": [],
        "mentions": [],
        "attachments": [],
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
