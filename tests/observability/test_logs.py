"""Logs, as the real processes write them to stdout: one JSON object a line with ECS field
names, one line per request carrying its trace, its caller and its route template, and
never a password, a token or a message body."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from support import auth, chat
from support.observability import Stack
from support.stream import StreamClient, token_of

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _lines(stack: Stack) -> list[dict[str, Any]]:
    parsed = []
    for line in stack.logs():
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"not a JSON line: {line[:200]}") from None
    return parsed


def _lines_once(
    stack: Stack, written: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """The log, once `written(lines)` holds: a request's line is written just after its
    answer has gone to the client."""
    deadline = time.monotonic() + 10
    while not written(lines := _lines(stack)):
        assert time.monotonic() < deadline, "the expected lines were never written"
        time.sleep(0.05)
    return lines


def _requests(lines: list[dict[str, Any]], message: str) -> list[dict[str, Any]]:
    return [
        line
        for line in lines
        if line["log.logger"] == "parley.access" and line["message"] == message
    ]


def test_a_register_login_send_flow_logs_no_password_token_or_message_body(stack: Stack) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    wrong_password = f"wrong-{uuid.uuid4().hex}"
    body = f"body-{uuid.uuid4().hex}"
    with auth.AuthApi(stack.auth.url) as accounts:
        api = chat.ChatApi(stack.chat.url, accounts)
        tenant = accounts.tenant()
        alice = accounts.account(tenant, password=password)
        bob = api.user(tenant)
        wrong = {"tenant": tenant, "username": alice.username, "password": wrong_password}
        assert accounts.http.post("/v1/auth/login", json=wrong).status_code == 401
        pair = accounts.login(alice)
        headers = auth.AuthApi.bearer(pair)
        room = api.http.post(
            "/v1/chats", json={"kind": "group", "members": [bob.username]}, headers=headers
        ).json()["id"]
        # Browsers put the access token in the query of /v1/stream.
        with StreamClient(stack.chat.url, token_of(bob), via_query=True) as stream:
            sent = api.http.post(f"/v1/chats/{room}/messages", json={"body": body}, headers=headers)
            assert sent.status_code == 201, sent.text
            assert stream.messages(1)[0]["message"]["body"] == body
        renewed = accounts.http.post(
            "/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
        )
        assert renewed.status_code == 200
        logout = {"refresh_token": renewed.json()["refresh_token"]}
        assert accounts.http.post("/v1/auth/logout", json=logout).status_code == 204
        api.close()
    lines = _lines_once(
        stack,
        lambda lines: (
            any(line["message"] == "POST /v1/auth/logout 204" for line in lines)
            and any(
                line.get("user.id") == bob.id and "WEBSOCKET" in line["message"] for line in lines
            )
        ),
    )
    written = "\n".join(stack.logs())
    secrets = {
        "password": password,
        "wrong password": wrong_password,
        "message body": body,
        "access token": pair["access_token"],
        "refresh token": pair["refresh_token"],
        "renewed access token": renewed.json()["access_token"],
        "renewed refresh token": renewed.json()["refresh_token"],
        "stream token": token_of(bob),
        "admin token": auth.ADMIN_TOKEN,
    }
    for what, secret in secrets.items():
        assert secret not in written, f"the {what} is in the log"
    # Nor any fragment of a JWT (its signature is the part that must never leak).
    for token in (pair["access_token"], token_of(bob)):
        assert token.rsplit(".", 1)[1] not in written
    assert "Bearer " not in written

    sends = [
        line
        for line in _requests(lines, "POST /v1/chats/{chat_id}/messages 201")
        if line.get("user.id") == alice.id
    ]
    assert len(sends) == 1
    assert sends[0]["tenant"] == tenant
    assert any(line["message"] == "WEBSOCKET /v1/stream closed 1000" for line in lines)


def test_each_request_is_one_line_with_its_route_status_duration_caller_and_trace(
    stack: Stack,
) -> None:
    with auth.AuthApi(stack.auth.url) as accounts:
        api = chat.ChatApi(stack.chat.url, accounts)
        alice, bob = api.users(2)
        room = api.group(alice, bob)["id"]
        message = api.send(alice, room, "hello")
        api.history(bob, room, after_seq=0, limit=5)
        api.close()
    lines = _lines_once(
        stack,
        lambda lines: any(
            line["message"] == "GET /v1/chats/{chat_id}/messages 200"
            and line.get("user.id") == bob.id
            for line in lines
        ),
    )

    (send,) = [
        line
        for line in _requests(lines, "POST /v1/chats/{chat_id}/messages 201")
        if line.get("user.id") == alice.id
    ]
    assert send["log.level"] == "info"
    assert send["service.name"] == "parley-chat"
    assert send["http.request.method"] == "POST"
    assert send["url.path_template"] == "/v1/chats/{chat_id}/messages"
    assert send["http.response.status_code"] == 201
    assert isinstance(send["event.duration"], int)
    assert send["event.duration"] > 0
    assert send["tenant"] == alice.tenant
    assert re.fullmatch(r"[0-9a-f]{32}", send["trace.id"])
    assert re.fullmatch(r"[0-9a-f]{16}", send["span.id"])
    datetime_line = send["@timestamp"]
    assert datetime_line.endswith("+00:00")

    # The call chat made to auth for this send is logged by auth under the same trace.
    (policy,) = [
        line
        for line in _requests(lines, "GET /internal/v1/tenants/{slug} 200")
        if line.get("trace.id") == send["trace.id"]
    ]
    assert policy["service.name"] == "parley-auth"

    # Query strings and ids stay out of the route: only templates, whatever the request.
    (history,) = [
        line
        for line in _requests(lines, "GET /v1/chats/{chat_id}/messages 200")
        if line.get("user.id") == bob.id
    ]
    assert str(message["chat_id"]) not in json.dumps(history)
    for line in lines:
        if line["log.logger"] == "parley.access":
            assert not UUID.search(line["url.path_template"]), line
            assert "?" not in line["url.path_template"], line


def test_a_request_line_carries_the_request_id_the_answer_names(stack: Stack) -> None:
    sent = f"log-{uuid.uuid4().hex}"
    named = httpx.get(f"{stack.auth.url}/v1/auth/me", headers={"X-Request-Id": sent}, timeout=10)
    generated = httpx.get(f"{stack.chat.url}/v1/chats", timeout=10)
    assert named.status_code == generated.status_code == 401
    assert named.headers["x-request-id"] == sent
    chosen = generated.headers["x-request-id"]

    lines = _lines_once(
        stack,
        lambda lines: {sent, chosen} <= {line.get("http.request.id") for line in lines},
    )

    (auth_line,) = [line for line in lines if line.get("http.request.id") == sent]
    assert auth_line["message"] == "GET /v1/auth/me 401"
    (chat_line,) = [line for line in lines if line.get("http.request.id") == chosen]
    assert chat_line["message"] == "GET /v1/chats 401"


def test_probes_and_scrapes_are_not_logged_and_every_line_is_json(stack: Stack) -> None:
    for url in (stack.auth.url, stack.chat.url):
        for path in ("/healthz", "/readyz", "/metrics"):
            assert httpx.get(f"{url}{path}", timeout=10).status_code == 200
    time.sleep(0.3)  # time enough for a line to be written, were one written
    lines = _lines(stack)
    routes = {line.get("url.path_template") for line in lines}
    assert not routes & {"/healthz", "/readyz", "/metrics"}
    for line in lines:
        assert {"@timestamp", "log.level", "log.logger", "message"} <= set(line), line
