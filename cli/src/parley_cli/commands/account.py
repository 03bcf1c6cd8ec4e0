"""`parley login`, `register`, `logout` and `whoami`: the profile's session."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from parley_cli import api, config, output
from parley_cli.commands import common
from parley_cli.errors import ApiError, CliError

app = common.group()


@app.command()
def login(
    ctx: typer.Context,
    server: common.Server = None,
    tenant: common.Tenant = None,
    username: common.Username = None,
    password_stdin: common.PasswordStdin = False,
) -> None:
    """Log in and keep the session in the profile."""
    this = common.session(ctx)
    url, tenant, username, password = _ask(this, server, tenant, username, password_stdin)
    with api.Client(url) as client:
        pair = client.login(tenant, username, password)
    _start_session(this, url, tenant, username, pair)
    output.Output().notice(f"Logged in to {url} as {username} (tenant {tenant}).")


@app.command()
def register(
    ctx: typer.Context,
    server: common.Server = None,
    display_name: Annotated[
        str | None,
        typer.Option("--display-name", "-d", help="Name shown to others [default: the username]."),
    ] = None,
    tenant: common.Tenant = None,
    username: common.Username = None,
    password_stdin: common.PasswordStdin = False,
) -> None:
    """Create an account (where the tenant allows it) and log in."""
    this = common.session(ctx)
    url, tenant, username, password = _ask(this, server, tenant, username, password_stdin, new=True)
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


def _ask(
    this: common.Session,
    server: str | None,
    tenant: str | None,
    username: str | None,
    password_stdin: bool,
    *,
    new: bool = False,
) -> tuple[str, str, str, str]:
    """Server URL, tenant, username and password: from the options, else the profile
    (the username only when logging in again), else asked for."""
    url = this.server_url(server)
    tenant = tenant or this.saved().tenant
    username = username or (None if new else this.me()) or common.prompt_username()
    return url, tenant, username, common.read_password(password_stdin, confirm=new)


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
