"""Threads and mentions, on SQLite and on PostgreSQL (docs/api.md "Threads, reactions,
mentions"): replies keep the chat's gap-free `seq`, the root's summary is exact under
concurrent replies, `GET .../threads/{seq}` pages a root's replies, and `@username`
lists members in `mentions` and counts in `unread_mentions`."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from support.chat import ChatApi, User
from support.chat_routes import ROOMY, delete, edit, post, read, seqs, thread
from support.problems import invalid, problem

REPLIERS = 20


def reply(chats: ChatApi, user: User, chat_id: str, root: int, body: str) -> dict[str, Any]:
    response = post(chats, user, chat_id, body, reply_to=root)
    assert response.status_code == 201, response.text
    message: dict[str, Any] = response.json()
    return message


def message_at(chats: ChatApi, user: User, chat_id: str, seq: int) -> dict[str, Any]:
    messages: list[dict[str, Any]] = chats.history(user, chat_id, after_seq=seq - 1, limit=1)[
        "messages"
    ]
    return messages[0]


# -- threads ---------------------------------------------------------------------------------


def test_a_reply_takes_the_next_seq_and_the_root_gains_its_thread_summary(
    chats: ChatApi,
) -> None:
    alice, bob = chats.users(2)
    chat_id = chats.group(alice, bob)["id"]
    root = chats.send(alice, chat_id, "root")
    assert (root["reply_to"], root["thread"]) == (None, None)
    chats.send(bob, chat_id, "in between")
    first = reply(chats, bob, chat_id, root["seq"], "a reply")
    second = reply(chats, alice, chat_id, root["seq"], "another")
    assert (first["seq"], first["reply_to"], first["thread"]) == (3, 1, None)
    assert (second["seq"], second["reply_to"]) == (4, 1)
    summary = message_at(chats, bob, chat_id, 1)["thread"]
    assert summary == {
        "replies": 2,
        "last_reply_seq": 4,
        "last_reply_at": second["created_at"],
    }
    # Replies are ordinary messages of the log, too.
    assert seqs(chats.history(bob, chat_id)) == [1, 2, 3, 4]
    assert chats.chat(bob, chat_id)["last_seq"] == 4


def test_the_thread_route_pages_a_roots_replies_in_seq_order(chats: ChatApi) -> None:
    alice, bob = chats.users(2, chats.tenant(**ROOMY))
    chat_id = chats.group(alice, bob)["id"]
    root = chats.send(alice, chat_id, "root")["seq"]
    other = chats.send(alice, chat_id, "other root")["seq"]
    for n in range(5):
        reply(chats, bob, chat_id, root, f"r{n}")
        reply(chats, bob, chat_id, other, f"o{n}")
    first = thread(chats, alice, chat_id, root, limit=3)
    assert first.status_code == 200, first.text
    page = first.json()
    assert [m["body"] for m in page["messages"]] == ["r0", "r1", "r2"]
    assert page["has_more"] is True
    after = page["messages"][-1]["seq"]
    rest = thread(chats, alice, chat_id, root, after_seq=after).json()
    assert [m["body"] for m in rest["messages"]] == ["r3", "r4"]
    assert rest["has_more"] is False
    assert all(m["reply_to"] == root for m in page["messages"] + rest["messages"])
    empty = thread(chats, alice, chat_id, chats.send(alice, chat_id, "lonely")["seq"]).json()
    assert empty == {"messages": [], "has_more": False}


def test_an_unknown_root_a_reply_as_root_and_a_non_member_get_404_from_the_thread_route(
    chats: ChatApi,
) -> None:
    alice, bob, carol = chats.users(3)
    chat_id = chats.group(alice, bob)["id"]
    root = chats.send(alice, chat_id, "root")["seq"]
    child = reply(chats, bob, chat_id, root, "reply")["seq"]
    problem(thread(chats, alice, chat_id, 99), 404)
    problem(thread(chats, alice, chat_id, child), 404)
    problem(thread(chats, carol, chat_id, root), 404)
    assert thread(chats, bob, chat_id, root).status_code == 200


def test_a_reply_to_a_reply_another_chats_message_a_missing_or_deleted_one_is_422_naming_reply_to(
    chats: ChatApi,
) -> None:
    alice, bob = chats.users(2)
    chat_id = chats.group(alice, bob)["id"]
    elsewhere = chats.group(alice, bob, title="elsewhere")["id"]
    root = chats.send(alice, chat_id, "root")["seq"]
    child = reply(chats, bob, chat_id, root, "reply")["seq"]
    foreign = chats.send(alice, elsewhere, "x")["seq"] + 5  # seq 6 of elsewhere: not here
    gone = chats.send(alice, chat_id, "to delete")["seq"]
    assert delete(chats, alice, chat_id, gone).status_code == 204
    for target in (child, foreign, 999, gone, chats.chat(alice, chat_id)["last_seq"] + 1):
        invalid(post(chats, bob, chat_id, "nope", reply_to=target), "reply_to")
    # ("1" passes as 1: Litestar decodes in lax mode, see test_bad_input.py.)
    for value in (0, -1, 2**31, "one", 1.5, [1], {"seq": 1}, True):
        invalid(post(chats, bob, chat_id, "nope", reply_to=value), "reply_to")
    # Nothing refused took a seq: the log has no gap.
    assert chats.send(alice, chat_id, "next")["seq"] == gone + 1
    assert message_at(chats, alice, chat_id, root)["thread"]["replies"] == 1


def test_a_reply_that_repeats_a_client_msg_id_counts_once(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chat_id = chats.group(alice, bob)["id"]
    root = chats.send(alice, chat_id, "root")["seq"]
    first = post(chats, bob, chat_id, "once", reply_to=root, client_msg_id="k1")
    again = post(chats, bob, chat_id, "once", reply_to=root, client_msg_id="k1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert message_at(chats, alice, chat_id, root)["thread"]["replies"] == 1


def test_twenty_concurrent_replies_leave_an_exact_summary_and_no_gap(chats: ChatApi) -> None:
    users = chats.users(REPLIERS, chats.tenant(**ROOMY))
    chat_id = chats.group(users[0], *users[1:])["id"]
    root = chats.send(users[0], chat_id, "root")["seq"]

    async def race() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=chats.url, timeout=60) as http:
            return await asyncio.gather(
                *(
                    http.post(
                        f"/v1/chats/{chat_id}/messages",
                        json={"body": f"reply {n}", "reply_to": root},
                        headers=user.headers,
                    )
                    for n, user in enumerate(users)
                )
            )

    responses = asyncio.run(race())
    assert [r.status_code for r in responses] == [201] * REPLIERS
    got = sorted(r.json()["seq"] for r in responses)
    assert got == list(range(2, REPLIERS + 2))
    summary = message_at(chats, users[0], chat_id, root)["thread"]
    assert (summary["replies"], summary["last_reply_seq"]) == (REPLIERS, REPLIERS + 1)
    page = thread(chats, users[1], chat_id, root, limit=200).json()
    assert [m["seq"] for m in page["messages"]] == got


def test_a_deleted_root_keeps_its_thread_readable(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chat_id = chats.group(alice, bob)["id"]
    root = chats.send(alice, chat_id, "root")["seq"]
    reply(chats, bob, chat_id, root, "reply")
    assert delete(chats, alice, chat_id, root).status_code == 204
    deleted = message_at(chats, bob, chat_id, root)
    assert (deleted["deleted"], deleted["thread"]["replies"]) == (True, 1)
    assert [m["body"] for m in thread(chats, bob, chat_id, root).json()["messages"]] == ["reply"]


# -- mentions --------------------------------------------------------------------------------


def test_mentions_list_members_named_in_the_body_once_each_in_order(chats: ChatApi) -> None:
    tenant = chats.tenant()
    alice = chats.user(tenant, username="alice-m")
    bob = chats.user(tenant, username="bob.m")
    carol = chats.user(tenant, username="carol_m")
    outsider = chats.user(tenant, username="dave-m")
    chat_id = chats.group(alice, bob, carol)["id"]
    body = (
        "hi @carol_m and @BOB.M. also @carol_m again, @dave-m (not here), "
        "mail bob.m@example.com, @nobody-at-all and @alice-mx"
    )
    sent = chats.send(alice, chat_id, body)
    assert sent["mentions"] == [carol.id, bob.id]
    assert message_at(chats, bob, chat_id, sent["seq"])["mentions"] == [carol.id, bob.id]
    assert outsider.id not in sent["mentions"]
    assert chats.send(alice, chat_id, "no one here @")["mentions"] == []


def test_unread_mentions_count_mentions_after_the_read_marker_and_follow_edits(
    chats: ChatApi,
) -> None:
    tenant = chats.tenant()
    alice = chats.user(tenant, username="alice-u")
    bob = chats.user(tenant, username="bob-u")
    chat_id = chats.group(alice, bob)["id"]
    first = chats.send(alice, chat_id, "@bob-u look")
    chats.send(alice, chat_id, "nothing for bob")
    third = chats.send(alice, chat_id, "@bob-u and @alice-u")
    assert chats.chat(bob, chat_id)["unread_mentions"] == 2
    assert chats.chat(alice, chat_id)["unread_mentions"] == 0  # sending reads
    assert [c["unread_mentions"] for c in chats.listed(bob)] == [2]
    assert read(chats, bob, chat_id, first["seq"]).status_code == 204
    assert chats.chat(bob, chat_id)["unread_mentions"] == 1
    edited = edit(chats, alice, chat_id, third["seq"], "never mind, @alice-u")
    assert edited.json()["mentions"] == [alice.id]
    assert chats.chat(bob, chat_id)["unread_mentions"] == 0
    assert edit(chats, alice, chat_id, third["seq"], "@bob-u again").json()["mentions"] == [bob.id]
    assert chats.chat(bob, chat_id)["unread_mentions"] == 1
    assert delete(chats, alice, chat_id, third["seq"]).status_code == 204
    assert chats.chat(bob, chat_id)["unread_mentions"] == 0
    assert message_at(chats, bob, chat_id, third["seq"])["mentions"] == []
