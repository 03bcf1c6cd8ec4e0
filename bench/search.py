"""Search latency on a tenant with a million messages (docs/search.md "Performance").

Creates a PostgreSQL database of its own, applies chat's migrations, and loads one tenant
with `--messages` messages (1,000,000) over `--chats` chats (1,000) with COPY: bodies of
3 to 25 words drawn from a Zipf-distributed vocabulary of 20,000 words, so a few words are
in a third of all messages and most are rare, as in real text. Then it runs the search
query the service runs (`parley_chat.storage.search`) for users who are each in 20 chats,
and prints p50/p99 per kind of query, with the plan of the slowest kind:

    uv run python bench/search.py [--messages 1000000] [--chats 1000] [--keep]

`--reuse URL` searches a database an earlier `--keep` run left, without loading again.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import harness
import psycopg
import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from parley_chat.domain.search import parse_query
from parley_chat.storage import migrations as chat_migrations
from parley_chat.storage import search
from parley_core import db
from parley_core import migrations as core_migrations

TENANT = "bench"
VOCABULARY = 20_000
CHATS_PER_USER = 20
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "shi", "vo", "pe", "za", "qu", "dre", "ant"]


def words() -> list[str]:
    """`VOCABULARY` distinct made-up words, some with accents, shortest first."""
    rng = random.Random(7)
    found: dict[str, None] = {}
    while len(found) < VOCABULARY:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4)))
        if rng.random() < 0.05:
            word = word.replace("e", "é", 1)
        found.setdefault(word, None)
    return sorted(found, key=len)


def zipf_weights(count: int, exponent: float = 1.05) -> list[float]:
    cumulative, total = [], 0.0
    for rank in range(1, count + 1):
        total += 1 / rank**exponent
        cumulative.append(total)
    return cumulative


def rows(
    vocabulary: list[str], chats: list[uuid.UUID], users: list[uuid.UUID], total: int
) -> Iterator[tuple[object, ...]]:
    rng = random.Random(11)
    cumulative = zipf_weights(len(vocabulary))
    seqs = dict.fromkeys(chats, 0)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    step = timedelta(days=300) / total
    for n in range(total):
        chat_id = rng.choice(chats)
        seqs[chat_id] += 1
        length = rng.randint(3, 25)
        body = " ".join(rng.choices(vocabulary, cum_weights=cumulative, k=length))
        deleted = rng.random() < 0.01
        sender = users[rng.randrange(len(users))]
        yield (
            chat_id,
            seqs[chat_id],
            uuid.uuid4(),
            TENANT,
            sender,
            "user",
            "" if deleted else body.capitalize() + rng.choice((".", "!", "?", "")),
            None,
            start + step * n,
            None,
            deleted,
        )


def load(url: str, messages: int, chat_count: int) -> None:
    """Fill the database: `chat_count` chats, 200 users each in 20 of them."""
    rng = random.Random(5)
    vocabulary = words()
    chats = [uuid.uuid4() for _ in range(chat_count)]
    users = [uuid.uuid4() for _ in range(200)]
    memberships = [rng.sample(chats, CHATS_PER_USER) for _ in users]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with psycopg.connect(url.replace("+psycopg", "")) as connection:
        with connection.cursor() as cursor:
            with cursor.copy(
                "COPY chats (id, tenant, kind, title, created_by, created_at, last_seq,"
                " last_activity_at) FROM STDIN"
            ) as copy:
                for chat_id in chats:
                    copy.write_row((chat_id, TENANT, "group", "bench", users[0], now, 0, now))
            with cursor.copy(
                "COPY chat_members (chat_id, user_id, tenant, username, role, joined_at,"
                " last_read_seq) FROM STDIN"
            ) as copy:
                for user_id, chat_ids in zip(users, memberships, strict=True):
                    for chat_id in chat_ids:
                        copy.write_row((chat_id, user_id, TENANT, "user", "member", now, 0))
            started = time.perf_counter()
            with cursor.copy(
                "COPY messages (chat_id, seq, id, tenant, sender_id, sender_username, body,"
                " client_msg_id, created_at, edited_at, deleted) FROM STDIN"
            ) as copy:
                for row in rows(vocabulary, chats, users, messages):
                    copy.write_row(row)
            print(f"loaded {messages:,} messages in {time.perf_counter() - started:.0f} s")
            cursor.execute(
                "UPDATE chats SET last_seq = (SELECT coalesce(max(seq), 0)"
                " FROM messages WHERE messages.chat_id = chats.id)"
            )
        connection.commit()
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def query_kinds(vocabulary: list[str]) -> dict[str, Callable[[random.Random], str]]:
    """Kinds of query by how often their words occur (the vocabulary is by Zipf rank)."""
    by_rank = vocabulary  # words() sorts by length, and Zipf weight follows list order
    return {
        "common word (top 10)": lambda rng: rng.choice(by_rank[:10]),
        "mid word (rank 100-1000)": lambda rng: rng.choice(by_rank[100:1000]),
        "rare word (rank 5000+)": lambda rng: rng.choice(by_rank[5000:]),
        "two common words": lambda rng: " ".join(rng.sample(by_rank[:50], 2)),
        "common + rare": lambda rng: f"{rng.choice(by_rank[:10])} {rng.choice(by_rank[5000:])}",
        "prefix of 2 letters": lambda rng: rng.choice(by_rank[:200])[:2] + "*",
        "prefix of 4 letters": lambda rng: rng.choice(by_rank[200:2000])[:4] + "*",
        "no such word": lambda rng: "zzqx" + str(rng.randrange(10_000)),
    }


async def measure(url: str, repeats: int) -> None:
    engine = db.create_engine(url, pool_size=2)
    sessions = db.sessionmaker(engine)
    rng = random.Random(3)
    vocabulary = words()
    async with engine.connect() as connection:
        found = await connection.execute(
            sa.text("SELECT DISTINCT user_id FROM chat_members ORDER BY user_id")
        )
        users: list[uuid.UUID] = [row[0] for row in found]
    try:
        print(f"{'':28} {'round trip (wall clock)':34} in the database (EXPLAIN ANALYZE)")
        for name, make in query_kinds(vocabulary).items():
            samples, inside = [], []
            for n in range(repeats):
                terms = parse_query(make(rng))
                user_id = users[n % len(users)]
                started = time.perf_counter()
                # What the service runs: the caller's chats, then the page.
                async with sessions() as session:
                    scope = await search.member_chat_ids(session, user_id, tenant=TENANT)
                    await search.search(session, terms, scope, tenant=TENANT, after=None, limit=51)
                samples.append((time.perf_counter() - started) * 1000)
                async with sessions() as session:
                    inside.append(await execution_ms(session, terms, scope))
            print(f"{name:28} {harness.latency(samples)}   {harness.latency(inside)}")
        for label, q in (
            ("the most common word", vocabulary[0]),
            ("a rare word", vocabulary[-1]),
            ("a 4-letter prefix", vocabulary[300][:4] + "*"),
        ):
            async with sessions() as session:
                connection = await session.connection()
                scope = await search.member_chat_ids(session, users[0], tenant=TENANT)
                terms = parse_query(q)
                walk = await search.is_common(connection, terms, scope, tenant=TENANT, limit=51)
                query = search.statement(
                    "postgresql", terms, scope, tenant=TENANT, after=None, limit=51, walk=walk
                )
                compiled = query.compile(dialect=connection.dialect)
                plan = await connection.exec_driver_sql(
                    f"EXPLAIN (ANALYZE, BUFFERS) {compiled}", compiled.params
                )
                how = "walking each chat" if walk else "one GIN lookup"
                print(f"\nplan for {label} ({q!r}), {how}:")
                print("\n".join(row[0] for row in plan))
    finally:
        await engine.dispose()


async def execution_ms(
    session: AsyncSession, terms: list[search.Word], scope: list[uuid.UUID]
) -> float:
    """The page query's own time in PostgreSQL, without the round trips around it."""
    connection = await session.connection()
    walk = await search.is_common(connection, terms, scope, tenant=TENANT, limit=51)
    query = search.statement(
        "postgresql", terms, scope, tenant=TENANT, after=None, limit=51, walk=walk
    )
    compiled = query.compile(dialect=connection.dialect)
    plan = await connection.exec_driver_sql(
        f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled}", compiled.params
    )
    return float(plan.scalar_one()[0]["Execution Time"])


def main() -> None:
    parser = harness.arguments(__doc__)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--chats", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="leave the database for --reuse")
    parser.add_argument("--reuse", help="search this database instead of loading one")
    options = parser.parse_args()
    if options.reuse:
        asyncio.run(measure(options.reuse, options.repeats))
        return
    with harness.database(options.postgres, keep=options.keep) as url:
        core_migrations.upgrade(chat_migrations.PACKAGE, url)
        load(url, options.messages, options.chats)
        if options.keep:
            print(f"kept: --reuse {url}")
        asyncio.run(measure(url, options.repeats))


if __name__ == "__main__":
    main()
