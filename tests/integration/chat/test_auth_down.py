"""Chat while auth is down (issue 3): sends into existing chats keep working from the
cache, what needs auth answers a quick 503 naming it, and chat recovers by itself.

Auth runs as a real process that the tests stop and start again on the same port.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from parley_chat import app as chat_app
from support import auth, chat
from support.chat import ChatApi
from support.problems import unavailable
from support.processes import ServiceProcess
from support.servers import ServedApp


@dataclass
class Stack:
    auth: ServiceProcess
    chat: ServedApp
    api: ChatApi


def auth_process(tmp_path: Path) -> ServiceProcess:
    env = {
        "PARLEY_DATABASE_URL": auth.migrated(f"sqlite+aiosqlite:///{tmp_path}/auth.db"),
        "PARLEY_DATA_DIR": str(tmp_path / "auth"),
        "PARLEY_ADMIN_TOKEN": auth.ADMIN_TOKEN,
        **auth.PROCESS_ENV,
    }
    return ServiceProcess("parley_auth", env, log_dir=tmp_path)


def chat_server(tmp_path: Path, auth_url: str) -> ServedApp:
    settings = chat.settings(
        tmp_path / "chat",
        chat.migrated(f"sqlite+aiosqlite:///{tmp_path}/chat.db"),
        auth_url,
        auth={"breaker_reset_seconds": 1},
    )
    return ServedApp(chat_app.create_app(settings))


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with auth_process(tmp_path) as auth_service, chat_server(tmp_path, auth_service.url) as served:
        accounts = auth.AuthApi(auth_service.url)
        api = chat.ChatApi(served.url, accounts)
        try:
            yield Stack(auth_service, served, api)
        finally:
            api.close()
            accounts.close()


def timed_post(
    http: httpx.Client, path: str, body: object, user: chat.User
) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = http.post(path, json=body, headers=user.headers)
    return response, time.monotonic() - started


def test_sending_into_an_existing_chat_keeps_working_while_auth_is_down(stack: Stack) -> None:
    alice, bob = stack.api.users(2)
    chat_id = stack.api.group(alice, bob)["id"]
    stack.api.send(alice, chat_id, "before the outage")

    stack.auth.stop()

    for user, text in ((alice, "during 1"), (bob, "during 2"), (alice, "during 3")):
        stack.api.send(user, chat_id, text)
    history = stack.api.history(bob, chat_id)["messages"]
    assert [m["body"] for m in history] == ["before the outage", "during 1", "during 2", "during 3"]
    assert [m["seq"] for m in history] == [1, 2, 3, 4]


def test_what_needs_auth_answers_a_quick_503_naming_it(stack: Stack) -> None:
    alice, bob = stack.api.users(2)
    stack.api.send(alice, stack.api.group(alice)["id"])  # alice's token and tenant are known
    stack.auth.stop()

    response, elapsed = timed_post(
        stack.api.http, "/v1/chats", {"kind": "direct", "members": [bob.username]}, alice
    )
    unavailable(response, "auth")
    assert "Retry-After" in response.headers
    assert elapsed < 3


def test_a_chat_process_that_never_reached_auth_answers_503_not_401(tmp_path: Path) -> None:
    with auth_process(tmp_path) as auth_service, auth.AuthApi(auth_service.url) as accounts:
        token = accounts.login(accounts.account())
    # Auth is gone before this chat process ever fetched the JWKS.
    with (
        chat_server(tmp_path, auth_service.url) as served,
        httpx.Client(base_url=served.url) as http,
    ):
        response = http.get("/v1/chats", headers=auth.AuthApi.bearer(token))
    assert response.status_code == 503
    assert response.json()["detail"] == "auth unavailable"


def test_chat_recovers_by_itself_when_auth_returns(stack: Stack) -> None:
    alice, bob = stack.api.users(2)
    stack.api.send(alice, stack.api.group(alice)["id"])
    stack.auth.stop()
    body = {"kind": "direct", "members": [bob.username]}
    # Enough failures to open the circuit: the later ones fail fast.
    for _ in range(6):
        assert stack.api.http.post("/v1/chats", json=body, headers=alice.headers).status_code == 503
    _, elapsed = timed_post(stack.api.http, "/v1/chats", body, alice)
    assert elapsed < 0.5

    stack.auth.start()
    deadline = time.monotonic() + 10
    while (
        response := stack.api.http.post("/v1/chats", json=body, headers=alice.headers)
    ).status_code == 503:
        assert time.monotonic() < deadline, "chat did not recover after auth came back"
        time.sleep(0.2)
    assert response.status_code == 201


def test_a_hung_auth_costs_at_most_the_time_budget(tmp_path: Path) -> None:
    # A listener that accepts connections and never answers: the worst kind of outage.
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(64)
        hung_url = f"http://127.0.0.1:{hung.getsockname()[1]}"
        with auth_process(tmp_path) as auth_service, auth.AuthApi(auth_service.url) as accounts:
            token = accounts.login(accounts.account())
            with (
                chat_server(tmp_path, hung_url) as served,
                httpx.Client(base_url=served.url, timeout=30) as http,
            ):
                started = time.monotonic()
                response = http.get("/v1/chats", headers=auth.AuthApi.bearer(token))
                elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert elapsed < 4  # the 2 s budget, plus scheduling slack
