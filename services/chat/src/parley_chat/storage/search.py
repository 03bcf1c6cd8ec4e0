"""The search query over the index the database keeps (migrations/versions/0003_search.py):
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
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased
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
    connection = await session.connection()
    walk = False
    if connection.dialect.name == "postgresql":
        # Plan each search for its words: a generic plan (psycopg prepares a statement
        # run often) would pick one strategy for common and rare words alike.
        await connection.execute(sa.text("SET LOCAL plan_cache_mode = force_custom_plan"))
        walk = await is_common(connection, words, chat_ids, tenant=tenant, limit=limit)
    found = await session.exec(
        statement(
            connection.dialect.name,
            words,
            chat_ids,
            tenant=tenant,
            after=after,
            limit=limit,
            walk=walk,
        )
    )
    return list(found)


POSTINGS_PER_ROW = 100
"""What reading one message costs in GIN postings read (a posting is a few bytes in a
compressed list; a message is a random read of the heap): a rough weight, not a figure."""


async def is_common(
    connection: AsyncConnection,
    words: Sequence[Word],
    chat_ids: Sequence[uuid.UUID],
    *,
    tenant: str,
    limit: int,
) -> bool:
    """Whether walking the chats reads fewer messages than one GIN lookup would
    (docs/search.md "Performance"), from PostgreSQL's own estimate of the share `f` of all
    messages that hold every word, from the statistics `ANALYZE` keeps on the column.

    The walk reads about `limit / f` messages per chat, at most all of the chats'
    messages; the lookup reads the words' postings (`f` of the whole table) and every
    match in the chats (`f` of their messages)."""
    vector: sa.ColumnElement[Any] = sa.literal_column("search_vector")
    probe = (
        sa.select(sa.literal(1))
        .select_from(sa.table("messages"))
        .where(vector.op("@@")(tsquery(words)))
    )
    compiled = probe.compile(dialect=connection.dialect)
    plan = (
        await connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params)
    ).scalar_one()
    sizes = await connection.execute(
        sa.text(
            "SELECT (SELECT greatest(reltuples, 1) FROM pg_class"
            "        WHERE oid = 'messages'::regclass),"
            " (SELECT coalesce(sum(last_seq), 0) FROM chats"
            "  WHERE id = ANY(:chat_ids) AND tenant = :tenant)"
        ).bindparams(
            sa.bindparam("chat_ids", list(chat_ids), type_=postgresql.ARRAY(sa.Uuid())),
            sa.bindparam("tenant", tenant),
        )
    )
    total, in_chats = (float(value) for value in sizes.one())
    share = min(1.0, max(float(plan[0]["Plan"]["Plan Rows"]) / total, 1e-9))
    walked = min(in_chats, len(chat_ids) * limit / share)
    looked_up = share * in_chats + share * total / POSTINGS_PER_ROW
    return walked < looked_up


def statement(
    dialect: str,
    words: Sequence[Word],
    chat_ids: Sequence[uuid.UUID],
    *,
    tenant: str,
    after: Position | None,
    limit: int,
    walk: bool = False,
) -> SelectOfScalar[Message]:
    """The search as one statement for `dialect` (bench/search.py explains it).

    docs/search.md "Performance": on PostgreSQL, a common word (`walk`) is found by walking
    each chat newest first until it has a page, then keeping the newest of those pages; a
    rarer one by one GIN lookup for the words, narrowed to the chats. The walk alone would
    read every message of the caller's chats for a rare word; the lookup alone would fetch
    every match of a common word before it could sort them.
    """
    if dialect == "sqlite":
        rowid: sa.ColumnElement[int] = sa.literal_column("messages.rowid")
        return (
            _newest_first(select(Message), tenant=tenant, after=after, limit=limit)
            .where(col(Message.chat_id).in_(chat_ids))
            .join(FTS_TABLE, FTS_TABLE.c.rowid == rowid)
            .where(FTS_TABLE.c.messages_fts.match(fts5_query(words)))
        )
    vector: sa.ColumnElement[Any] = sa.literal_column("messages.search_vector")
    matches = vector.op("@@")(tsquery(words))
    ids = sa.literal(list(chat_ids), postgresql.ARRAY(sa.Uuid()))
    if not walk:
        return _newest_first(select(Message), tenant=tenant, after=after, limit=limit).where(
            col(Message.chat_id) == sa.any_(ids), matches
        )
    scope = sa.func.unnest(ids).table_valued("chat_id").render_derived(name="scope")
    per_chat = (
        _newest_first(select(Message), tenant=tenant, after=after, limit=limit)
        # `IS TRUE` keeps the GIN index out of each chat's walk: one lookup per chat
        # would read a common word's whole posting list once for every chat.
        .where(col(Message.chat_id) == scope.c.chat_id, matches.is_(True))
        .subquery()
        .lateral("found")
    )
    found = aliased(Message, per_chat)
    return (
        select(found)
        .select_from(scope)
        .join(per_chat, sa.true())
        .order_by(col(found.created_at).desc(), col(found.chat_id).desc(), col(found.seq).desc())
        .limit(limit)
    )


def _newest_first(
    query: SelectOfScalar[Message], *, tenant: str, after: Position | None, limit: int
) -> SelectOfScalar[Message]:
    query = (
        query.where(col(Message.tenant) == tenant, col(Message.deleted).is_(False))
        .order_by(
            col(Message.created_at).desc(), col(Message.chat_id).desc(), col(Message.seq).desc()
        )
        .limit(limit)
    )
    if after is None:
        return query
    return query.where(
        sa.tuple_(col(Message.created_at), col(Message.chat_id), col(Message.seq))
        < sa.tuple_(
            sa.literal(after.created_at, UTCDateTime()),
            sa.literal(after.chat_id, sa.Uuid()),
            sa.literal(after.seq, sa.Integer()),
        )
    )


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
