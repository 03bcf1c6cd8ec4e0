"""Per-user limits on the actions other than sending, each a named fixed window.

Sending keeps its own limit, `messages_per_minute`, which the tenant sets (`ChatService.send`).
The others are the same for every tenant and come from the chat settings: the composition
root (`parley_chat.app`) turns them into the table below, so limiting a new action is one
row there and one `await limits.spend(...)` where the action happens. Counting goes through
`parley_core.ratelimit` (Redis INCR shared by every replica, this process's own memory in
the embedded default or while Redis is down).

Every refusal counts in parley_rate_limited_requests_total with the action's name as its
`limit` label, from the fixed set `NAMES`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from parley_chat.domain import errors
from parley_core import ratelimit
from parley_core.metrics import RATE_LIMITED

MESSAGE_EDITS = "message_edits"
"""Edits and deletions of one's own messages."""
CHAT_CREATIONS = "chat_creations"
"""`POST /v1/chats`, a repeat of an existing direct chat included."""
MEMBER_ADDS = "member_adds"
"""`POST /v1/chats/{id}/members` by the adder."""
READ_MARKERS = "read_markers"
"""`POST /v1/chats/{id}/read`."""
TYPING = "typing"
"""Typing frames on the stream, over all the user's chats and connections."""
CHATS_JOINED = "chats_joined"
"""Chats a user was put in by someone else (creation with members, a member add): counted
for the user added, so nobody can be dragged into chats faster than this."""

REACTIONS = "reactions"
"""Reactions added or removed (each one is a frame to every member of the chat)."""

NAMES = (
    MESSAGE_EDITS,
    CHAT_CREATIONS,
    MEMBER_ADDS,
    READ_MARKERS,
    TYPING,
    CHATS_JOINED,
    REACTIONS,
)


@dataclass(frozen=True, slots=True)
class Limit:
    count: int
    """Actions allowed in one window; the next one is refused."""
    window_seconds: int


class Limits:
    """The named limits of one process, over one counter."""

    def __init__(self, counter: ratelimit.WindowCounter, table: Mapping[str, Limit]) -> None:
        if unknown := set(table) - set(NAMES):
            raise ValueError(f"limits without a metric label: {sorted(unknown)}")
        self._counter = counter
        self._table = dict(table)

    async def spend(self, name: str, *, tenant: str, user_id: uuid.UUID) -> None:
        """Count one `name` action of the user; past the limit, refuse it with 429."""
        limit = self._table.get(name)
        if limit is None:
            return
        window = await self._counter.hit(
            _key(name, tenant, user_id), window_seconds=limit.window_seconds
        )
        if window.count > limit.count:
            raise _refused(name, limit, window.resets_in)

    async def spend_each(self, name: str, *, tenant: str, user_ids: Iterable[uuid.UUID]) -> None:
        """Count one `name` action for each user, or for none when one of them is already
        at the limit: a refused request spends nobody else's allowance."""
        limit = self._table.get(name)
        if limit is None:
            return
        keys = [_key(name, tenant, user_id) for user_id in user_ids]
        for key in keys:
            window = await self._counter.peek(key)
            if window.count >= limit.count:
                raise _refused(name, limit, window.resets_in)
        for key in keys:
            # Two requests racing past the peek: the counter still has the last word.
            window = await self._counter.hit(key, window_seconds=limit.window_seconds)
            if window.count > limit.count:
                raise _refused(name, limit, window.resets_in)


def _key(name: str, tenant: str, user_id: uuid.UUID) -> str:
    return f"limit:{name}:{tenant}:{user_id}"


def _refused(name: str, limit: Limit, retry_after: int) -> errors.LimitReached:
    RATE_LIMITED.labels(limit=name).inc()
    return errors.LimitReached(name, limit.count, limit.window_seconds, retry_after=retry_after)
