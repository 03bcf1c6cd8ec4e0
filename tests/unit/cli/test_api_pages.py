"""parley_cli.api.Client's calls that take more than one request: history longer than a
page, and a tenant changed field by field over a PUT that replaces it whole."""

from __future__ import annotations

import json
from typing import Any

import httpx

from parley_cli import api

CHAT = "3f1c1f2e-4a47-4a8e-9f43-1b1b1b1b1b1b"


class _History:
    """A chat of `count` messages answering docs/api.md's history query."""

    def __init__(self, count: int) -> None:
        self.seqs = list(range(1, count + 1))
        self.limits: list[int] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == f"/v1/chats/{CHAT}/messages"
        limit = int(request.url.params["limit"])
        assert limit <= api.MAX_PAGE
        self.limits.append(limit)
        if "after_seq" in request.url.params:
            after = int(request.url.params["after_seq"])
            newer = [seq for seq in self.seqs if seq > after]
            page, has_more = newer[:limit], len(newer) > limit
        else:
            before = int(request.url.params["before_seq"])
            older = [seq for seq in self.seqs if seq < before]
            page, has_more = older[-limit:], len(older) > limit
        return httpx.Response(
            200, json={"messages": [_message(seq) for seq in page], "has_more": has_more}
        )


def _message(seq: int) -> dict[str, Any]:
    return {"id": f"m{seq}", "chat_id": CHAT, "seq": seq, "body": f"#{seq}"}


class _Credentials:
    def access_token(self) -> str:
        return "token"

    def rotate(self, stale: str, exchange: Any) -> str:
        raise AssertionError("no 401 expected")


def _client(handler: Any, **options: Any) -> api.Client:
    return api.Client("http://parley.test", transport=httpx.MockTransport(handler), **options)


def test_messages_after_a_seq_are_read_page_by_page_up_to_the_limit() -> None:
    history = _History(450)
    client = _client(history, credentials=_Credentials())
    messages = client.messages_after(CHAT, 10, 400)
    assert [message["seq"] for message in messages] == list(range(11, 411))
    assert history.limits == [200, 200]


def test_messages_before_a_seq_are_the_latest_ones_oldest_first() -> None:
    history = _History(450)
    client = _client(history, credentials=_Credentials())
    messages = client.messages_before(CHAT, 451, 250)
    assert [message["seq"] for message in messages] == list(range(201, 451))
    assert history.limits == [200, 50]


def test_paging_stops_where_the_history_ends() -> None:
    history = _History(30)
    client = _client(history, credentials=_Credentials())
    assert len(client.messages_after(CHAT, 0, 500)) == 30
    assert len(client.messages_before(CHAT, 31, 500)) == 30
    assert history.limits == [200, 200]


def _tenant_server(stored: dict[str, Any] | None, puts: list[dict[str, Any]]) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/internal/v1/tenants/acme"
        assert request.headers["Authorization"] == "Bearer admin"
        if request.method == "GET":
            if stored is None:
                return httpx.Response(404, json={"status_code": 404, "detail": "no tenant"})
            return httpx.Response(200, json=stored)
        puts.append(json.loads(request.content))
        return httpx.Response(200 if stored else 201, json={"slug": "acme", **puts[-1]})

    return handler


def test_merging_into_a_stored_tenant_keeps_every_setting_not_given() -> None:
    stored = {
        "slug": "acme",
        "display_name": "Acme",
        "self_registration": True,
        "suspended": False,
        "limits": {"max_users": 50, "messages_per_minute": 60, "max_message_chars": 4000},
    }
    puts: list[dict[str, Any]] = []
    client = _client(_tenant_server(stored, puts), admin_token="admin")
    _, created = client.merge_tenant("acme", {"suspended": True}, {"max_users": 10})
    assert not created
    assert puts == [
        {
            "display_name": "Acme",
            "self_registration": True,
            "suspended": True,
            "limits": {"max_users": 10, "messages_per_minute": 60, "max_message_chars": 4000},
        }
    ]


def test_merging_into_a_new_tenant_sends_only_what_was_given() -> None:
    puts: list[dict[str, Any]] = []
    client = _client(_tenant_server(None, puts), admin_token="admin")
    _, created = client.merge_tenant("acme", {"display_name": "Acme"}, {})
    assert created
    assert puts == [{"display_name": "Acme"}]
