"""`parley search`: find messages by their words in your chats (docs/api.md "Search")."""

from __future__ import annotations

import shlex
from typing import Annotated

import typer

from parley_cli import api, output
from parley_cli.commands import common

app = typer.Typer()


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[
        str,
        typer.Argument(
            help="Words that must all occur, in any order; case and accents do not matter, "
            "and a trailing * matches the start of a word (quote it from the shell)."
        ),
    ],
    chat: Annotated[
        str | None, typer.Option("--chat", "-c", help="Only this chat (id, id prefix or title).")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=1000, help="How many results at most.")
    ] = 20,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="Go on from where an earlier search stopped.")
    ] = None,
    json: common.Json = False,
) -> None:
    """Search your chats' messages, newest first."""
    this = common.session(ctx)
    if chat is not None:
        client, found = this.chat(ctx, chat)
        chat_id: str | None = found["id"]
        labels = {found["id"]: this.label(found)}
    else:
        client, chat_id = this.client(ctx), None
        labels = {item["id"]: this.label(item) for item in client.chats()}
    results: list[api.SearchResult] = []
    while len(results) < limit:
        page = client.search(
            query, chat_id=chat_id, limit=min(api.MAX_PAGE, limit - len(results)), cursor=cursor
        )
        results += page["results"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    shown = output.Output(json_mode=json)
    shown.search_results(results, labels, cursor)
    if cursor is not None and not json:
        again = ["parley", "search", query, "--cursor", cursor]
        if chat is not None:
            again[3:3] = ["--chat", chat]
        shown.notice(f"More results: {shlex.join(again)}")
