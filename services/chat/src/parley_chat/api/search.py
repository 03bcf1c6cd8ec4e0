"""`GET /v1/search` (docs/api.md "Search"): the route and its bodies. The query's rules are
the domain's (`parley_chat.domain.search`); this edge only reads the parameters."""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from parley_chat.api import routes, schemas
from parley_chat.domain.service import Caller, ChatService
from parley_core import web
from parley_core.errors import InvalidField

Query = Annotated[str | None, QueryParameter(description="The words to search for")]
# Read as text and parsed here, so a malformed id is a 422 naming `chat_id`.
ChatIdQuery = Annotated[
    str | None, QueryParameter(description="Search this chat only", max_length=64)
]
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
"""docs/api.md: `limit` defaults to 50, at most 200, as on every chat route."""


class SearchResultOut(msgspec.Struct):
    chat_id: uuid.UUID
    message: schemas.MessageOut


class SearchOut(msgspec.Struct):
    results: list[SearchResultOut]
    next_cursor: str | None
    """Where the next page starts (`?cursor=`); null on the last page."""


def _limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    number = int(value)
    if not 1 <= number <= MAX_LIMIT:
        raise InvalidField("limit", f"must be from 1 to {MAX_LIMIT}", source="query")
    return number


def _chat_id(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidField("chat_id", "not a chat id", source="query") from None


class SearchController(Controller):
    path = "/v1/search"
    tags = ("search",)

    @get("/", responses=web.errors(400, 401, 404, 422, 503))
    async def search(
        self,
        caller: NamedDependency[Caller],
        chats: NamedDependency[ChatService],
        q: Query = None,
        chat_id: ChatIdQuery = None,
        limit: routes.Digits = None,
        cursor: routes.Cursor = None,
    ) -> SearchOut:
        page = await chats.search(
            caller, q=q, chat_id=_chat_id(chat_id), limit=_limit(limit), cursor=cursor
        )
        return SearchOut(
            [
                SearchResultOut(message.chat_id, schemas.MessageOut.of(message))
                for message in page.results
            ],
            page.next_cursor,
        )
