"""The search query over the index the database keeps (migrations/versions/0002_search.py):
a GIN-indexed `tsvector` on PostgreSQL, an FTS5 table on SQLite. Both take the same words
and answer the same messages, newest first; docs/search.md says what counts as a word.

Words reach the database only as bound values: on PostgreSQL through functions that build
a query from plain text, on SQLite each quoted as an FTS5 string, so nothing a user types
(quotes, parentheses, AND, NEAR, `:`, `-`, `^`) is ever read as query syntax.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from parley_chat.storage.models import Member, Message
from parley_core.db import UTCDateTime


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    """Letters, digits and combining marks only (the domain splits the query)."""
    prefix: bool = False
    """A trailing `*`: any word starting with `text` matches."""


@dataclass(frozen=True, slots=True)
class Position:
    """A place in the newest-first order: the last result a page held."""

    created_at: datetime
    chat_id: uuid.UUID
    seq: int


async def member_chat_ids(
    session: AsyncSession, user_id: uuid.UUID, *, tenant: str
) -> list[uuid.UUID]:
    """The chats the user belongs to: the whole scope of a search without `chat_id`."""
    statement = select(Member.chat_id).where(Member.tenant == tenant, Member.user_id == user_id)
    return list(await session.exec(statement))


FTS_TABLE = sa.table("messages_fts", sa.column("rowid"), sa.column("messages_fts"))


async def search(
    session: AsyncSession,
    words: Sequence[Word],
    chat_ids: Sequence[uuid.UUID],
    *,
    tenant: str,
    after: Position | None,
    limit: int,
) -> list[Message]:
    """Up to `limit` live messages of `chat_ids` holding every word, newest first (by
    created time, then chat id, then seq, so the order is total and a cursor exact)."""
    if not words or not chat_ids:
        return []
    dialect = (await session.connection()).dialect.name
    found = await session.exec(
        statement(dialect, words, chat_ids, tenant=tenant, after=after, limit=limit)
    )
    return list(found)


def statement(
    dialect: str,
    words: Sequence[Word],
    chat_ids: Sequence[uuid.UUID],
    *,
    tenant: str,
    after: Position | None,
    limit: int,
) -> SelectOfScalar[Message]:
    """The search as one statement for `dialect` (bench/search.py explains it)."""
    query = (
        select(Message)
        .where(
            col(Message.tenant) == tenant,
            col(Message.chat_id).in_(chat_ids),
            col(Message.deleted).is_(False),
        )
        .order_by(
            col(Message.created_at).desc(), col(Message.chat_id).desc(), col(Message.seq).desc()
        )
        .limit(limit)
    )
    if after is not None:
        query = query.where(
            sa.tuple_(col(Message.created_at), col(Message.chat_id), col(Message.seq))
            < sa.tuple_(
                sa.literal(after.created_at, UTCDateTime()),
                sa.literal(after.chat_id, sa.Uuid()),
                sa.literal(after.seq, sa.Integer()),
            )
        )
    if dialect == "sqlite":
        rowid: sa.ColumnElement[int] = sa.literal_column("messages.rowid")
        return query.join(FTS_TABLE, FTS_TABLE.c.rowid == rowid).where(
            FTS_TABLE.c.messages_fts.match(fts5_query(words))
        )
    vector: sa.ColumnElement[Any] = sa.literal_column("messages.search_vector")
    return query.where(vector.op("@@")(tsquery(words)))


def fts5_query(words: Sequence[Word]) -> str:
    """An FTS5 query of every word, each a quoted string (so never an operator or a
    column filter); a prefix word gets FTS5's `*` after its closing quote."""
    return " AND ".join(
        '"' + word.text.replace('"', '""') + '"' + ("*" if word.prefix else "") for word in words
    )


def tsquery(words: Sequence[Word]) -> Any:
    """A `tsquery` of every word, folded by the same `parley_search_text` the index uses.
    `plainto_tsquery` reads plain text; a prefix word goes through `to_tsquery` as one
    quoted lexeme (`quote_literal`), so its text is never read as operators either."""
    simple: sa.ColumnElement[Any] = sa.literal_column("'simple'::regconfig")
    parts: list[sa.ColumnElement[Any]] = []
    for word in words:
        folded = sa.func.parley_search_text(sa.literal(word.text, sa.Text()))
        if word.prefix:
            parts.append(sa.func.to_tsquery(simple, sa.func.quote_literal(folded).concat(":*")))
        else:
            parts.append(sa.func.plainto_tsquery(simple, folded))
    query: sa.ColumnElement[Any] = parts[0]
    for part in parts[1:]:
        query = query.op("&&")(part)
    return query
