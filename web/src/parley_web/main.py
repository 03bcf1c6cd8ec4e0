"""`parley-web serve`: the web image's process, the client's files under uvicorn."""

from __future__ import annotations

import typer
import uvicorn

from parley_web import files
from parley_web.settings import WebSettings

cli = typer.Typer(add_completion=False)


@cli.callback()
def _commands() -> None:
    """Parley's web client."""


@cli.command()
def serve() -> None:
    """Serve the web client on PARLEY_HOST:PARLEY_PORT."""
    settings = WebSettings()
    app = files.WebApp(api_url=settings.web_api_url, store_origin=settings.web_store_origin)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        lifespan="off",
        server_header=False,
        log_level="warning",
    )


def main() -> None:
    cli()
