"""What a tenant's spec does on the chat routes of docs/api.md (its limits), and the
chat server's own DELETE /internal/v1/tenants/{slug}, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx

from support.auth import AuthApi
from support.chat import ChatApi, User, rows_of_tenant
from support.chat_routes import direct, edit, post
from support.problems import invalid, problem

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


BUSY = {
    "chats": 2,
    "chat_members": 4,
    "messages": 3,
    "message_reactions": 1,
    "message_mentions": 1,
    # Two chats of two members joining, three messages and a reaction.
    "events": 8,
    "event_positions": 1,
    "webhooks": 1,
}
"""What `busy_tenant` leaves in each chat table."""
EMPTY = dict.fromkeys(BUSY, 0)


def busy_tenant(chats: ChatApi) -> tuple[str, User, User, dict[str, Any]]:
    """A tenant with a group, a direct chat, members, messages, a mention, a reaction and a
    webhook."""
    tenant = chats.tenant()
    alice, bob = chats.users(2, tenant)
    chat = chats.group(alice, bob)
    chats.send(alice, chat["id"], "one")
    chats.send(bob, chat["id"], f"two, @{alice.username}", client_msg_id="c-2")
    reaction = f"/v1/chats/{chat['id']}/messages/1/reactions/%3Aok%3A"
    assert chats.http.put(reaction, headers=bob.headers).status_code == 204
    pair = direct(chats, alice, bob).json()
    chats.send(bob, pair["id"], "psst")
    hook = chats.http.put(
        "/v1/tenant/webhooks/push",
        json={"url": "https://hooks.example.com/parley", "events": ["message"]},
        headers=AuthApi.bearer(chats.accounts.server_key(tenant)),
    )
    assert hook.status_code == 201, hook.text
    return tenant, alice, bob, chat


def test_purging_a_tenant_removes_all_its_chats_members_and_messages(
    chats: ChatApi, database_url: str
) -> None:
    tenant, alice, bob, chat = busy_tenant(chats)
    assert rows_of_tenant(database_url, tenant) == BUSY

    response = purge(chats, tenant)

    assert response.status_code == 204
    assert response.content == b""
    assert rows_of_tenant(database_url, tenant) == EMPTY
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
    assert rows_of_tenant(database_url, tenant) == EMPTY


def test_purging_a_tenant_leaves_other_tenants_untouched(chats: ChatApi, database_url: str) -> None:
    doomed, *_ = busy_tenant(chats)
    kept, carol, dave, chat = busy_tenant(chats)
    before = chats.history(dave, chat["id"])

    assert purge(chats, doomed).status_code == 204

    assert rows_of_tenant(database_url, kept) == BUSY
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
    assert rows_of_tenant(database_url, tenant) == BUSY


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
