"""`parley chats`, `parley chat create|dm` and `parley members list|add|remove`."""

from __future__ import annotations

from typing import Annotated

import typer

from parley_cli import output
from parley_cli.commands import common

app = common.group()
chat_app = common.group(help="Start chats.", no_args_is_help=True)
members_app = common.group(help="List, add and remove a chat's members.", no_args_is_help=True)


@app.command()
def chats(ctx: typer.Context, json: common.Json = False) -> None:
    """List your chats, most recent activity first."""
    this = common.session(ctx)
    output.Output(json_mode=json).chats(this.client(ctx).chats(), this.me())


@chat_app.command("create")
def chat_create(
    ctx: typer.Context,
    title: Annotated[str | None, typer.Option("--title", "-t", help="The group's title.")] = None,
    member: Annotated[
        list[str] | None, typer.Option("--member", "-m", help="A username; repeat for more.")
    ] = None,
    json: common.Json = False,
) -> None:
    """Start a group chat; you are its owner."""
    this = common.session(ctx)
    chat = this.client(ctx).create_chat("group", member or [], title)
    output.Output(json_mode=json).chat(chat, this.me(), "Created")


@chat_app.command("dm")
def chat_dm(ctx: typer.Context, user: str, json: common.Json = False) -> None:
    """Open the direct chat with USER (the same one every time)."""
    this = common.session(ctx)
    chat = this.client(ctx).create_chat("direct", [user])
    output.Output(json_mode=json).chat(chat, this.me(), "Opened")


@members_app.command("list")
def members_list(ctx: typer.Context, chat: common.ChatArg, json: common.Json = False) -> None:
    """Show a chat's members."""
    _, found = common.session(ctx).chat(ctx, chat)
    output.Output(json_mode=json).members(found)


Users = Annotated[list[str], typer.Argument(metavar="USER...")]


@members_app.command("add")
def members_add(ctx: typer.Context, chat: common.ChatArg, users: Users) -> None:
    """Add users to a chat you own."""
    _change_members(ctx, chat, users, add=True)


@members_app.command("remove")
def members_remove(ctx: typer.Context, chat: common.ChatArg, users: Users) -> None:
    """Remove users from a chat you own, or yourself from any chat."""
    _change_members(ctx, chat, users, add=False)


def _change_members(ctx: typer.Context, chat: str, users: list[str], *, add: bool) -> None:
    this = common.session(ctx)
    client, found = this.chat(ctx, chat)
    for user in users:
        if add:
            client.add_member(found["id"], user)
            done = f"Added {user} to"
        else:
            client.remove_member(found["id"], user)
            done = f"Removed {user} from"
        output.Output().notice(f"{done} {this.label(found)}.")
