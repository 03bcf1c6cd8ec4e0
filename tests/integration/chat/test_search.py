"""`GET /v1/search` (docs/api.md "Search", docs/search.md), one suite on SQLite (FTS5) and on
PostgreSQL (tsvector): both backends find the same messages for the contract's rules."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from parley_chat.domain import search as domain_search
from parley_chat.storage import search as search_storage
from parley_core import db
from support.chat import ChatApi, User
from support.chat_routes import MESSAGE_FIELDS, delete, edit, react, remove
from support.chat_search import every_page, found, search
from support.problems import case, invalid, problem

# -- what matches --------------------------------------------------------------------------


@pytest.fixture
def pair(chats: ChatApi) -> tuple[User, User, str]:
    alice, bob = chats.users(2)
    return alice, bob, chats.group(alice, bob)["id"]


def test_a_result_is_the_chat_id_and_the_message_in_the_contract_shape(
    chats: ChatApi, pair: tuple[User, User, str]
) -> None:
    alice, bob, chat_id = pair
    sent = chats.send(alice, chat_id, "the quarterly report is ready")
    response = search(chats, bob, "report")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == {"results": [{"chat_id": chat_id, "message": sent}], "next_cursor": None}
    assert set(body["results"][0]["message"]) >= MESSAGE_FIELDS


def test_results_carry_each_messages_reactions_and_thread_as_the_reader_sees_them(
    chats: ChatApi,
) -> None:
    alice, bob = chats.users(2)
    one, two = chats.group(alice, bob)["id"], chats.group(alice, bob)["id"]
    chats.send(alice, one, "lunch plans")
    chats.send(alice, two, "lunch menu")
    chats.send(bob, two, "soup", reply_to=1)
    assert react(chats, bob, one, 1, "\N{THUMBS UP SIGN}").status_code == 204
    assert react(chats, alice, two, 1, ":tada:").status_code == 204
    results = search(chats, bob, "lunch").json()["results"]
    by_chat = {result["chat_id"]: result["message"] for result in results}
    assert by_chat[one]["reactions"] == [{"emoji": "\N{THUMBS UP SIGN}", "count": 1, "me": True}]
    assert by_chat[two]["reactions"] == [{"emoji": ":tada:", "count": 1, "me": False}]
    assert by_chat[two]["thread"]["replies"] == 1


def test_every_word_must_occur_in_any_order(chats: ChatApi, pair: tuple[User, User, str]) -> None:
    alice, _, chat_id = pair
    for body in ("red apple", "green apple", "apple pie, red and warm"):
        chats.send(alice, chat_id, body)
    assert found(chats, alice, "apple") == ["apple pie, red and warm", "green apple", "red apple"]
    assert found(chats, alice, "red apple") == ["apple pie, red and warm", "red apple"]
    assert found(chats, alice, "apple   RED") == ["apple pie, red and warm", "red apple"]
    assert found(chats, alice, "red green") == []


def test_case_and_accents_are_folded_on_both_sides(
    chats: ChatApi, pair: tuple[User, User, str]
) -> None:
    alice, _, chat_id = pair
    chats.send(alice, chat_id, "Rendez-vous au CAFÉ, señor Müller")
    chats.send(alice, chat_id, "naïve résumé of the façade")
    # An accent typed as a combining mark (e + U+0301) is the same letter.
    chats.send(alice, chat_id, "une e\u0301cole")
    for q in ("cafe", "Café", "CAFE", "café", "cafe\u0301", "SENOR muller", "Señor MÜLLER"):
        with case(q):
            assert found(chats, alice, q) == ["Rendez-vous au CAFÉ, señor Müller"]
    for q in ("naive resume", "NAÏVE Résumé", "facade"):
        with case(q):
            assert found(chats, alice, q) == ["naïve résumé of the façade"]
    for q in ("ecole", "école", "ÉCOLE"):
        with case(q):
            assert found(chats, alice, q) == ["une e\u0301cole"]


def test_words_match_whole_words_and_a_trailing_star_a_prefix(
    chats: ChatApi, pair: tuple[User, User, str]
) -> None:
    alice, _, chat_id = pair
    chats.send(alice, chat_id, "the cathedral")
    chats.send(alice, chat_id, "a cat")
    chats.send(alice, chat_id, "concatenate")
    assert found(chats, alice, "cat") == ["a cat"]
    assert found(chats, alice, "cat*") == ["a cat", "the cathedral"]
    assert found(chats, alice, "CATH*") == ["the cathedral"]
    assert found(chats, alice, "cathedrals") == []
    assert found(chats, alice, "cat* the") == ["the cathedral"]
    assert found(chats, alice, "cá*") == ["a cat", "the cathedral"]


def test_punctuation_separates_words_in_bodies_and_queries(
    chats: ChatApi, pair: tuple[User, User, str]
) -> None:
    alice, _, chat_id = pair
    body = "Mail bob@example.com about v1.2.3 (see foo_bar/baz.txt) - it's $100!"
    chats.send(alice, chat_id, body)
    chats.send(alice, chat_id, "nothing relevant")
    for q in (
        "example",
        "bob@example.com",
        "bob example com",
        "v1",
        "2 3",
        "foo",
        "bar",
        "baz txt",
        "it's",
        "s",
        "100",
        "$100",
        "mail, about!",
    ):
        with case(q):
            assert found(chats, alice, q) == [body]


def test_query_syntax_characters_are_only_text(
    chats: ChatApi, pair: tuple[User, User, str]
) -> None:
    alice, _, chat_id = pair
    text = "hello world and or not near body"
    chats.send(alice, chat_id, text)
    chats.send(alice, chat_id, "hello there")
    for q in (
        '"hello world"',
        "(hello) (world)",
        "hello AND world",
        "hello OR world",
        "NOT world hello",
        "NEAR(hello world)",
        "body:hello world",
        "-world hello",
        "^hello world",
        "hello + world",
        "hello & world",
        "hello | world",
        "hello:* world",
        "!hello <-> world",
        "{body}: hello world",
        "'hello' \\world",
        "hello*world",
    ):
        with case(q):
            assert found(chats, alice, q) == [text]
    for q in ("hello OR there", "hello NOT there", "there AND"):
        with case(q):
            assert found(chats, alice, q) == []


def test_deleted_messages_are_never_found_and_edits_show_at_once(
    chats: ChatApi, pair: tuple[User, User, str]
) -> None:
    alice, bob, chat_id = pair
    first = chats.send(alice, chat_id, "budget draft one")
    chats.send(bob, chat_id, "budget draft two")
    assert found(chats, bob, "budget") == ["budget draft two", "budget draft one"]

    assert edit(chats, alice, chat_id, first["seq"], "final numbers").status_code == 200
    assert found(chats, bob, "budget") == ["budget draft two"]
    assert found(chats, bob, "final numbers") == ["final numbers"]
    assert found(chats, bob, "one") == []

    assert delete(chats, bob, chat_id, 2).status_code == 204
    assert found(chats, alice, "budget") == []
    assert found(chats, alice, "draft") == []


# -- whose messages ------------------------------------------------------------------------


def test_only_the_callers_chats_are_searched(chats: ChatApi) -> None:
    alice, bob, carol = chats.users(3)
    mine = chats.group(alice, bob)["id"]
    theirs = chats.group(bob, carol)["id"]
    chats.send(bob, mine, "secret plan alpha")
    chats.send(bob, theirs, "secret plan beta")
    assert found(chats, alice, "secret plan") == ["secret plan alpha"]
    assert found(chats, carol, "secret plan") == ["secret plan beta"]
    assert found(chats, bob, "secret plan") == ["secret plan beta", "secret plan alpha"]


def test_another_tenants_messages_are_never_found(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    chats.send(alice, chats.group(alice, bob)["id"], "shared codeword zebra")
    eve, mallory = chats.users(2, chats.tenant())
    chats.group(eve, mallory)
    assert found(chats, eve, "zebra") == []
    assert found(chats, eve, "zebra*") == []


def test_chat_id_narrows_the_search_to_that_chat(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    one, two = chats.group(alice, bob)["id"], chats.group(alice, bob)["id"]
    chats.send(alice, one, "standup at ten")
    chats.send(alice, two, "standup moved")
    assert found(chats, bob, "standup", chat_id=one) == ["standup at ten"]
    assert found(chats, bob, "standup", chat_id=two) == ["standup moved"]
    results = search(chats, bob, "standup").json()["results"]
    assert [result["chat_id"] for result in results] == [two, one]


def test_a_chat_the_caller_is_not_in_is_404_whether_or_not_it_exists(chats: ChatApi) -> None:
    alice, bob, carol = chats.users(3)
    chat_id = chats.group(alice, bob)["id"]
    chats.send(alice, chat_id, "private words")
    for target in (chat_id, str(uuid.uuid4())):
        with case(target):
            body = problem(search(chats, carol, "private", chat_id=target), 404)
            assert body["detail"] == "chat not found"


def test_a_member_who_left_no_longer_finds_the_chats_messages(
    chats: ChatApi, pair: tuple[User, User, str]
) -> None:
    alice, bob, chat_id = pair
    chats.send(alice, chat_id, "roadmap review")
    assert found(chats, bob, "roadmap") == ["roadmap review"]
    assert remove(chats, bob, chat_id, bob.username).status_code == 204
    assert found(chats, bob, "roadmap") == []
    assert search(chats, bob, "roadmap", chat_id=chat_id).status_code == 404


# -- paging --------------------------------------------------------------------------------


def test_pages_follow_the_cursor_newest_first_without_gaps_or_repeats(chats: ChatApi) -> None:
    alice, bob = chats.users(2)
    one, two = chats.group(alice, bob)["id"], chats.group(alice, bob)["id"]
    sent = []
    for n in range(7):
        sent.append(chats.send(alice, (one, two)[n % 2], f"ticket number {n}"))
        chats.send(alice, one, f"noise {n}")
    newest_first = [message["body"] for message in reversed(sent)]
    first = search(chats, bob, "ticket", limit=3).json()
    assert [r["message"]["body"] for r in first["results"]] == newest_first[:3]
    assert isinstance(first["next_cursor"], str)
    paged = every_page(chats, bob, "ticket", limit=3)
    assert [r["message"]["body"] for r in paged] == newest_first
    assert [r["message"]["body"] for r in every_page(chats, bob, "ticket", limit=7)] == (
        newest_first
    )
    only_one = every_page(chats, bob, "ticket", chat_id=one, limit=2)
    assert [r["message"]["body"] for r in only_one] == newest_first[::2]


def test_a_message_deleted_between_pages_is_left_out_of_the_next(
    chats: ChatApi, pair: tuple[User, User, str]
) -> None:
    alice, bob, chat_id = pair
    for n in range(4):
        chats.send(alice, chat_id, f"item {n}")
    first = search(chats, bob, "item", limit=2).json()
    assert delete(chats, alice, chat_id, 1).status_code == 204
    rest = search(chats, bob, "item", limit=2, cursor=first["next_cursor"]).json()
    assert [r["message"]["body"] for r in rest["results"]] == ["item 1"]
    assert rest["next_cursor"] is None


# -- refusals ------------------------------------------------------------------------------


def test_an_empty_missing_or_wordless_query_is_a_422_naming_q(
    chats: ChatApi, pair: tuple[User, User, str]
) -> None:
    alice, _, _ = pair
    for q in (None, "", "   ", "\t\n", "*", "!!! ... ???", '"" ()', "\u0301", "😀 🎉"):
        with case(q):
            invalid(search(chats, alice, q), "q")


def test_a_query_too_long_or_of_too_many_words_is_a_422_naming_q(
    chats: ChatApi, pair: tuple[User, User, str]
) -> None:
    alice, _, chat_id = pair
    chats.send(alice, chat_id, "w " * 16)
    assert found(chats, alice, "x" * 256) == []
    assert found(chats, alice, " ".join(["w"] * 16)) == ["w " * 16]
    for q in ("x" * 257, "x" * 10_000, " ".join(["w"] * 17), "a-" * 17):
        with case(q):
            invalid(search(chats, alice, q), "q")


def test_a_bad_cursor_limit_or_chat_id_is_a_422_naming_it(
    chats: ChatApi, pair: tuple[User, User, str]
) -> None:
    alice, _, _ = pair
    bad = {
        "cursor": (
            "garbage",
            "",
            "x" * 201,
            "czF8bm90IGEgdGltZXx4fDE",
            "YWJj",
            "!!",
            "czF8MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHwwMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDB8MA",
        ),
        "limit": ("0", "201", "-1", "abc", "1.5", ""),
        "chat_id": ("not-a-uuid", "", "12345", "x" * 65),
    }
    for name, values in bad.items():
        for value in values:
            with case(name, value):
                invalid(search(chats, alice, "hello", **{name: value}), name)


# -- PostgreSQL's two plans ----------------------------------------------------------------


def test_walking_the_chats_and_the_index_lookup_find_the_same_messages(
    chats: ChatApi, database_url: str
) -> None:
    """On PostgreSQL the search walks each chat for common words and looks rare ones up in
    the GIN index (storage/search.py); whichever it picks, the answer is the same."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one plan")
    alice, bob = chats.users(2)
    one, two = chats.group(alice, bob)["id"], chats.group(alice, bob)["id"]
    for n in range(12):
        chats.send(alice, (one, two)[n % 3 == 0], f"Café n{n} {'common ' * (n % 2)}word{n % 4}")
    chats.send(bob, one, "word1 gone")
    delete(chats, bob, one, chats.chat(bob, one)["last_seq"])
    queries = ("common", "café word1", "word*", "wo* common", "n1*", "nothing")

    async def both() -> list[tuple[list[str], list[str]]]:
        engine = db.create_engine(database_url)
        try:
            async with db.sessionmaker(engine)() as session:
                scope = [uuid.UUID(one), uuid.UUID(two)]
                answers = []
                for q in queries:
                    found = []
                    for walk in (True, False):
                        query = search_storage.statement(
                            "postgresql",
                            domain_search.parse_query(q),
                            scope,
                            tenant=alice.tenant,
                            after=None,
                            limit=50,
                            walk=walk,
                        )
                        found.append([m.body for m in await session.exec(query)])
                    answers.append((found[0], found[1]))
                return answers
        finally:
            await engine.dispose()

    for q, (walked, looked_up) in zip(queries, asyncio.run(both()), strict=True):
        with case(q):
            assert walked == looked_up
            assert walked == found(chats, bob, q)
    assert len(found(chats, bob, "word*")) == 12


def test_raw_bytes_in_the_query_string_are_never_a_server_error(
    chats: ChatApi, pair: tuple[User, User, str]
) -> None:
    alice, _, chat_id = pair
    chats.send(alice, chat_id, "first")
    for raw in ("%ff%fe", "%00", "first%00", "%ED%A0%80", "%C0%AF", "first&q=second", "%"):
        with case(raw):
            response = chats.http.get(f"/v1/search?q={raw}", headers=alice.headers)
            assert response.status_code in (200, 400, 422), response.text
            if response.status_code != 200:
                problem(response)
