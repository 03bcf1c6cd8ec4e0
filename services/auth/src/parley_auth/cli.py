"""`parley-auth serve` and `parley-auth migrate` (shared/API.md "Running it")."""

from __future__ import annotations

import typer

from parley_auth.app import SERVICE, create_app
from parley_auth.settings import AuthSettings
from parley_auth.storage import migrate as migrations
from parley_core import logging as parley_logging
from parley_core import serving, telemetry

cli = typer.Typer(help="Parley's auth service.", no_args_is_help=True, add_completion=False)


@cli.command()
def serve() -> None:
    """Serve the auth API on PARLEY_HOST:PARLEY_PORT (run `migrate` first)."""
    settings = AuthSettings()
    parley_logging.configure(settings.log_level)
    serving.run(create_app(settings, tracing=telemetry.from_env(SERVICE)), settings)


@cli.command()
def migrate() -> None:
    """Apply the auth service's migrations to PARLEY_DATABASE_URL and exit."""
    settings = AuthSettings()
    parley_logging.configure(settings.log_level)
    migrations.upgrade(settings.resolved_database_url())


def main() -> None:
    cli()
