"""The `parley-canary` command: settings from options or `PARLEY_CANARY_*`, JSON logs on
stdout, metrics on `--metrics-port`, and the canary until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from typing import Annotated

import typer
from prometheus_client import start_http_server

from parley_cli.canary import metrics, probe

_ENV = "PARLEY_CANARY_"

app = typer.Typer(add_completion=False, rich_markup_mode=None)


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"log.level": record.levelname.lower(), "log.logger": record.name}
        line["message"] = record.getMessage()
        for key in ("chat_id", "stream", "seq", "lost", "error.type", "http.response.status_code"):
            if hasattr(record, key):
                line[key] = getattr(record, key)
        return json.dumps(line, default=str)


@app.command()
def canary(
    api_url: Annotated[
        str, typer.Option("--api-url", envvar=f"{_ENV}API_URL", help="The public API's base URL.")
    ],
    auth_url: Annotated[
        str | None,
        typer.Option(
            "--auth-url",
            envvar=f"{_ENV}AUTH_URL",
            help="Where to log in, when not at --api-url [default: the API URL].",
        ),
    ] = None,
    tenant: Annotated[
        str, typer.Option("--tenant", envvar=f"{_ENV}TENANT", help="The canary's tenant.")
    ] = "canary",
    username: Annotated[
        str,
        typer.Option("--username", envvar=f"{_ENV}USERNAME", help="The canary's user."),
    ] = "parley-canary",
    password: Annotated[
        str,
        typer.Option(
            "--password",
            envvar=f"{_ENV}PASSWORD",
            help="The canary user's password (registered on first run when the tenant allows).",
            show_default=False,
        ),
    ] = "",
    replica: Annotated[
        list[str] | None,
        typer.Option(
            "--replica",
            envvar=f"{_ENV}REPLICAS",
            help="A chat replica's base URL; repeat, or comma-separate in the variable.",
        ),
    ] = None,
    replicas_dns: Annotated[
        str | None,
        typer.Option(
            "--replicas-dns",
            envvar=f"{_ENV}REPLICAS_DNS",
            help="host:port of a headless Service: one stream per address.",
        ),
    ] = None,
    interval: Annotated[
        float,
        typer.Option(
            "--interval",
            envvar=f"{_ENV}INTERVAL_SECONDS",
            min=0.05,
            help="Seconds between sends.",
        ),
    ] = 5.0,
    loss_seconds: Annotated[
        float,
        typer.Option(
            "--loss-seconds",
            envvar=f"{_ENV}LOSS_SECONDS",
            min=1,
            help="A message not delivered on a stream this long after its send is lost.",
        ),
    ] = 60.0,
    metrics_port: Annotated[
        int,
        typer.Option("--metrics-port", envvar=f"{_ENV}METRICS_PORT", help="Port of /metrics."),
    ] = 9100,
) -> None:
    """Send a message every --interval seconds and receive it on every chat replica,
    counting lost, duplicated and out-of-order deliveries and timing each."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_JsonLines())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    replicas = [url.strip() for item in replica or [] for url in item.split(",") if url.strip()]
    if not replicas and not replicas_dns:
        replicas = [api_url]
    config = probe.Config(
        api_url=api_url,
        auth_url=auth_url,
        tenant=tenant,
        username=username,
        password=password,
        replicas=replicas,
        replicas_dns=replicas_dns,
        interval_seconds=interval,
        loss_seconds=loss_seconds,
    )
    start_http_server(metrics_port, registry=metrics.REGISTRY)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(probe.Canary(config).run())


def main() -> None:
    app()
