"""Presence on one replica (docs/api.md "Presence"), in-process, on SQLite and PostgreSQL:
streams make a user online, their choice of away or dnd outlives reconnects, and only
users who share a chat see any of it. tests/integration/chat/test_presence_replicas.py
runs it across replicas through Redis."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from support.chat import ChatApi, User
from support.problems import invalid, problem
from support.stream import Frame, StreamClient, token_of


def presence(api: ChatApi, viewer: User, *users: User) -> dict[str, dict[str, Any]]:
    response = api.http.get(
        "/v1/presence", params=[("user_id", user.id) for user in users], headers=viewer.headers
    )
    assert response.status_code == 200, response.text
    return {entry["user_id"]: entry for entry in response.json()["presence"]}


def set_status(api: ChatApi, user: User, status: str) -> httpx.Response:
    return api.http.put("/v1/presence", json={"status": status}, headers=user.headers)


def shows(user: User, status: str) -> Any:
    """A `recv_until` condition: a presence frame saying `user` is `status` arrived."""

    def done(frames: list[Frame]) -> bool:
        return any(
            frame["type"] == "presence"
            and frame["user_id"] == user.id
            and frame["status"] == status
            for frame in frames
        )

    return done


def presence_frames(frames: list[Frame]) -> list[Frame]:
    return [frame for frame in frames if frame["type"] == "presence"]


def test_a_user_with_an_open_stream_is_online_to_those_who_share_a_chat(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chats.group(alice, bob)
    assert presence(chats, bob, alice)[alice.id]["status"] == "offline"
    assert presence(chats, bob, alice)[alice.id]["last_seen_at"] is None
    with (
        StreamClient(chats.url, token_of(bob), presence=True) as watching,
        StreamClient(chats.url, token_of(alice), presence=True),
    ):
        (frame,) = presence_frames(watching.recv_until(shows(alice, "online")))
        assert set(frame) == {"type", "user_id", "status", "last_seen_at"}
        assert frame["last_seen_at"].endswith("Z")
        assert presence(chats, bob, alice)[alice.id]["status"] == "online"


def test_a_user_goes_offline_only_when_the_last_stream_closes(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chats.group(alice, bob)
    with StreamClient(chats.url, token_of(bob), presence=True) as watching:
        first = StreamClient(chats.url, token_of(alice), presence=True)
        watching.recv_until(shows(alice, "online"))
        with StreamClient(chats.url, token_of(alice), presence=True):
            first.close()
            # Still one stream open: nothing changed, nothing is said.
            assert presence_frames(watching.silence(0.5)) == []
            assert presence(chats, bob, alice)[alice.id]["status"] == "online"
        (frame,) = presence_frames(watching.recv_until(shows(alice, "offline")))
        assert frame["last_seen_at"] is not None
        gone = presence(chats, bob, alice)[alice.id]
        assert (gone["status"], gone["last_seen_at"]) == ("offline", frame["last_seen_at"])


def test_away_and_dnd_are_shown_while_online_and_outlive_reconnects(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chats.group(alice, bob)
    assert set_status(chats, alice, "away").status_code == 204
    # Chosen while offline: still offline until a stream opens.
    assert presence(chats, bob, alice)[alice.id]["status"] == "offline"
    with StreamClient(chats.url, token_of(bob), presence=True) as watching:
        with StreamClient(chats.url, token_of(alice), presence=True):
            watching.recv_until(shows(alice, "away"))
            assert set_status(chats, alice, "dnd").status_code == 204
            watching.recv_until(shows(alice, "dnd"))
            # The same status again is no change and no frame.
            assert set_status(chats, alice, "dnd").status_code == 204
            assert presence_frames(watching.silence(0.5)) == []
        watching.recv_until(shows(alice, "offline"))
        with StreamClient(chats.url, token_of(alice), presence=True):
            watching.recv_until(shows(alice, "dnd"))
            assert presence(chats, bob, alice)[alice.id]["status"] == "dnd"
            assert set_status(chats, alice, "online").status_code == 204
            watching.recv_until(shows(alice, "online"))


def test_only_users_who_share_a_chat_hear_of_or_see_a_users_presence(chats: ChatApi) -> None:
    tenant = chats.tenant()
    alice, bob, stranger = chats.users(3, tenant)
    chats.group(alice, bob)
    with (
        StreamClient(chats.url, token_of(bob), presence=True) as watching,
        StreamClient(chats.url, token_of(stranger), presence=True) as outside,
    ):
        with StreamClient(chats.url, token_of(alice), presence=True):
            watching.recv_until(shows(alice, "online"))
            assert set_status(chats, alice, "away").status_code == 204
            watching.recv_until(shows(alice, "away"))
        watching.recv_until(shows(alice, "offline"))
        assert presence_frames(outside.silence(0.5)) == []
    # Left out of the answer, not refused; and the caller always sees themselves.
    assert set(presence(chats, stranger, alice, bob, stranger)) == {stranger.id}
    assert presence(chats, bob, alice, bob).keys() == {alice.id, bob.id}


def test_a_member_added_while_streaming_starts_hearing_of_the_chat_s_members(
    chats: ChatApi,
) -> None:
    alice, bob, carol = chats.users(3, chats.tenant())
    chat = chats.group(alice, bob)
    with StreamClient(chats.url, token_of(carol), presence=True) as watching:
        response = chats.http.post(
            f"/v1/chats/{chat['id']}/members",
            json={"username": carol.username},
            headers=alice.headers,
        )
        assert response.status_code == 201, response.text
        watching.recv_until(lambda frames: any(f["type"] == "member.joined" for f in frames))
        with StreamClient(chats.url, token_of(bob), presence=True):
            # The stream re-reads whom it watches soon after its chats change: bob's
            # changes reach carol from then on.
            deadline = time.monotonic() + 10
            heard: list[Frame] = []
            while not presence_frames(heard):
                assert time.monotonic() < deadline, "carol never heard of bob"
                for status in ("away", "online"):
                    assert set_status(chats, bob, status).status_code == 204
                heard = [f for f in watching.silence(0.5) if f.get("user_id") == bob.id]


def test_a_member_added_while_streaming_is_told_what_the_members_show_now(
    chats: ChatApi,
) -> None:
    # Alice chose `away` before carol could watch her: without being told when the watch
    # starts, carol would show her as the GET she made earlier said, until alice's next
    # change.
    alice, carol = chats.users(2, chats.tenant())
    chat = chats.group(alice)
    with (
        StreamClient(chats.url, token_of(alice), presence=True),
        StreamClient(chats.url, token_of(carol), presence=True) as watching,
    ):
        assert set_status(chats, alice, "away").status_code == 204
        response = chats.http.post(
            f"/v1/chats/{chat['id']}/members",
            json={"username": carol.username},
            headers=alice.headers,
        )
        assert response.status_code == 201, response.text
        (told,) = presence_frames(watching.recv_until(shows(alice, "away")))
        assert told["user_id"] == alice.id


def test_bad_presence_input_is_a_422_naming_the_field(chats: ChatApi) -> None:
    alice = chats.user()
    for status in ("offline", "busy", "", None, 3, ["away"]):
        invalid(set_status(chats, alice, status), "status")  # type: ignore[arg-type]
    problem(chats.http.put("/v1/presence", json={}, headers=alice.headers), 422)
    ids = {"user_id": [str(uuid.uuid4()) for _ in range(101)]}
    invalid(chats.http.get("/v1/presence", params=ids, headers=alice.headers), "user_id")
    hundred = chats.http.get(
        "/v1/presence", params={"user_id": ids["user_id"][:100]}, headers=alice.headers
    )
    assert hundred.status_code == 200, hundred.text
    for bad in ("not-a-uuid", "", "1234"):
        response = chats.http.get("/v1/presence", params={"user_id": bad}, headers=alice.headers)
        invalid(response, "user_id")
    invalid(chats.http.get("/v1/presence", headers=alice.headers), "user_id")


def test_presence_needs_a_token(chats: ChatApi) -> None:
    problem(chats.http.get("/v1/presence", params={"user_id": str(uuid.uuid4())}), 401)
    problem(chats.http.put("/v1/presence", json={"status": "away"}), 401)
