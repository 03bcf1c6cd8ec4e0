"""Tokens belong to one incarnation of a tenant, and a suspended tenant may only read
(docs/api.md v1 additions: "A suspended tenant refuses every write with 403")."""

from __future__ import annotations

from typing import Any

from support.chat import ChatApi, User
from support.problems import case, problem


def _put_tenant(chats: ChatApi, tenant: str, *, expect: int, **spec: Any) -> None:
    response = chats.accounts.http.put(
        f"/internal/v1/tenants/{tenant}",
        json={"display_name": tenant, "self_registration": True, **spec},
        headers=chats.admin,
    )
    assert response.status_code == expect, response.text


def _delete_tenant(chats: ChatApi, tenant: str) -> None:
    for http in (chats.accounts.http, chats.http):
        response = http.delete(f"/internal/v1/tenants/{tenant}", headers=chats.admin)
        assert response.status_code == 204, response.text


def test_a_token_of_a_deleted_tenant_is_refused_once_its_slug_is_created_again(
    chats: ChatApi,
) -> None:
    tenant = chats.tenant()
    ghost = chats.user(tenant)
    _delete_tenant(chats, tenant)
    _put_tenant(chats, tenant, expect=201)
    newcomer = chats.user(tenant)

    attempts = [
        ("POST", "/v1/chats", {"kind": "group", "title": "t", "members": [newcomer.username]}),
        ("POST", "/v1/chats", {"kind": "direct", "members": [newcomer.username]}),
        ("GET", "/v1/chats", None),
    ]
    for method, path, body in attempts:
        with case(method, path):
            response = chats.http.request(method, path, json=body, headers=ghost.headers)
            problem(response, 401)
    # The new incarnation's own users are not affected.
    other = chats.user(tenant)
    chat_id = chats.group(newcomer, other)["id"]
    chats.send(newcomer, chat_id, "hello")


def test_a_suspended_tenant_refuses_every_write_with_403_and_still_reads(
    chats: ChatApi,
) -> None:
    tenant = chats.tenant()
    alice, bob, carol = (chats.user(tenant) for _ in range(3))
    chat_id = chats.group(alice, bob)["id"]
    chats.send(alice, chat_id, "before")
    _put_tenant(chats, tenant, expect=200, suspended=True)

    writes: list[tuple[User, str, str, Any]] = [
        (alice, "POST", "/v1/chats", {"kind": "group", "title": "t", "members": []}),
        (alice, "POST", f"/v1/chats/{chat_id}/members", {"username": carol.username}),
        (alice, "DELETE", f"/v1/chats/{chat_id}/members/{bob.username}", None),
        (bob, "DELETE", f"/v1/chats/{chat_id}/members/{bob.username}", None),
        (alice, "POST", f"/v1/chats/{chat_id}/messages", {"body": "during"}),
        (alice, "PATCH", f"/v1/chats/{chat_id}/messages/1", {"body": "edited"}),
        (alice, "DELETE", f"/v1/chats/{chat_id}/messages/1", None),
        (bob, "POST", f"/v1/chats/{chat_id}/read", {"seq": 1}),
        (alice, "POST", "/v1/stream/ticket", None),
    ]
    for user, method, path, body in writes:
        with case(method, path):
            response = chats.http.request(method, path, json=body, headers=user.headers)
            problem(response, 403)

    # Nothing changed, and reading still works.
    (message,) = chats.history(bob, chat_id)["messages"]
    assert (message["body"], message["edited_at"], message["deleted"]) == ("before", None, False)
    after = chats.chat(bob, chat_id)
    assert {m["username"] for m in after["members"]} == {alice.username, bob.username}
    assert after["last_read_seq"] == 0

    _put_tenant(chats, tenant, expect=200, suspended=False)
    chats.send(alice, chat_id, "after")
