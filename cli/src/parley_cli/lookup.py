"""Which chat a `CHAT` argument names: an id, a unique id prefix, or an exact title."""

from __future__ import annotations

import uuid

from parley_cli import api
from parley_cli.errors import ApiError, UsageError
from parley_cli.output import SHORT_ID, chat_label


def match(query: str, chats: list[api.Chat], me: str | None = None) -> api.Chat:
    """The one chat of `chats` that `query` names.

    A title is what `parley chats` shows, so a direct chat is also `@username`. A query
    that is both a prefix of one chat's id and the title of another is ambiguous.
    """
    if not query.strip():
        raise UsageError("CHAT must not be empty")
    lowered = query.lower()
    for chat in chats:
        if chat["id"].lower() == lowered:
            return chat
    found = [
        chat
        for chat in chats
        if chat["id"].lower().startswith(lowered) or chat_label(chat, me) == query
    ]
    if len(found) == 1:
        return found[0]
    if not found:
        raise ApiError(f"no chat matches {query!r}; 'parley chats' lists yours")
    choices = ", ".join(f"{chat_label(c, me)} ({c['id'][:SHORT_ID]})" for c in found[:5])
    more = f" and {len(found) - 5} more" if len(found) > 5 else ""
    raise ApiError(f"{query!r} matches {len(found)} chats: {choices}{more}; give more of the id")


def find(client: api.Client, query: str, me: str | None = None) -> api.Chat:
    """The chat `query` names, asking the server as little as it can."""
    if _is_uuid(query):
        try:
            return client.chat(query)
        except ApiError as exc:
            # docs/api.md: 404 whether the chat does not exist or the caller is no member.
            if exc.status == 404:
                raise ApiError(f"no chat matches {query!r}; 'parley chats' lists yours") from None
            raise
    return match(query, client.chats(), me)


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36
