"""`parley reply`, `thread` and `react`: threads and reactions on a chat's messages."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer

from parley_cli import api, output
from parley_cli.commands import common

app = typer.Typer()
Seq = Annotated[int, typer.Argument(min=1, help="The message's seq.")]


@app.command()
def reply(
    ctx: typer.Context,
    chat: common.ChatArg,
    seq: Annotated[int, typer.Argument(min=1, help="The seq of the message to reply to.")],
    text: Annotated[
        str | None, typer.Argument(help="The reply; read from stdin when left out or '-'.")
    ] = None,
    json: common.Json = False,
) -> None:
    """Reply to a message, in its thread."""
    body = common.text_or_stdin(text)
    this = common.session(ctx)
    client, found = this.chat(ctx, chat)
    # As with `send`, a client_msg_id makes a retry after a token refresh safe.
    message = client.send(found["id"], body, client_msg_id=str(uuid.uuid4()), reply_to=seq)
    output.Output(json_mode=json).message(message, "Replied", this.label(found))


@app.command()
def thread(
    ctx: typer.Context,
    chat: common.ChatArg,
    seq: Annotated[int, typer.Argument(min=1, help="The seq of the thread's first message.")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many replies.")] = 50,
    json: common.Json = False,
) -> None:
    """Show a message's replies, oldest first."""
    client, found = common.session(ctx).chat(ctx, chat)
    replies: list[api.Message] = []
    after = 0
    while len(replies) < limit:
        page = client.thread(found["id"], seq, after, min(api.MAX_PAGE, limit - len(replies)))
        replies += page["messages"]
        if not page["has_more"] or not page["messages"]:
            break
        after = page["messages"][-1]["seq"]
    output.Output(json_mode=json).messages(replies)


@app.command()
def react(
    ctx: typer.Context,
    chat: common.ChatArg,
    seq: Seq,
    emoji: Annotated[str, typer.Argument(help="One emoji, or a shortcode like :tada:.")],
    remove: Annotated[bool, typer.Option("--remove", help="Take the reaction back.")] = False,
) -> None:
    """React to a message with an emoji (again: no change)."""
    this = common.session(ctx)
    client, found = this.chat(ctx, chat)
    client.react(found["id"], seq, emoji, remove=remove)
    verb = "Took back" if remove else "Reacted"
    output.Output().notice(f"{verb} {output.printable(emoji)} on #{seq} in {this.label(found)}.")
