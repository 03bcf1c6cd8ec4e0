"""Search: the part of `ChatService` that finds messages by their words (docs/api.md
"Search", docs/search.md).

The domain splits the query into words itself, with the rule both backends' indexes use
(runs of letters and digits), and hands the storage only those words: nothing of the raw
query reaches the database, so no input is ever query syntax and none is a 500.
"""

from __future__ import annotations

import base64
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from parley_chat.domain import reading
from parley_chat.domain.base import ServiceBase
from parley_chat.domain.views import Caller, MessageView
from parley_chat.storage import search as search_storage
from parley_chat.storage.search import Position, Word
from parley_core.errors import InvalidField

MAX_QUERY_CHARS = 256
"""docs/search.md: a longer `q` is a 422."""
MAX_QUERY_WORDS = 16
"""docs/search.md: a `q` of more words is a 422; each word costs an index lookup."""
CURSOR_VERSION = "s1"


@dataclass(frozen=True, slots=True)
class SearchPage:
    results: list[MessageView]
    next_cursor: str | None
    """Where the next page starts; None on the last page."""


class Search(ServiceBase):
    async def search(
        self,
        caller: Caller,
        *,
        q: str | None,
        chat_id: uuid.UUID | None,
        limit: int,
        cursor: str | None,
    ) -> SearchPage:
        """The caller's live messages holding every word of `q`, newest first: in every
        chat of theirs, or in `chat_id` alone (404 unless they are a member)."""
        words = parse_query(q)
        after = read_cursor(cursor) if cursor is not None else None
        async with self.sessions() as session:
            if chat_id is not None:
                await self._membership(session, caller, chat_id)
                scope = [chat_id]
            else:
                scope = await search_storage.member_chat_ids(
                    session, caller.user_id, tenant=caller.tenant
                )
            rows = await search_storage.search(
                session, words, scope, tenant=caller.tenant, after=after, limit=limit + 1
            )
            results = await reading.views_across_chats(
                session, rows[:limit], caller.user_id, tenant=caller.tenant
            )
        more = len(rows) > limit
        return SearchPage(results, write_cursor(results[-1]) if more else None)


def _word_char(char: str) -> bool:
    # Letters and digits, and the combining marks that may follow them (an accent typed
    # as its own code point), as SQLite's unicode61 and docs/search.md count them.
    return char.isalnum() or unicodedata.category(char) in ("Mn", "Mc", "Me", "Co")


def parse_query(q: str | None) -> list[Word]:
    """The words of `q`, each a run of letters and digits; a `*` right after a word makes
    it a prefix. Everything else separates words and is otherwise ignored."""
    if q is None or not q.strip():
        raise InvalidField("q", "give the words to search for", source="query")
    if len(q) > MAX_QUERY_CHARS:
        raise InvalidField("q", f"longer than {MAX_QUERY_CHARS} characters", source="query")
    words: list[Word] = []
    start = None
    for index, char in enumerate(q + " "):
        if _word_char(char):
            if start is None:
                start = index
            continue
        if start is not None:
            text = q[start:index]
            # A run of combining marks alone is no word: both indexes drop it.
            if any(c.isalnum() for c in text):
                words.append(Word(text, prefix=char == "*"))
            start = None
    if not words:
        raise InvalidField("q", "holds no letters or digits to search for", source="query")
    if len(words) > MAX_QUERY_WORDS:
        raise InvalidField("q", f"more than {MAX_QUERY_WORDS} words", source="query")
    return list(dict.fromkeys(words))


def write_cursor(message: MessageView) -> str:
    """The last result of a page as a position in the newest-first order. It names only
    a place in that order: whatever it says, the next page is still only the caller's
    messages, so a client that edits one learns nothing it could not search for."""
    position = f"{CURSOR_VERSION}|{message.created_at.isoformat()}|{message.chat_id}|{message.seq}"
    return base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")


def read_cursor(cursor: str) -> Position:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, at, chat_id, seq = text.split("|")
        when = datetime.fromisoformat(at)
        number = int(seq)
        if version != CURSOR_VERSION or when.tzinfo is None or not 1 <= number < 2**31:
            raise ValueError("not a search position")
        return Position(when.astimezone(UTC), uuid.UUID(chat_id), number)
    # binascii.Error and UnicodeDecodeError are ValueErrors; a time near year 1 or 9999
    # with an offset overflows when moved to UTC.
    except (ValueError, OverflowError):
        raise InvalidField("cursor", "not a cursor this server gave", source="query") from None
