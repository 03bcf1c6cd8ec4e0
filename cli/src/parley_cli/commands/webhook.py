"""`parley webhook listen`: receive a tenant's webhooks on this machine, verify each one's
signature and print its event (docs/integrations.md "Webhooks")."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from parley_cli import webhooks
from parley_cli.commands import common

app = common.group(help="Receive and check webhooks locally.", no_args_is_help=True)


@app.command("listen")
def listen(
    secret: Annotated[
        str,
        typer.Option(
            "--secret",
            envvar="PARLEY_WEBHOOK_SECRET",
            help="The webhook's secret (whsec_...), from the PUT that created it.",
        ),
    ],
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="Port.")] = 8787,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
) -> None:
    """Answer 204 to each delivery signed with SECRET and print its event as one JSON line;
    answer 401 to a bad or stale signature (more than 5 minutes off)."""

    def received(event_id: str, event: dict[str, Any]) -> None:
        del event_id  # the event carries its id
        sys.stdout.write(json.dumps(event, separators=(",", ":"), ensure_ascii=False) + "\n")
        sys.stdout.flush()

    listener = webhooks.Listener(secret, received, host=host, port=port)
    typer.echo(f"Listening for webhooks on http://{host}:{listener.port}/", err=True)
    try:
        listener.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        listener.close()
