"""Calling `GET /v1/search` (docs/api.md "Search") in tests: what the search suites share."""

from __future__ import annotations

from typing import Any

import httpx

from support.chat import ChatApi, User


def search(chats: ChatApi, user: User, q: str | None, **params: Any) -> httpx.Response:
    query = {**params} if q is None else {"q": q, **params}
    return chats.http.get("/v1/search", params=query, headers=user.headers)


def found(chats: ChatApi, user: User, q: str, **params: Any) -> list[str]:
    """The bodies of the first page of results, in the order the server gives them."""
    response = search(chats, user, q, **params)
    assert response.status_code == 200, response.text
    return [result["message"]["body"] for result in response.json()["results"]]


def every_page(chats: ChatApi, user: User, q: str, **params: Any) -> list[dict[str, Any]]:
    """Every result, following `next_cursor` to the last page."""
    results: list[dict[str, Any]] = []
    cursor = None
    while True:
        extra: dict[str, str] = {} if cursor is None else {"cursor": cursor}
        response = search(chats, user, q, **params, **extra)
        assert response.status_code == 200, response.text
        body = response.json()
        results.extend(body["results"])
        cursor = body["next_cursor"]
        if cursor is None:
            return results
