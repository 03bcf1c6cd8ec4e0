"""`X-Request-Id` (docs/api.md "Conventions"): every answer names its request, the caller's
id when it is plain and short, a generated one otherwise; browsers may read it and
`Retry-After` through CORS. The id in the logs and on the span: tests/observability."""

from __future__ import annotations

import re

import httpx
import pytest
from websockets.sync.client import connect

from parley_chat import app as chat_app
from support import chat
from support.problems import case
from support.servers import ServedApp
from support.stream import token_of, ws_url

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/healthz"),
        ("GET", "/metrics"),
        ("GET", "/v1/chats"),
        ("GET", "/no/such/route"),
        ("DELETE", "/v1/openapi.json"),
        ("POST", "/v1/chats"),
    ],
)
def test_every_answer_carries_a_generated_request_id(
    chat_server: str, method: str, path: str
) -> None:
    first = httpx.request(method, f"{chat_server}{path}", timeout=10)
    second = httpx.request(method, f"{chat_server}{path}", timeout=10)

    assert GENERATED.fullmatch(first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


def test_a_plain_request_id_from_the_caller_comes_back(auth_server: str) -> None:
    for sent in ("abc", "0f8fad5b-d9cb-469f-a165-70867728950e", "edge:1/2+3=4_5.6~7@8", "x" * 128):
        with case(sent):
            response = httpx.get(
                f"{auth_server}/v1/auth/me", headers={"X-Request-Id": sent}, timeout=10
            )
            assert response.headers["x-request-id"] == sent


def test_a_long_or_odd_request_id_is_replaced_by_a_generated_one(auth_server: str) -> None:
    for sent in ("x" * 129, "has space", 'quote"d', "semi;colon", "{json}", "caf\u00e9"):
        with case(sent):
            response = httpx.get(
                f"{auth_server}/v1/auth/me",
                headers=[(b"X-Request-Id", sent.encode("latin-1"))],
                timeout=10,
            )
            assert GENERATED.fullmatch(response.headers["x-request-id"])


def test_a_stream_handshake_carries_the_request_id(chats: chat.ChatApi) -> None:
    user = chats.user()
    headers = {"Authorization": f"Bearer {token_of(user)}", "X-Request-Id": "stream-1"}
    with connect(ws_url(chats.url), additional_headers=headers) as ws:
        assert ws.response is not None
        assert ws.response.headers["X-Request-Id"] == "stream-1"


def test_browsers_may_read_retry_after_and_the_request_id(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, auth_server: str
) -> None:
    origin = "https://app.example"
    settings = chat.settings(
        tmp_path_factory.mktemp("cors"), database_url, auth_server, cors_origins=[origin]
    )
    with ServedApp(chat_app.create_app(settings)) as served:
        simple = httpx.get(f"{served.url}/v1/chats", headers={"Origin": origin}, timeout=10)
        preflight = httpx.options(
            f"{served.url}/v1/chats",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, x-request-id",
            },
            timeout=10,
        )

    exposed = {
        h.strip().lower() for h in simple.headers["access-control-expose-headers"].split(",")
    }
    assert {"retry-after", "x-request-id"} <= exposed
    assert preflight.status_code == 204
    assert "x-request-id" in preflight.headers["access-control-allow-headers"].lower()
