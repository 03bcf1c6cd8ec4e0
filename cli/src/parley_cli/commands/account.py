"""`parley login`, `register`, `logout` and `whoami`: the profile's session."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from parley_cli import api, config, output
from parley_cli.commands import common
from parley_cli.errors import ApiError, CliError

app = typer.Typer()


@app.command()
def login(
    ctx: typer.Context,
    server: common.Server = None,
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Tenant slug.")] = None,
    username: Annotated[str | None, typer.Option("--username", "-u")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Log in and keep the session in the profile."""
    this = common.session(ctx)
    saved = this.saved()
    url = api.check_server_url(server or saved.server)
    tenant = tenant or saved.tenant
    username = username or saved.username or common.prompt_username()
    password = common.read_password(password_stdin, confirm=False)
    with api.Client(url) as client:
        pair = client.login(tenant, username, password)
    _start_session(this, url, tenant, username, pair)
    output.Output().notice(f"Logged in to {url} as {username} (tenant {tenant}).")


@app.command()
def register(
    ctx: typer.Context,
    server: common.Server = None,
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Tenant slug.")] = None,
    username: Annotated[str | None, typer.Option("--username", "-u")] = None,
    display_name: Annotated[str | None, typer.Option("--display-name", "-d")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Create an account (where the tenant allows it) and log in."""
    this = common.session(ctx)
    saved = this.saved()
    url = api.check_server_url(server or saved.server)
    tenant = tenant or saved.tenant
    username = username or common.prompt_username()
    password = common.read_password(password_stdin, confirm=True)
    with api.Client(url) as client:
        client.register(tenant, username, password, display_name)
        pair = client.login(tenant, username, password)
    _start_session(this, url, tenant, username, pair)
    output.Output().notice(f"Registered {username} in tenant {tenant} on {url}; logged in.")


@app.command()
def logout(ctx: typer.Context) -> None:
    """End the session on the server and forget its tokens."""
    this = common.session(ctx)
    with this.store.transaction() as profiles:
        saved = profiles.get(this.profile)
        if saved is None or not saved.refresh_token:
            output.Output().notice("Not logged in.")
            return
        profiles[this.profile] = saved.without_session()
    try:
        with api.Client(saved.server) as client:
            client.logout(saved.refresh_token)
    except ApiError as exc:
        raise ApiError(f"logged out here, but the server did not end the session: {exc}") from None
    output.Output().notice(f"Logged out {saved.username} from {saved.server}.")


@app.command()
def whoami(ctx: typer.Context, json: common.Json = False) -> None:
    """Show who the profile is logged in as."""
    this = common.session(ctx)
    user = this.client(ctx).me()
    context = {"server": this.saved().server, "profile": this.profile}
    output.Output(json_mode=json).user(user, context)


def _start_session(
    this: common.Session, server: str, tenant: str, username: str, pair: api.TokenPair
) -> None:
    with this.store.transaction() as profiles:
        previous = profiles.get(this.profile) or config.Profile()
        profiles[this.profile] = dataclasses.replace(
            previous,
            server=server,
            tenant=tenant,
            username=username,
            access_token=pair["access_token"],
            refresh_token=pair["refresh_token"],
        )
    if previous.refresh_token:
        # The replaced login would otherwise live on, unused, until it expires.
        try:
            with api.Client(previous.server) as client:
                client.logout(previous.refresh_token)
        except CliError:
            pass
