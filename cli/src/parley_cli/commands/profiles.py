"""`parley auth status` and `parley profiles`: what the saved profiles hold, never their
tokens."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

import typer

from parley_cli import config, output
from parley_cli.commands import common

app = common.group()
auth_app = common.group(help="The profile's session.", no_args_is_help=True)


@auth_app.command("status")
def status(ctx: typer.Context, json: common.Json = False) -> None:
    """Show the profile's server, tenant and user, and when its access token expires.

    Asks the server who the token belongs to (refreshing it when it has expired); exits 3
    when the profile is not logged in or the server no longer accepts its session.
    """
    this = common.session(ctx)
    saved = this.saved()
    fields: dict[str, Any] = {
        "profile": this.profile,
        "server": saved.server,
        "tenant": saved.tenant,
        "username": saved.username,
        "logged_in": saved.logged_in,
        "admin_token": "saved" if saved.admin_token else "none",
    }
    if not saved.logged_in:
        output.Output(json_mode=json).fields(fields)
        raise config.not_logged_in(this.profile)
    user = this.client(ctx).me()
    expires = access_token_expiry(this.saved().access_token)
    fields.update(
        user_id=user["id"],
        display_name=user["display_name"],
        access_token_expires_at=expires.isoformat() if expires else None,
    )
    output.Output(json_mode=json).fields(fields)


@app.command("profiles")
def profiles(ctx: typer.Context, json: common.Json = False) -> None:
    """List the saved profiles; the one in use (--profile, PARLEY_PROFILE) is marked *."""
    this = common.session(ctx)
    saved = this.store.load()
    rows = [
        {
            "name": name,
            "current": name == this.profile,
            "server": profile.server,
            "tenant": profile.tenant,
            "username": profile.username,
            "logged_in": profile.logged_in,
        }
        for name, profile in sorted(saved.items())
    ]
    if this.profile not in saved:
        # The profile in use, which nothing was saved under yet: its defaults.
        rows.insert(0, {"name": this.profile, "current": True, **_defaults()})
    output.Output(json_mode=json).profiles(rows)


def _defaults() -> dict[str, Any]:
    profile = config.Profile()
    return {
        "server": profile.server,
        "tenant": profile.tenant,
        "username": None,
        "logged_in": False,
    }


def access_token_expiry(token: str | None) -> datetime | None:
    """The `exp` claim of a JWT, read without checking its signature (the server does that;
    this is only shown to the user), or None when the token is not one."""
    if not token or token.count(".") != 2:
        return None
    payload = token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return datetime.fromtimestamp(int(claims["exp"]), UTC)
    except (binascii.Error, ValueError, KeyError, TypeError, OverflowError):
        return None
