"""Who may do what to a chat, on SQLite and on PostgreSQL.

docs/api.md: every chat route answers 404 to a caller who is not a member, whether or not
the chat exists, and never shows anything of another tenant; only the owner adds members;
the owner removes anyone and anyone removes themselves; only the sender edits or deletes.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from support.chat import ChatApi, User, new_id
from support.problems import case, problem


@dataclass(frozen=True)
class Scene:
    """Two tenants. In the first: a group owned by alice with bob and carol, one message
    from each of alice and bob; dave never joined; erin joined and left. In the second: a
    user also named alice, and zed."""

    chat_id: str
    alice: User
    bob: User
    carol: User
    dave: User
    erin: User
    other_alice: User
    zed: User

    @property
    def outsiders(self) -> dict[str, User]:
        return {
            "a user of the same tenant who never joined": self.dave,
            "a member who left": self.erin,
            "a user of another tenant with the owner's username": self.other_alice,
            "a user of another tenant": self.zed,
        }


@pytest.fixture
def scene(chats: ChatApi) -> Scene:
    tenant, other = chats.tenant(), chats.tenant()
    alice, bob, carol, dave, erin = (
        chats.user(tenant, username=name) for name in ("alice", "bob", "carol", "dave", "erin")
    )
    chat = chats.group(alice, bob, carol, erin)
    chats.send(alice, chat["id"], "from alice")
    chats.send(bob, chat["id"], "from bob")
    left = chats.http.delete(f"/v1/chats/{chat['id']}/members/erin", headers=erin.headers)
    assert left.status_code == 204, left.text
    return Scene(
        chat["id"],
        alice,
        bob,
        carol,
        dave,
        erin,
        chats.user(other, username="alice"),
        chats.user(other, username="zed"),
    )


@dataclass(frozen=True)
class Route:
    """One chat route; `{chat}`, `{me}`, `{member}` and `{newcomer}` are filled per call."""

    method: str
    path: str
    body: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def call(
        self,
        chats: ChatApi,
        scene: Scene,
        chat_id: str,
        *,
        caller: User | None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        names = {
            "chat": chat_id,
            "me": (caller or scene.alice).username,
            "member": scene.carol.username,
            "newcomer": scene.dave.username,
        }
        body = None
        if self.body is not None:
            body = {
                key: value.format(**names) if isinstance(value, str) else value
                for key, value in self.body.items()
            }
        return chats.http.request(
            self.method,
            self.path.format(**names),
            json=body,
            params=self.params,
            headers=headers if headers is not None else caller.headers if caller else {},
        )


CHAT_ROUTES = {
    "get the chat": Route("GET", "/v1/chats/{chat}"),
    "add a member": Route("POST", "/v1/chats/{chat}/members", {"username": "{newcomer}"}),
    "add themselves": Route("POST", "/v1/chats/{chat}/members", {"username": "{me}"}),
    "remove a member": Route("DELETE", "/v1/chats/{chat}/members/{member}"),
    "leave": Route("DELETE", "/v1/chats/{chat}/members/{me}"),
    "send": Route("POST", "/v1/chats/{chat}/messages", {"body": "let me in"}),
    "send with a client_msg_id": Route(
        "POST", "/v1/chats/{chat}/messages", {"body": "let me in", "client_msg_id": "c-1"}
    ),
    "read the latest history": Route("GET", "/v1/chats/{chat}/messages"),
    "read history after a seq": Route("GET", "/v1/chats/{chat}/messages", params={"after_seq": 0}),
    "read history before a seq": Route(
        "GET", "/v1/chats/{chat}/messages", params={"before_seq": 2}
    ),
    "edit a message": Route("PATCH", "/v1/chats/{chat}/messages/1", {"body": "edited"}),
    "edit a message that does not exist": Route(
        "PATCH", "/v1/chats/{chat}/messages/99", {"body": "edited"}
    ),
    "delete a message": Route("DELETE", "/v1/chats/{chat}/messages/1"),
    "delete a message that does not exist": Route("DELETE", "/v1/chats/{chat}/messages/99"),
    "mark read": Route("POST", "/v1/chats/{chat}/read", {"seq": 1}),
}
ALL_ROUTES = {
    "list chats": Route("GET", "/v1/chats"),
    "create a group": Route("POST", "/v1/chats", {"kind": "group", "members": []}),
    "create a direct chat": Route("POST", "/v1/chats", {"kind": "direct", "members": ["{member}"]}),
    **CHAT_ROUTES,
}
MALFORMED_CHAT_IDS = (
    "not-a-uuid",
    "12345",
    "0",
    "null",
    "00000000-0000-0000-0000-00000000000",
    "00000000-0000-0000-0000-0000000000000",
    "0000000g-0000-0000-0000-000000000000",
    "00000000_0000_0000_0000_000000000000",
    "%00",
    "%ff",
    "%E2%80%AE",
    "%F0%9F%98%80",
    "x" * 500,
)


def snapshot(chats: ChatApi, scene: Scene) -> Any:
    """Everything the members can see of the chat, to show a refused call changed nothing."""
    return [
        (chats.chat(user, scene.chat_id), chats.history(user, scene.chat_id))
        for user in (scene.alice, scene.bob, scene.carol)
    ]


# -- strangers see nothing -----------------------------------------------------------------


@pytest.mark.parametrize("route", CHAT_ROUTES.values(), ids=CHAT_ROUTES.keys())
def test_anyone_outside_the_chat_gets_the_same_404_as_for_a_chat_that_does_not_exist(
    chats: ChatApi, scene: Scene, route: Route
) -> None:
    missing = route.call(chats, scene, new_id(), caller=scene.dave)
    problem(missing, 404)
    before = snapshot(chats, scene)
    for name, outsider in scene.outsiders.items():
        with case(name):
            refused = route.call(chats, scene, scene.chat_id, caller=outsider)
            problem(refused, 404)
            # Nothing in the answer tells a real chat from a made-up id.
            assert refused.json() == missing.json()
    assert snapshot(chats, scene) == before
    for outsider in scene.outsiders.values():
        assert scene.chat_id not in {c["id"] for c in chats.listed(outsider)}


def test_a_chat_id_that_does_not_exist_is_404_on_every_route_even_to_a_member_of_others(
    chats: ChatApi, scene: Scene
) -> None:
    for name, route in CHAT_ROUTES.items():
        for chat_id in (new_id(), "00000000-0000-0000-0000-000000000000"):
            with case(name, chat_id):
                problem(route.call(chats, scene, chat_id, caller=scene.alice), 404)


def test_a_malformed_chat_id_is_404_on_every_chat_route(chats: ChatApi, scene: Scene) -> None:
    for name, route in CHAT_ROUTES.items():
        for chat_id in MALFORMED_CHAT_IDS:
            with case(name, chat_id):
                problem(route.call(chats, scene, chat_id, caller=scene.alice), 404)


def test_users_of_another_tenant_never_see_the_chat_in_their_list(
    chats: ChatApi, scene: Scene
) -> None:
    chats.send(scene.alice, scene.chat_id, "more activity")
    for user in (scene.other_alice, scene.zed):
        assert chats.listed(user) == []
    # Their own chat, between users with the same names as the first tenant's, is theirs.
    mine = chats.group(scene.other_alice, scene.zed)
    assert {m["user_id"] for m in mine["members"]} == {scene.other_alice.id, scene.zed.id}
    assert [c["id"] for c in chats.listed(scene.other_alice)] == [mine["id"]]
    assert scene.chat_id not in {c["id"] for c in chats.listed(scene.zed)}
    assert mine["id"] not in {c["id"] for c in chats.listed(scene.alice)}


def test_usernames_are_per_tenant_when_creating_a_chat(chats: ChatApi, scene: Scene) -> None:
    for kind in ("group", "direct"):
        with case(kind):
            response = chats.http.post(
                "/v1/chats",
                json={"kind": kind, "members": [scene.zed.username]},
                headers=scene.alice.headers,
            )
            problem(response, 404)
    # "bob" exists only in the first tenant; the second tenant's alice cannot reach him.
    for kind in ("group", "direct"):
        with case(kind, "bob"):
            response = chats.http.post(
                "/v1/chats",
                json={"kind": kind, "members": ["bob"]},
                headers=scene.other_alice.headers,
            )
            problem(response, 404)
    assert [c["id"] for c in chats.listed(scene.alice)] == [scene.chat_id]
    assert chats.listed(scene.other_alice) == []
    assert chats.listed(scene.zed) == []


def test_a_direct_chat_by_the_same_name_in_another_tenant_is_another_users(
    chats: ChatApi, scene: Scene
) -> None:
    # zed opens a direct chat with "alice": the second tenant's alice, never the first's.
    response = chats.http.post(
        "/v1/chats", json={"kind": "direct", "members": ["alice"]}, headers=scene.zed.headers
    )
    assert response.status_code == 201, response.text
    assert {m["user_id"] for m in response.json()["members"]} == {
        scene.zed.id,
        scene.other_alice.id,
    }
    assert [c["id"] for c in chats.listed(scene.alice)] == [scene.chat_id]


def test_the_owner_cannot_add_a_user_of_another_tenant(chats: ChatApi, scene: Scene) -> None:
    response = chats.http.post(
        f"/v1/chats/{scene.chat_id}/members",
        json={"username": scene.zed.username},
        headers=scene.alice.headers,
    )
    problem(response, 404)
    assert scene.zed.username not in {
        m["username"] for m in chats.chat(scene.alice, scene.chat_id)["members"]
    }
    assert chats.listed(scene.zed) == []


# -- members and owners --------------------------------------------------------------------


def members(chats: ChatApi, scene: Scene) -> dict[str, str]:
    chat = chats.chat(scene.alice, scene.chat_id)
    return {member["username"]: member["role"] for member in chat["members"]}


def test_only_the_owner_adds_members(chats: ChatApi, scene: Scene) -> None:
    before = members(chats, scene)
    for member in (scene.bob, scene.carol):
        with case(member.username):
            response = chats.http.post(
                f"/v1/chats/{scene.chat_id}/members",
                json={"username": scene.dave.username},
                headers=member.headers,
            )
            problem(response, 403)
    assert members(chats, scene) == before
    problem(chats.http.get(f"/v1/chats/{scene.chat_id}", headers=scene.dave.headers), 404)

    added = chats.http.post(
        f"/v1/chats/{scene.chat_id}/members",
        json={"username": scene.dave.username},
        headers=scene.alice.headers,
    )
    assert added.status_code == 201, added.text
    assert members(chats, scene) == {**before, "dave": "member"}


def test_a_member_cannot_remove_anyone_else_not_even_the_owner(
    chats: ChatApi, scene: Scene
) -> None:
    before = members(chats, scene)
    for actor, target in (
        (scene.bob, scene.carol),
        (scene.bob, scene.alice),
        (scene.carol, scene.bob),
    ):
        with case(actor.username, target.username):
            response = chats.http.delete(
                f"/v1/chats/{scene.chat_id}/members/{target.username}", headers=actor.headers
            )
            problem(response, 403)
    assert members(chats, scene) == before


def test_the_owner_removes_anyone(chats: ChatApi, scene: Scene) -> None:
    for target in (scene.bob, scene.carol):
        response = chats.http.delete(
            f"/v1/chats/{scene.chat_id}/members/{target.username}", headers=scene.alice.headers
        )
        assert response.status_code == 204, response.text
    assert members(chats, scene) == {"alice": "owner"}


def test_anyone_may_leave(chats: ChatApi, scene: Scene) -> None:
    for leaver, left in (
        (scene.carol, {"alice": "owner", "bob": "member"}),
        (scene.bob, {"alice": "owner"}),
    ):
        response = chats.http.delete(
            f"/v1/chats/{scene.chat_id}/members/{leaver.username}", headers=leaver.headers
        )
        assert response.status_code == 204, response.text
        assert members(chats, scene) == left
        assert chats.listed(leaver) == []
    response = chats.http.delete(
        f"/v1/chats/{scene.chat_id}/members/alice", headers=scene.alice.headers
    )
    assert response.status_code == 204, response.text
    assert chats.listed(scene.alice) == []


def test_a_removed_member_cannot_come_back_by_adding_themselves(
    chats: ChatApi, scene: Scene
) -> None:
    response = chats.http.post(
        f"/v1/chats/{scene.chat_id}/members",
        json={"username": scene.erin.username},
        headers=scene.erin.headers,
    )
    problem(response, 404)
    assert "erin" not in members(chats, scene)


# -- senders -------------------------------------------------------------------------------


def test_only_the_sender_edits_or_deletes_a_message(chats: ChatApi, scene: Scene) -> None:
    # Message 2 is bob's; alice owns the chat, carol is another member.
    path = f"/v1/chats/{scene.chat_id}/messages/2"
    for other in (scene.alice, scene.carol):
        with case(other.username):
            problem(chats.http.patch(path, json={"body": "not yours"}, headers=other.headers), 403)
            problem(chats.http.delete(path, headers=other.headers), 403)
    [_, message] = chats.history(scene.carol, scene.chat_id)["messages"]
    assert (message["body"], message["edited_at"], message["deleted"]) == ("from bob", None, False)

    edited = chats.http.patch(path, json={"body": "mine"}, headers=scene.bob.headers)
    assert (edited.status_code, edited.json()["body"]) == (200, "mine")
    assert chats.http.delete(path, headers=scene.bob.headers).status_code == 204


def test_the_owner_edits_only_their_own_messages(chats: ChatApi, scene: Scene) -> None:
    response = chats.http.patch(
        f"/v1/chats/{scene.chat_id}/messages/1",
        json={"body": "mine to change"},
        headers=scene.alice.headers,
    )
    assert (response.status_code, response.json()["sender_id"]) == (200, scene.alice.id)
    problem(
        chats.http.patch(
            f"/v1/chats/{scene.chat_id}/messages/1",
            json={"body": "yours?"},
            headers=scene.bob.headers,
        ),
        403,
    )


def test_a_sender_who_left_can_no_longer_touch_their_messages(chats: ChatApi, scene: Scene) -> None:
    path = f"/v1/chats/{scene.chat_id}/messages/2"
    left = chats.http.delete(f"/v1/chats/{scene.chat_id}/members/bob", headers=scene.bob.headers)
    assert left.status_code == 204
    problem(chats.http.patch(path, json={"body": "edited"}, headers=scene.bob.headers), 404)
    problem(chats.http.delete(path, headers=scene.bob.headers), 404)
    [_, message] = chats.history(scene.alice, scene.chat_id)["messages"]
    assert (message["body"], message["deleted"]) == ("from bob", False)


# -- tokens --------------------------------------------------------------------------------


def forged(token: str) -> list[str]:
    """Tokens made from a real one that no verifier may accept."""
    head, payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    other_tenant = base64.urlsafe_b64encode(
        json.dumps({**claims, "tid": "someone-else"}).encode()
    ).rstrip(b"=")
    unsigned = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    return [
        f"{head}.{payload}.{flipped}",
        f"{head}.{payload}.",
        f"{head}.{payload}",
        f"{head}.{other_tenant.decode()}.{signature}",
        f"{unsigned}.{payload}.",
        token[:-4],
    ]


def test_every_route_without_a_good_token_is_401_and_changes_nothing(
    chats: ChatApi, scene: Scene
) -> None:
    token = scene.alice.headers["Authorization"].removeprefix("Bearer ")
    bad_headers: list[dict[str, str]] = [
        {},
        {"Authorization": ""},
        {"Authorization": "garbage"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer garbage"},
        {"Authorization": "Bearer a.b.c"},
        {"Authorization": f"Basic {token}"},
        {"Authorization": f"Token {token}"},
        # The admin token opens /internal routes only.
        chats.admin,
        *({"Authorization": f"Bearer {fake}"} for fake in forged(token)),
    ]
    before = snapshot(chats, scene)
    for name, route in ALL_ROUTES.items():
        for headers in bad_headers:
            with case(name, headers):
                response = route.call(chats, scene, scene.chat_id, caller=None, headers=headers)
                problem(response, 401)
    assert snapshot(chats, scene) == before
    assert [c["id"] for c in chats.listed(scene.alice)] == [scene.chat_id]
