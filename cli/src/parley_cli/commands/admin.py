"""`parley admin login`, `parley admin tenant get|put|delete` and `parley admin server-keys
create|list|revoke`, with the admin token."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from parley_cli import api, config, output
from parley_cli.commands import common
from parley_cli.errors import UsageError

app = common.group(help="Manage tenants with the admin token.", no_args_is_help=True)
tenant_app = common.group(help="Create, show and delete tenants.", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")
keys_app = typer.Typer(
    help="Issue, list and revoke a tenant's server keys (for its own backend).",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="server-keys")


@app.command("login")
def admin_login(
    ctx: typer.Context,
    server: common.Server = None,
    token_stdin: common.TokenStdin = False,
) -> None:
    """Check an admin token and keep it in the profile."""
    this = common.session(ctx)
    saved = this.saved()
    url = this.server_url(server)
    if saved.logged_in and url != saved.server:
        raise UsageError(
            f"profile {this.profile!r} is logged in to {saved.server}; "
            f"use another --profile for {url}"
        )
    token = common.read_secret("Admin token", token_stdin, "--token-stdin")
    with api.Client(url, admin_token=token) as client:
        client.find_tenant(saved.tenant)  # a 401 here means the token is wrong
    with this.store.transaction() as profiles:
        current = profiles.get(this.profile) or config.Profile()
        profiles[this.profile] = dataclasses.replace(current, server=url, admin_token=token)
    output.Output().notice(f"Admin token for {url} saved in profile {this.profile!r}.")


@tenant_app.command("get")
def tenant_get(
    ctx: typer.Context,
    slug: str,
    server: common.Server = None,
    admin_token: common.AdminToken = None,
    json: common.Json = False,
) -> None:
    """Show a tenant, its limits and usage."""
    client = common.session(ctx).admin_client(ctx, server, admin_token)
    output.Output(json_mode=json).tenant(client.get_tenant(slug))


@tenant_app.command("put")
def tenant_put(
    ctx: typer.Context,
    slug: str,
    display_name: Annotated[
        str | None, typer.Option("--display-name", help="The tenant's display name.")
    ] = None,
    self_registration: Annotated[
        bool | None,
        typer.Option(
            "--self-registration/--no-self-registration",
            help="Whether anyone may register in the tenant.",
            show_default=False,
        ),
    ] = None,
    suspended: Annotated[
        bool | None,
        typer.Option(
            "--suspended/--no-suspended",
            help="A suspended tenant refuses logins and writes.",
            show_default=False,
        ),
    ] = None,
    max_users: Annotated[
        int | None, typer.Option("--max-users", min=1, help="Most users the tenant may have.")
    ] = None,
    messages_per_minute: Annotated[
        int | None,
        typer.Option("--messages-per-minute", min=1, help="Most messages a user sends a minute."),
    ] = None,
    max_message_chars: Annotated[
        int | None,
        typer.Option("--max-message-chars", min=1, help="Longest message body, in characters."),
    ] = None,
    server: common.Server = None,
    admin_token: common.AdminToken = None,
    json: common.Json = False,
) -> None:
    """Create or update a tenant. Settings not given keep their current values (a new
    tenant gets the server's defaults)."""
    client = common.session(ctx).admin_client(ctx, server, admin_token)
    settings = {
        "display_name": display_name,
        "self_registration": self_registration,
        "suspended": suspended,
    }
    limits = {
        "max_users": max_users,
        "messages_per_minute": messages_per_minute,
        "max_message_chars": max_message_chars,
    }
    tenant, created = client.merge_tenant(
        slug,
        {key: value for key, value in settings.items() if value is not None},
        {key: value for key, value in limits.items() if value is not None},
    )
    out = output.Output(json_mode=json)
    out.notice(f"{'Created' if created else 'Updated'} tenant {slug}.")
    out.tenant(tenant)


@tenant_app.command("delete")
def tenant_delete(
    ctx: typer.Context,
    slug: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    server: common.Server = None,
    admin_token: common.AdminToken = None,
) -> None:
    """Delete a tenant and every user, chat and message in it."""
    if not yes:
        if not common.interactive():
            raise UsageError(f"deleting tenant {slug!r} erases all its data; pass --yes")
        typer.confirm(f"Delete tenant {slug!r} and all its data?", abort=True)
    client = common.session(ctx).admin_client(ctx, server, admin_token)
    client.delete_tenant(slug)
    output.Output().notice(f"Deleted tenant {slug}.")


@keys_app.command("create")
def server_key_create(
    ctx: typer.Context,
    slug: str,
    name: str,
    server: common.Server = None,
    admin_token: common.AdminToken = None,
    json: common.Json = False,
) -> None:
    """Issue a server key; the key is printed once and cannot be read again."""
    client = common.session(ctx).admin_client(ctx, server, admin_token)
    created = client.create_server_key(slug, name)
    out = output.Output(json_mode=json)
    if json:
        out.json(created)
        return
    out.notice(f"Issued server key {created['name']} ({created['id']}) for tenant {slug}.")
    out.notice("Store it now: it is shown only this once.")
    print(created["key"], flush=True)


@keys_app.command("list")
def server_key_list(
    ctx: typer.Context,
    slug: str,
    server: common.Server = None,
    admin_token: common.AdminToken = None,
    json: common.Json = False,
) -> None:
    """List a tenant's server keys (without their secrets)."""
    client = common.session(ctx).admin_client(ctx, server, admin_token)
    keys = client.server_keys(slug)
    out = output.Output(json_mode=json)
    if json:
        out.json({"server_keys": keys})
        return
    for key in keys:
        print(f"{key['id']}  {output.printable(key['name'])}  {key['created_at']}", flush=True)


@keys_app.command("revoke")
def server_key_revoke(
    ctx: typer.Context,
    slug: str,
    key_id: str,
    server: common.Server = None,
    admin_token: common.AdminToken = None,
) -> None:
    """Revoke a server key by its id; it stops working at once."""
    client = common.session(ctx).admin_client(ctx, server, admin_token)
    client.revoke_server_key(slug, key_id)
    output.Output().notice(f"Revoked server key {key_id} of tenant {slug}.")
