"""Full-text search over message bodies, kept by the database itself (docs/search.md).

PostgreSQL: a stored generated `tsvector` column over the folded body, with a GIN index.
SQLite: an FTS5 table with `messages` as its external content, kept in step by triggers.
Either way every insert, edit and deletion reaches the index in its own transaction, and
no application code has to remember it. The models do not describe these objects (they
differ by backend); `migrations.UNMODELLED` keeps autogenerate from dropping them.

Revision ID: 0003_search
Revises: 0002_threads
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_search"
down_revision: str | None = "0002_threads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The words of a text as PostgreSQL indexes them, the same rule SQLite's unicode61
# tokenizer applies: runs of letters and digits, folded to lower case without accents.
# Everything else (punctuation, symbols, `@`, `.`, `_`) separates words, so the parser
# never sees an e-mail address, a host name or a version number as one token.
# `unaccent` is STABLE (it looks its dictionary up by name), so it is wrapped, with the
# dictionary schema-qualified, in an IMMUTABLE function a generated column may call.
POSTGRES_UP = [
    """
    CREATE FUNCTION parley_unaccent(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN {schema}.unaccent('{schema}.unaccent'::regdictionary, $1)
    """,
    """
    CREATE FUNCTION parley_search_text(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN regexp_replace(lower(parley_unaccent($1){collate}), '[^[:alnum:]]+', ' ', 'g')
    """,
    """
    ALTER TABLE messages ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, parley_search_text(body))) STORED
    """,
    "CREATE INDEX ix_messages_search ON messages USING gin (search_vector)",
    # The search decides between its two plans from PostgreSQL's estimate of how many
    # messages hold the words (storage/search.py); a larger sample of the words keeps the
    # estimate close for prefixes and the less common words too.
    "ALTER TABLE messages ALTER COLUMN search_vector SET STATISTICS 1000",
]
POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS ix_messages_search",
    "ALTER TABLE messages DROP COLUMN IF EXISTS search_vector",
    "DROP FUNCTION IF EXISTS parley_search_text(text)",
    "DROP FUNCTION IF EXISTS parley_unaccent(text)",
]

# `messages` keeps its implicit rowid (its key is (chat_id, seq)); the index stores only
# rowids and reads bodies back from `messages`. remove_diacritics 2 also folds accents
# written as combining marks. The update trigger fires only when the body changes.
SQLITE_UP = [
    """
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        body, content='messages', content_rowid='rowid',
        tokenize='unicode61 remove_diacritics 2'
    )
    """,
    """
    CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, body) VALUES (new.rowid, new.body);
    END
    """,
    """
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
    END
    """,
    """
    CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.rowid, old.body);
        INSERT INTO messages_fts(rowid, body) VALUES (new.rowid, new.body);
    END
    """,
    # Messages written before this revision.
    "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS messages_fts_update",
    "DROP TRIGGER IF EXISTS messages_fts_delete",
    "DROP TRIGGER IF EXISTS messages_fts_insert",
    "DROP TABLE IF EXISTS messages_fts",
]


def upgrade() -> None:
    # Both backends: a chat's messages newest first, where a search for a common word
    # stops as soon as it has a page (the models declare it).
    op.create_index("ix_messages_chat_created", "messages", ["chat_id", "created_at", "seq"])
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        statements = SQLITE_UP
    else:
        # unaccent is a trusted extension: a database owner may create it. It may already
        # live in another schema; the functions name it wherever it is.
        op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
        schema = bind.execute(
            sa.text(
                "SELECT extnamespace::regnamespace::text FROM pg_extension"
                " WHERE extname = 'unaccent'"
            )
        ).scalar_one()
        # Lower case and letters by Unicode (ICU) whatever the database's locale, when
        # PostgreSQL has ICU; a database in the C locale would otherwise keep "É" and
        # take "é" for punctuation.
        icu = bind.execute(
            sa.text("SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu'")
        ).first()
        collate = ' COLLATE "und-x-icu"' if icu else ""
        statements = [s.format(schema=schema, collate=collate) for s in POSTGRES_UP]
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    # The unaccent extension stays: something else may use it.
    for statement in SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else POSTGRES_DOWN:
        op.execute(statement)
    op.drop_index("ix_messages_chat_created", table_name="messages")
