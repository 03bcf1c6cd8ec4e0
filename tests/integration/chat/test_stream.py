"""`GET /v1/stream` on one replica (in-process broker), on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from parley_auth.app import create_app as create_auth_app
from parley_chat import app as chat_app
from support import auth, chat
from support.chat import ChatApi
from support.problems import problem
from support.servers import ServedApp
from support.stream import (
    StreamClient,
    close_code_at_connect,
    open_stalled,
    read_frames_until_close,
    ticket_for,
    token_of,
    ws_url,
)


def test_a_bad_or_missing_token_closes_the_socket_with_4401(chats: ChatApi) -> None:
    for url in (ws_url(chats.url), ws_url(chats.url) + "?access_token=not-a-token"):
        with connect(url) as ws, pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401


def test_the_token_may_come_in_the_query_for_browsers(chats: ChatApi) -> None:
    alice = chats.user()
    with StreamClient(chats.url, token_of(alice), via_query=True) as stream:
        assert stream.user_id == alice.id


def test_messages_edits_and_deletions_arrive_in_order(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chat_id = chats.group(alice, bob)["id"]
    with StreamClient(chats.url, token_of(bob)) as stream:
        for n in range(5):
            chats.send(alice, chat_id, f"m{n}")
        got = stream.messages(5)
        assert [(f["chat_id"], f["message"]["seq"]) for f in got] == [
            (chat_id, seq) for seq in range(1, 6)
        ]
        assert [f["message"]["body"] for f in got] == [f"m{n}" for n in range(5)]

        chats.http.patch(
            f"/v1/chats/{chat_id}/messages/2", json={"body": "edited"}, headers=alice.headers
        )
        chats.http.delete(f"/v1/chats/{chat_id}/messages/3", headers=alice.headers)
        updates = stream.recv_until(lambda got: len(got) >= 2)
        assert [(u["type"], u["message"]["seq"]) for u in updates] == [
            ("message.updated", 2),
            ("message.updated", 3),
        ]
        assert updates[0]["message"]["body"] == "edited"
        assert (updates[1]["message"]["deleted"], updates[1]["message"]["body"]) == (True, "")


def test_an_idempotent_repeat_is_not_delivered_twice(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chat_id = chats.group(alice, bob)["id"]
    with StreamClient(chats.url, token_of(bob)) as stream:
        chats.send(alice, chat_id, "once", client_msg_id="k1")
        repeat = chats.http.post(
            f"/v1/chats/{chat_id}/messages",
            json={"body": "once", "client_msg_id": "k1"},
            headers=alice.headers,
        )
        assert repeat.status_code == 200
        chats.send(alice, chat_id, "next")
        got = stream.messages(2)
        assert [f["message"]["body"] for f in got] == ["once", "next"]
        assert stream.silence(0.3) == []


def test_a_chat_joined_after_connecting_is_delivered_from_the_join(chats: ChatApi) -> None:
    alice, bob, carol = chats.users(3)
    chat_id = chats.group(alice, carol)["id"]
    chats.send(alice, chat_id, "before bob")
    with StreamClient(chats.url, token_of(bob)) as stream:
        added = chats.http.post(
            f"/v1/chats/{chat_id}/members", json={"username": bob.username}, headers=alice.headers
        )
        assert added.status_code == 201
        joined = stream.recv()
        assert joined["type"] == "member.joined"
        assert (joined["chat_id"], joined["member"]["username"]) == (chat_id, bob.username)
        chats.send(carol, chat_id, "after bob")
        (message,) = stream.messages(1)
        assert (message["message"]["seq"], message["message"]["body"]) == (2, "after bob")


def test_a_new_chat_with_the_user_is_delivered_too(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    with StreamClient(chats.url, token_of(bob)) as stream:
        chat_id = chats.group(alice, bob)["id"]
        chats.send(alice, chat_id, "hello")
        frames = stream.recv_until(lambda got: any(f["type"] == "message" for f in got))
        assert frames[0]["type"] == "member.joined"
        assert frames[-1]["message"]["body"] == "hello"


def test_leaving_a_chat_stops_its_delivery(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chat_id = chats.group(alice, bob)["id"]
    other_id = chats.group(alice, bob, title="other")["id"]
    with StreamClient(chats.url, token_of(bob)) as stream:
        left = chats.http.delete(f"/v1/chats/{chat_id}/members/{bob.username}", headers=bob.headers)
        assert left.status_code == 204
        frame = stream.recv()
        assert (frame["type"], frame["member"]["username"]) == ("member.left", bob.username)
        chats.send(alice, chat_id, "bob is gone")
        chats.send(alice, other_id, "sentinel")
        (message,) = stream.messages(1)
        assert message["message"]["body"] == "sentinel"
        assert stream.silence(0.3) == []


def test_a_stranger_and_another_tenant_receive_nothing(chats: ChatApi) -> None:
    alice, bob, stranger = chats.users(3)
    foreigner = chats.user()  # another tenant
    chat_id = chats.group(alice, bob)["id"]
    with (
        StreamClient(chats.url, token_of(stranger)) as watching,
        StreamClient(chats.url, token_of(foreigner)) as abroad,
    ):
        for n in range(3):
            chats.send(alice, chat_id, f"private {n}")
        # Typing and resume cannot be used to peek either.
        watching.send({"type": "resume", "cursors": {chat_id: 0}})
        watching.send({"type": "typing", "chat_id": chat_id})
        assert [f["type"] for f in watching.silence(0.5)] == ["error"]
        abroad.send({"type": "resume", "cursors": {chat_id: 0}})
        assert abroad.silence(0.5) == []


def test_resume_replays_after_each_cursor_then_goes_live_without_gaps_or_duplicates(
    chats: ChatApi,
) -> None:
    alice, bob = chats.users(2)
    first = chats.group(alice, bob, title="first")["id"]
    second = chats.group(alice, bob, title="second")["id"]
    for n in range(1, 8):
        chats.send(alice, first, f"f{n}")
    for n in range(1, 4):
        chats.send(alice, second, f"s{n}")
    with StreamClient(chats.url, token_of(bob)) as stream:
        stream.send({"type": "resume", "cursors": {first: 4, second: 0}})
        chats.send(alice, first, "f8")
        got = stream.messages(3 + 3 + 1)
    by_chat: dict[str, list[int]] = {}
    for frame in got:
        by_chat.setdefault(frame["chat_id"], []).append(frame["message"]["seq"])
    assert by_chat == {first: [5, 6, 7, 8], second: [1, 2, 3]}


def test_a_bad_frame_gets_an_error_frame_and_the_connection_lives_on(chats: ChatApi) -> None:
    alice = chats.user()
    with StreamClient(chats.url, token_of(alice)) as stream:
        for bad in (
            "not json",
            "[]",
            '{"type": "nope"}',
            '{"type": "resume"}',
            '{"type": "typing", "chat_id": "not-a-uuid"}',
            "\u0000" * 10,
        ):
            stream.ws.send(bad)
            frame = stream.recv()
            assert frame["type"] == "error", bad
            assert frame["detail"]
        stream.ws.send(b"\xff\xfe binary")
        assert stream.recv()["type"] == "error"
        stream.send({"type": "ping"})
        assert stream.recv() == {"type": "pong"}


def test_typing_is_relayed_to_others_rate_limited_and_never_stored(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chat_id = chats.group(alice, bob)["id"]
    with (
        StreamClient(chats.url, token_of(alice)) as typist,
        StreamClient(chats.url, token_of(bob)) as watcher,
    ):
        watcher.send({"type": "ping"})  # a client speaks first (docs/stream.md)
        assert watcher.recv() == {"type": "pong"}
        for _ in range(5):
            typist.send({"type": "typing", "chat_id": chat_id})
        frames = watcher.silence(0.7)
        assert frames == [
            {"type": "typing", "chat_id": chat_id, "user_id": alice.id, "username": alice.username}
        ]
        assert typist.silence(0.2) == []  # not echoed to the typist
    assert chats.history(bob, chat_id)["messages"] == []


@pytest.fixture
def tight_server(
    request: pytest.FixtureRequest,
    auth_server: str,
    database_url: str,
    chats: ChatApi,
    tmp_path: Path,
) -> Iterator[str]:
    """A chat server with the stream settings the test passes as its parameter."""
    settings = chat.settings(tmp_path, database_url, auth_server, **request.param)
    with ServedApp(chat_app.create_app(settings)) as served:
        yield served.url


@pytest.mark.parametrize("tight_server", [{"stream": {"queue_size": 16}}], indirect=True)
def test_a_client_that_stops_reading_is_closed_with_4429_without_slowing_anyone(
    chats: ChatApi, tight_server: str
) -> None:
    tenant = chats.tenant(limits={"max_message_chars": 100_000, "messages_per_minute": 100_000})
    alice, bob, carol = chats.users(3, tenant)
    chat_id = chats.group(alice, bob, carol)["id"]
    body = "x" * 100_000
    stalled = open_stalled(tight_server, token_of(bob))  # reads nothing from here on
    with (
        closing(stalled),
        StreamClient(tight_server, token_of(carol)) as reader,
        httpx.Client(base_url=tight_server, headers=alice.headers, timeout=30) as sender,
    ):
        started = time.monotonic()
        for _ in range(200):
            response = sender.post(f"/v1/chats/{chat_id}/messages", json={"body": body})
            assert response.status_code == 201
        sending = time.monotonic() - started
        assert [f["message"]["seq"] for f in reader.messages(200, timeout=60)] == list(
            range(1, 201)
        )
        # Bob's connection got what fitted in the pipes, then the close.
        delivered, code = read_frames_until_close(stalled)
        assert code == 4429
        assert delivered < 200
    assert sending < 60  # the sender never waited on bob


@pytest.mark.parametrize("tight_server", [{"stream": {"idle_seconds": 1.5}}], indirect=True)
def test_a_silent_client_is_closed_with_4408_and_pings_keep_it_open(
    chats: ChatApi, tight_server: str
) -> None:
    alice = chats.user()
    with StreamClient(tight_server, token_of(alice)) as pinging:
        for _ in range(4):
            time.sleep(0.6)
            pinging.send({"type": "ping"})
            assert pinging.recv() == {"type": "pong"}
    with StreamClient(tight_server, token_of(alice)) as silent:
        assert silent.close_code(timeout=10) == 4408


def test_the_socket_closes_with_4401_when_the_access_token_expires(tmp_path: Path) -> None:
    database_url = chat.migrated(auth.migrated(f"sqlite+aiosqlite:///{tmp_path}/parley.db"))
    short = auth.settings(tmp_path / "auth", database_url, access_token_ttl_seconds=10)
    with ServedApp(create_auth_app(short)) as auth_server, auth.AuthApi(auth_server.url) as api:
        token = api.login(api.account(api.tenant()))["access_token"]
        settings = chat.settings(tmp_path / "chat", database_url, auth_server.url)
        with (
            ServedApp(chat_app.create_app(settings)) as chat_server,
            StreamClient(chat_server.url, token) as stream,
        ):
            started = time.monotonic()
            assert stream.close_code(timeout=30) == 4401
    # Ten seconds of life, plus the verifier's five seconds of allowed clock skew at most.
    assert time.monotonic() - started < 20


def test_live_messages_sent_before_the_resume_arrives_are_neither_repeated_nor_reordered(
    chats: ChatApi,
) -> None:
    alice, bob = chats.users(2)
    chat_id = chats.group(alice, bob)["id"]
    for n in range(1, 6):
        chats.send(alice, chat_id, f"m{n}")
    with StreamClient(chats.url, token_of(bob)) as stream:
        for n in range(6, 9):  # live, between `ready` and the client's resume
            chats.send(alice, chat_id, f"m{n}")
        time.sleep(0.2)
        stream.send({"type": "resume", "cursors": {chat_id: 2}})
        got = [f["message"]["seq"] for f in stream.messages(6)]
        assert got == [3, 4, 5, 6, 7, 8]
        assert stream.silence(0.5) == []


def test_a_stream_ticket_opens_one_stream_and_only_once(chats: ChatApi) -> None:
    alice = chats.user()
    issued = ticket_for(chats.url, token_of(alice))
    assert 0 < issued["expires_in"] <= 60
    with StreamClient(chats.url, "", ticket=issued["ticket"]) as stream:
        assert stream.user_id == alice.id
    assert close_code_at_connect(chats.url, f"?ticket={issued['ticket']}") == 4401
    assert close_code_at_connect(chats.url, "?ticket=never-issued") == 4401


@pytest.mark.parametrize("tight_server", [{"stream": {"ticket_seconds": 1}}], indirect=True)
def test_an_expired_stream_ticket_closes_the_socket_with_4401(
    chats: ChatApi, tight_server: str
) -> None:
    alice = chats.user()
    issued = ticket_for(tight_server, token_of(alice))
    assert issued["expires_in"] == 1
    expired_at = time.monotonic() + issued["expires_in"]
    while time.monotonic() <= expired_at:
        time.sleep(0.05)
    assert close_code_at_connect(tight_server, f"?ticket={issued['ticket']}") == 4401


def test_a_stream_ticket_needs_a_valid_token(chats: ChatApi) -> None:
    response = chats.http.post("/v1/stream/ticket")
    problem(response, 401)
    response = chats.http.post("/v1/stream/ticket", headers={"Authorization": "Bearer nope"})
    problem(response, 401)
