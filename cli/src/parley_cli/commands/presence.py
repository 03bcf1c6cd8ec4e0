"""`parley presence` and `parley status`: who of the people you chat with is around, and
what you show them (docs/api.md "Presence")."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from parley_cli import output
from parley_cli.commands import common
from parley_cli.errors import UsageError

app = typer.Typer()


class Status(StrEnum):
    online = "online"
    away = "away"
    dnd = "dnd"


@app.command()
def presence(
    ctx: typer.Context,
    users: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[USER]...", help="Usernames [default: everyone you share a chat with]."
        ),
    ] = None,
    json: common.Json = False,
) -> None:
    """Show who is online, away, busy (dnd) or offline, and when they were last seen."""
    this = common.session(ctx)
    client = this.client(ctx)
    me = client.me()
    names = output.usernames(client.chats())
    names[me["id"]] = me["username"]
    ids_by_name = {name: user_id for user_id, name in names.items()}
    if users:
        unknown = [name for name in users if name not in ids_by_name]
        if unknown:
            raise UsageError(
                f"you share no chat with {', '.join(unknown)}: only their presence is shown"
            )
        wanted = list(dict.fromkeys(ids_by_name[name] for name in users))
    else:
        wanted = sorted(names, key=lambda user_id: names[user_id])
    output.Output(json_mode=json).presence(client.presence(wanted), names)


@app.command()
def status(
    ctx: typer.Context,
    state: Annotated[Status, typer.Argument(metavar="online|away|dnd", case_sensitive=False)],
) -> None:
    """Set what others see while you are connected; it stays until you change it."""
    this = common.session(ctx)
    this.client(ctx).set_status(state.value)
    output.Output().notice(f"Status set to {state.value}.")
