"""One call per chat route of docs/api.md, answering the raw response, and the fields
each answer carries: what the route suites in tests/integration/chat/test_routes*.py share."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from support.chat import ChatApi, User

CHAT_FIELDS = {
    "id",
    "kind",
    "title",
    "created_at",
    "last_seq",
    "last_read_seq",
    "unread",
    "members",
    "unread_mentions",
}
MEMBER_FIELDS = {"user_id", "username", "role", "joined_at"}
MESSAGE_FIELDS = {
    "id",
    "chat_id",
    "seq",
    "sender_id",
    "sender_username",
    "body",
    "client_msg_id",
    "created_at",
    "edited_at",
    "deleted",
    "reply_to",
    "thread",
    "reactions",
    "mentions",
    "attachments",
}
ROOMY = {"limits": {"messages_per_minute": 10_000}}
"""A tenant spec whose send quota no paging test runs into (the default is 120 a minute)."""


def create(chats: ChatApi, user: User, **body: Any) -> httpx.Response:
    return chats.http.post("/v1/chats", json=body, headers=user.headers)


def direct(chats: ChatApi, user: User, *others: User) -> httpx.Response:
    return create(chats, user, kind="direct", members=[other.username for other in others])


def post(chats: ChatApi, user: User, chat_id: str, body: str, **extra: Any) -> httpx.Response:
    return chats.http.post(
        f"/v1/chats/{chat_id}/messages", json={"body": body, **extra}, headers=user.headers
    )


def add(chats: ChatApi, user: User, chat_id: str, username: str) -> httpx.Response:
    return chats.http.post(
        f"/v1/chats/{chat_id}/members", json={"username": username}, headers=user.headers
    )


def remove(chats: ChatApi, user: User, chat_id: str, username: str) -> httpx.Response:
    return chats.http.delete(f"/v1/chats/{chat_id}/members/{username}", headers=user.headers)


def edit(chats: ChatApi, user: User, chat_id: str, seq: int, body: str) -> httpx.Response:
    return chats.http.patch(
        f"/v1/chats/{chat_id}/messages/{seq}", json={"body": body}, headers=user.headers
    )


def delete(chats: ChatApi, user: User, chat_id: str, seq: int) -> httpx.Response:
    return chats.http.delete(f"/v1/chats/{chat_id}/messages/{seq}", headers=user.headers)


def read(chats: ChatApi, user: User, chat_id: str, seq: int) -> httpx.Response:
    return chats.http.post(f"/v1/chats/{chat_id}/read", json={"seq": seq}, headers=user.headers)


def seqs(page: dict[str, Any]) -> list[int]:
    return [message["seq"] for message in page["messages"]]


def roles(chat: dict[str, Any]) -> dict[str, str]:
    return {member["username"]: member["role"] for member in chat["members"]}


def is_utc(timestamp: str) -> bool:
    return timestamp.endswith(("Z", "+00:00"))


def thread(chats: ChatApi, user: User, chat_id: str, seq: int, **params: Any) -> httpx.Response:
    return chats.http.get(f"/v1/chats/{chat_id}/threads/{seq}", params=params, headers=user.headers)


def reaction_path(chat_id: str, seq: int, emoji: str) -> str:
    """The reaction route, with `emoji` percent-encoded as one path segment."""
    return f"/v1/chats/{chat_id}/messages/{seq}/reactions/{quote(emoji, safe='')}"


def react(
    chats: ChatApi, user: User, chat_id: str, seq: int, emoji: str, *, remove: bool = False
) -> httpx.Response:
    method = "DELETE" if remove else "PUT"
    return chats.http.request(method, reaction_path(chat_id, seq, emoji), headers=user.headers)


def reactions_of(chats: ChatApi, user: User, chat_id: str, seq: int) -> list[dict[str, Any]]:
    """The message's `reactions` as `user` reads them in the history."""
    page = chats.history(user, chat_id, after_seq=seq - 1, limit=1)
    reactions: list[dict[str, Any]] = page["messages"][0]["reactions"]
    return reactions
