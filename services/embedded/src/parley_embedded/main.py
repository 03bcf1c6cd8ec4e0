"""`make run`: migrations, the `default` tenant, then auth and chat on one port.

This is the only package allowed to import several services: it is the embedded
default's composition root, as each service's `create_app` is its own.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import typer
from pydantic import Field, SecretStr

from parley_auth import app as auth_app
from parley_auth.domain import errors as auth_errors
from parley_auth.domain.service import AuthService, TenantSpec
from parley_auth.settings import AuthSettings
from parley_auth.storage import migrations as auth_migrations
from parley_chat import app as chat_app
from parley_chat.settings import ChatSettings, WebhookSettings
from parley_chat.storage import migrations as chat_migrations
from parley_core import logging as parley_logging
from parley_core import migrations, rpc, secretfiles, serving, telemetry
from parley_embedded import dispatch
from parley_web import files as web_files

DEFAULT_TENANT = "default"
DEFAULT_GRPC_PORT = 50051
"""`make run` serves gRPC here unless PARLEY_GRPC_PORT says otherwise (docs/grpc.md)."""


class EmbeddedSettings(AuthSettings, ChatSettings):
    """The embedded process's settings: every service's, read once."""

    webhook: WebhookSettings = Field(default_factory=lambda: WebhookSettings(allow_private=True))
    """Webhook delivery (`PARLEY_WEBHOOK_*`); on a laptop a webhook may point at
    `http://127.0.0.1` (`parley webhook listen`), so private addresses are allowed."""

    def chat_settings(self) -> ChatSettings:
        # The same values seen as chat's, so chat resolves its own SQLite file.
        return ChatSettings.model_validate(self.model_dump())


def admin_token(settings: EmbeddedSettings) -> str:
    """The configured admin token, or one generated once and kept in `data_dir`."""
    if settings.admin_token:
        return settings.admin_token.get_secret_value()
    path = settings.data_dir / "admin-token"
    return secretfiles.read_or_create(path, lambda: secrets.token_urlsafe(32).encode()).decode()


def create_app(
    settings: EmbeddedSettings, *, tracing: telemetry.Tracing | None = None
) -> dispatch.Dispatcher:
    # Both services' gRPC APIs share one server on one port, as their HTTP APIs share one
    # (docs/api.md "Deployment shape"): neither app serves its own.
    grpc_port = settings.grpc_port
    settings = settings.model_copy(update={"grpc_port": None})
    chat_settings = settings.chat_settings()
    migrations.upgrade(auth_migrations.PACKAGE, settings.resolved_database_url())
    migrations.upgrade(chat_migrations.PACKAGE, chat_settings.resolved_database_url())
    app = auth_app.create_app(settings, tracing=tracing)
    auth: AuthService = app.state.auth
    # Chat reaches auth's JWKS and /internal routes in-process, through the same HTTP
    # contract it uses across the network in Kubernetes.
    chat = chat_app.create_app(
        chat_settings,
        auth_transport=httpx.ASGITransport(app=dispatch.asgi(app)),
        tracing=tracing,
    )

    async def ensure_default_tenant() -> None:
        try:
            await auth.get_tenant(DEFAULT_TENANT)
        except auth_errors.UnknownTenant:
            await auth.put_tenant(
                DEFAULT_TENANT, TenantSpec(display_name="Default", self_registration=True)
            )

    app.on_startup.append(ensure_default_tenant)
    # healthz=False: /healthz stays auth's, the service probe of the contract.
    web = web_files.WebApp(healthz=False)
    services = [*app.state.rpc_services, *chat.state.rpc_services]

    @asynccontextmanager
    async def grpc_server() -> AsyncIterator[None]:
        if grpc_port is None:
            yield
            return
        tracer = tracing.tracer("parley") if tracing is not None else None
        async with rpc.serving(
            services, host=settings.host, port=grpc_port, tracer=tracer
        ) as served:
            dispatcher.grpc_port = served.port
            yield

    dispatcher = dispatch.Dispatcher(auth=app, chat=chat, web=web, also=grpc_server)
    return dispatcher


cli = typer.Typer(add_completion=False)


@cli.command()
def serve() -> None:
    """Run Parley on SQLite with in-process state, on PARLEY_HOST:PARLEY_PORT."""
    settings = EmbeddedSettings()
    settings.admin_token = SecretStr(admin_token(settings))
    if settings.grpc_port is None:
        settings.grpc_port = DEFAULT_GRPC_PORT
    parley_logging.configure(settings.log_level)
    app = create_app(settings, tracing=telemetry.from_env("parley"))
    url = f"http://{settings.host}:{settings.port}"
    # Plain text on stderr for the person at the terminal; the JSON logs stay on stdout.
    print(
        f"\nParley is running at {url}  (tenant '{DEFAULT_TENANT}', self-registration on)\n"
        f"Web client: open {url}/ in a browser\n"
        f"gRPC API: {settings.host}:{settings.grpc_port} (docs/grpc.md)\n"
        f"Admin token for /internal routes: {settings.admin_token.get_secret_value()}\n"
        f"Data in {settings.data_dir.resolve()}/\n",
        file=sys.stderr,
        flush=True,
    )
    serving.run(app, settings)


def main() -> None:
    cli()
