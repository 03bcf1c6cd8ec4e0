"""`parley events`: read a tenant's event feed with a server key, as its backend would
(docs/api.md "Tenant backends", docs/integrations.md "The event feed").

The key is a secret: it comes from `PARLEY_SERVER_KEY` or stdin (`--server-key-stdin`),
never from an option on the command line, where other users of the machine could read
it in the process list.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from parley_cli import api, output
from parley_cli.commands import common
from parley_cli.errors import UsageError

app = typer.Typer()

SERVER_KEY_ENV = "PARLEY_SERVER_KEY"
FOLLOW_WAIT_SECONDS = 30.0
"""The longest long poll the server allows (docs/api.md)."""


@app.command()
def events(
    ctx: typer.Context,
    after: Annotated[
        str | None,
        typer.Option("--after", help="Start after this cursor [default: the oldest event kept]."),
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep waiting for new events (Ctrl-C ends).")
    ] = False,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=1000, help="Events per request.")
    ] = 100,
    server_key_stdin: Annotated[
        bool,
        typer.Option(
            "--server-key-stdin",
            help=f"Read the server key from stdin [default: ${SERVER_KEY_ENV}].",
        ),
    ] = False,
    server: common.Server = None,
    json: common.Json = False,
) -> None:
    """Print the tenant's events after a cursor, oldest first: one line each (a JSON
    object with --json), then the cursor to go on from, on stderr."""
    key = _server_key(server_key_stdin)
    this = common.session(ctx)
    client = ctx.with_resource(api.Client(this.server_url(server)))
    out = output.Output(json_mode=json)
    cursor = after
    while True:
        page = client.events(
            key, after=cursor, limit=limit, wait=FOLLOW_WAIT_SECONDS if follow else 0.0
        )
        for event in page["events"]:
            if json:
                out.json_line(event)
            else:
                out.row(
                    event.get("occurred_at"),
                    event.get("type"),
                    event.get("chat_id"),
                    event.get("cursor"),
                )
        cursor = str(page["cursor"])
        if not follow and len(page["events"]) < limit:
            break
    out.notice(f"cursor: {cursor}")


def _server_key(from_stdin: bool) -> str:
    if from_stdin:
        return common.read_secret("Server key", True, "--server-key-stdin")
    key = os.environ.get(SERVER_KEY_ENV)
    if key:
        return key
    if common.interactive():
        return common.read_secret("Server key", False, "--server-key-stdin")
    raise UsageError(f"no server key: set {SERVER_KEY_ENV} or pass --server-key-stdin")
