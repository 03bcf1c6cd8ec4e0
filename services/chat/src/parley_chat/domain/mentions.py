"""`@username` in a body (docs/api.md "Threads, reactions, mentions"): which members of
the chat a message mentions, parsed at send and at edit.

A mention is `@` then a username (docs/api.md "Names", compared in lower case) that
starts a word and ends one: not inside an e-mail address (`bob@example.com`), not the
start of a longer word. A sentence's full stop after it is not part of it (`@alice.`
names alice unless there is a member `alice.`). Only the chat's members count; each is
listed once, in the order the body first names them.
"""

from __future__ import annotations

import re
import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from parley_chat.storage import mentions
from parley_core import names

_AT_WORD = re.compile(r"(?<![\w@.+-])@([a-z0-9][a-z0-9._-]*)(?!\w)", re.IGNORECASE)
_USERNAME = re.compile(names.USERNAME_PATTERN)
MAX_NAMES = 200
"""At most this many different names are looked up per message: a body of 100 000
characters could otherwise ask the database about 25 000 of them."""


def _readings(word: str) -> list[str]:
    """What one `@word` may name: the word, then the word without trailing full stops."""
    word = word.lower()
    trimmed = word.rstrip(".")
    return [name for name in dict.fromkeys((word, trimmed)) if _USERNAME.match(name)]


def names_in(body: str) -> list[list[str]]:
    """Each `@word` of the body, as the usernames it may name (preferred first)."""
    return [readings for match in _AT_WORD.finditer(body) if (readings := _readings(match[1]))]


def pick(body: str, members: dict[str, uuid.UUID]) -> list[uuid.UUID]:
    """The members the body mentions, once each, in order of first mention."""
    found: dict[uuid.UUID, None] = {}
    for readings in names_in(body):
        for name in readings:
            if name in members:
                found.setdefault(members[name])
                break
    return list(found)


async def resolve(
    session: AsyncSession, chat_id: uuid.UUID, body: str, *, tenant: str
) -> list[uuid.UUID]:
    """The members of the chat `body` mentions; no query for a body without an `@`."""
    if "@" not in body:
        return []
    wanted = list(dict.fromkeys(name for readings in names_in(body) for name in readings))
    members = await mentions.members_named(session, chat_id, wanted[:MAX_NAMES], tenant=tenant)
    return pick(body, members)
