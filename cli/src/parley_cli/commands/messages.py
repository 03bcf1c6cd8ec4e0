"""`parley send`, `download`, `history`, `edit`, `delete`, `read` and `tail`: a chat's
messages and their files."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from parley_cli import api, files, lookup, output
from parley_cli.commands import common
from parley_cli.errors import UsageError

app = common.group()
Text = Annotated[
    str | None, typer.Argument(help="The message; read from stdin when left out or '-'.")
]
NewText = Annotated[
    str | None, typer.Argument(help="The new text; read from stdin when left out or '-'.")
]


Files = Annotated[
    list[Path] | None,
    typer.Option(
        "--file",
        "-f",
        exists=True,
        dir_okay=False,
        readable=True,
        help="Attach a file (repeat for more, at most 10); the text is optional then.",
    ),
]


@app.command()
def send(
    ctx: typer.Context,
    chat: common.ChatArg,
    text: Text = None,
    file: Files = None,
    json: common.Json = False,
) -> None:
    """Send a message, with files if given."""
    paths = file or []
    if not paths:

        def post(client: api.Client, chat_id: str, body: str) -> api.Message:
            # A client_msg_id makes the retry after a token refresh safe: the server answers
            # a repeat with the stored message instead of storing it twice.
            return client.send(chat_id, body, client_msg_id=str(uuid.uuid4()))

        _post(ctx, chat, text, post, "Sent", json=json)
        return
    if len(paths) > 10:
        raise UsageError("at most 10 files a message")
    body = "" if text is None else common.text_or_stdin(text)
    this = common.session(ctx)
    client, found = this.chat(ctx, chat)
    out = output.Output(json_mode=json)
    ids = [files.upload(client, path, out.err) for path in paths]
    message = client.send(found["id"], body, client_msg_id=str(uuid.uuid4()), attachments=ids)
    out.message(message, "Sent", this.label(found))


@app.command()
def download(
    ctx: typer.Context,
    chat: common.ChatArg,
    seq: Annotated[int, typer.Argument(min=1, help="The message's seq.")],
    out_dir: Annotated[
        Path,
        typer.Option("--out", "-o", file_okay=False, help="Where to save the files."),
    ] = Path("."),
) -> None:
    """Save the files of a message (never overwriting a file already there)."""
    this = common.session(ctx)
    client, found = this.chat(ctx, chat)
    page = client.history(found["id"], after_seq=seq - 1, limit=1)
    message = next((m for m in page["messages"] if m["seq"] == seq), None)
    if message is None:
        raise UsageError(f"no message #{seq} in {this.label(found)}")
    attachments = message.get("attachments") or []
    if not attachments:
        raise UsageError(f"message #{seq} has no files")
    out = output.Output()
    for attachment in attachments:
        saved = files.download(client, attachment, out_dir, out.err)
        out.notice(f"Saved {saved} ({output.file_size(attachment['size'])}).")


@app.command()
def history(
    ctx: typer.Context,
    chat: common.ChatArg,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many messages.")] = 20,
    before: Annotated[
        int | None, typer.Option("--before", min=1, help="Only messages before this seq.")
    ] = None,
    after: Annotated[
        int | None, typer.Option("--after", min=0, help="Only messages after this seq.")
    ] = None,
    json: common.Json = False,
) -> None:
    """Show a chat's messages, oldest first: the latest ones unless --before or --after."""
    if before is not None and after is not None:
        raise UsageError("give --before or --after, not both")
    client, found = common.session(ctx).chat(ctx, chat)
    if after is not None:
        messages = client.messages_after(found["id"], after, limit)
    else:
        start = before if before is not None else found["last_seq"] + 1
        messages = client.messages_before(found["id"], start, limit)
    output.Output(json_mode=json).messages(messages)


@app.command()
def edit(
    ctx: typer.Context,
    chat: common.ChatArg,
    seq: Annotated[int, typer.Argument(min=1, help="The message's seq.")],
    text: NewText = None,
    json: common.Json = False,
) -> None:
    """Change the text of a message you sent."""

    def post(client: api.Client, chat_id: str, body: str) -> api.Message:
        return client.edit(chat_id, seq, body)

    _post(ctx, chat, text, post, "Edited", json=json)


def _post(
    ctx: typer.Context,
    chat: str,
    text: str | None,
    post: Callable[[api.Client, str, str], api.Message],
    verb: str,
    *,
    json: bool,
) -> None:
    """Send or edit: the text from the argument or stdin, then what the server stored."""
    body = common.text_or_stdin(text)
    this = common.session(ctx)
    client, found = this.chat(ctx, chat)
    message = post(client, found["id"], body)
    output.Output(json_mode=json).message(message, verb, this.label(found))


@app.command()
def delete(
    ctx: typer.Context,
    chat: common.ChatArg,
    seq: Annotated[int, typer.Argument(min=1, help="The message's seq.")],
) -> None:
    """Delete a message you sent (its seq stays in the history, marked deleted)."""
    this = common.session(ctx)
    client, found = this.chat(ctx, chat)
    client.delete_message(found["id"], seq)
    output.Output().notice(f"Deleted #{seq} in {this.label(found)}.")


@app.command()
def read(
    ctx: typer.Context,
    chat: common.ChatArg,
    seq: Annotated[
        int | None, typer.Option("--seq", min=0, help="Read up to here [default: the latest].")
    ] = None,
) -> None:
    """Mark a chat read."""
    this = common.session(ctx)
    client, found = this.chat(ctx, chat)
    upto = found["last_seq"] if seq is None else seq
    client.mark_read(found["id"], upto)
    output.Output().notice(f"Marked {this.label(found)} read up to #{upto}.")


@app.command()
def tail(
    ctx: typer.Context,
    chats: Annotated[
        list[str] | None,
        typer.Argument(metavar="[CHAT]...", help="Chats to follow [default: all of yours]."),
    ] = None,
    lines: Annotated[
        int, typer.Option("--lines", "-n", min=0, help="Also show the last N of each chat.")
    ] = 0,
    json: common.Json = False,
) -> None:
    """Print messages as they arrive, until Ctrl-C; survives reconnects without gaps."""
    # Imported here: websockets is needed by this command only, and every other command
    # starts faster without it.
    from parley_cli import stream

    this = common.session(ctx)
    client = this.client(ctx)
    me = this.me()
    everything = client.chats()
    if chats:
        watched = {chat["id"]: chat for chat in (lookup.match(q, everything, me) for q in chats)}
    else:
        watched = {chat["id"]: chat for chat in everything}
    out = output.Output(json_mode=json)
    follower = stream.Tail(
        client,
        out,
        cursors={chat_id: max(0, chat["last_seq"] - lines) for chat_id, chat in watched.items()},
        labels={chat_id: output.chat_label(chat, me) for chat_id, chat in watched.items()},
        only=set(watched) if chats else None,
        me=me,
        names=output.usernames(everything),
    )
    if out.err.isatty():
        which = f"{len(watched)} chat{'s' if len(watched) != 1 else ''}" if chats else "all chats"
        out.notice(f"Following {which} on {client.server}; Ctrl-C to stop.")
    asyncio.run(follower.run())
