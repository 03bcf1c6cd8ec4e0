"""`parley login`, `register`, `logout` and `whoami`: the profile's session; `profile` and
`passwd`: the account's display name and password (docs/api.md "Accounts")."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from typing import Annotated

import typer

from parley_cli import api, config, output
from parley_cli.commands import common
from parley_cli.errors import ApiError, AuthError, CliError, UsageError

app = common.group()


TokenPairStdin = Annotated[
    bool,
    typer.Option(
        "--token-stdin",
        help="Read a token pair (JSON, as the server gives it) or an access token from stdin, "
        "such as one a tenant's backend minted, instead of logging in with a password.",
    ),
]


@app.command()
def login(
    ctx: typer.Context,
    server: common.Server = None,
    tenant: common.Tenant = None,
    username: common.Username = None,
    password_stdin: common.PasswordStdin = False,
    token_stdin: TokenPairStdin = False,
) -> None:
    """Log in and keep the session in the profile."""
    this = common.session(ctx)
    if token_stdin:
        if password_stdin:
            raise UsageError("--token-stdin and --password-stdin exclude each other")
        _login_with_token(this, this.server_url(server), sys.stdin.read())
        return
    url, tenant, username, password = _ask(this, server, tenant, username, password_stdin)
    with this.new_client(url) as client:
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
    with this.new_client(url) as client:
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
        if saved is None or not saved.logged_in:
            output.Output().notice("Not logged in.")
            return
        profiles[this.profile] = saved.without_session()
    if not saved.refresh_token:
        # An access token alone (`login --token-stdin`): nothing to end on the server.
        output.Output().notice(f"Forgot the access token of {saved.username}.")
        return
    try:
        with this.new_client(saved.server) as client:
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


@app.command()
def profile(
    ctx: typer.Context,
    display_name: Annotated[
        str, typer.Option("--display-name", "-d", help="The name others see beside yours.")
    ],
    json: common.Json = False,
) -> None:
    """Change your profile: your display name."""
    this = common.session(ctx)
    user = this.client(ctx).update_profile(display_name)
    output.Output(json_mode=json).user(user, {"profile": this.profile})


@app.command()
def passwd(ctx: typer.Context, password_stdin: common.PasswordStdin = False) -> None:
    """Change your password; every other login of yours ends, this one stays.

    With --password-stdin, stdin holds the current password on one line and the new
    one on the next."""
    this = common.session(ctx)
    client = this.client(ctx)
    if password_stdin:
        lines = sys.stdin.read().splitlines()
        if len(lines) < 2 or not lines[0] or not lines[1]:
            raise UsageError("--password-stdin reads two lines: the current and the new password")
        current, new = lines[0], lines[1]
    else:
        current = common.read_secret("Current password", False, "--password-stdin")
        new = common.read_secret("New password", False, "--password-stdin", confirm=True)
    client.change_password(current, new)
    output.Output().notice("Password changed; your other logins have been ended.")


class _GivenToken:
    """`api.Credentials` for one access token checked before it is kept."""

    def __init__(self, token: str) -> None:
        self._token = token

    def access_token(self) -> str:
        return self._token

    def rotate(self, stale: str, exchange: Callable[[str], api.TokenPair]) -> str:
        raise AuthError("the token was refused: it is invalid or has expired")


def _login_with_token(this: common.Session, url: str, text: str) -> None:
    pair = _token_pair(text)
    with this.new_client(url, credentials=_GivenToken(pair["access_token"])) as client:
        user = client.me()  # who the token says, and that the server takes it
    _start_session(this, url, user["tenant"], user["username"], pair)
    output.Output().notice(
        f"Logged in to {url} as {user['username']} (tenant {user['tenant']}) with the token given."
    )


def _token_pair(text: str) -> api.TokenPair:
    """A token pair as the server gives it (JSON), or a bare access token."""
    text = text.strip()
    if not text:
        raise UsageError("no token on stdin")
    if not text.startswith("{"):
        if any(char.isspace() for char in text):
            raise UsageError("stdin holds neither a token pair (JSON) nor one access token")
        return {"access_token": text, "refresh_token": "", "expires_in": 0, "token_type": "Bearer"}
    try:
        value = json.loads(text)
    except ValueError:
        raise UsageError("stdin is not valid JSON") from None
    access = value.get("access_token") if isinstance(value, dict) else None
    refresh = value.get("refresh_token") if isinstance(value, dict) else None
    if not isinstance(access, str) or not access or not isinstance(refresh, str | None):
        raise UsageError("the token pair on stdin has no access_token")
    return {
        "access_token": access,
        "refresh_token": refresh or "",
        "expires_in": 0,
        "token_type": "Bearer",
    }


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
            refresh_token=pair["refresh_token"] or None,
        )
    if previous.refresh_token:
        # The replaced login would otherwise live on, unused, until it expires.
        try:
            with this.new_client(previous.server) as client:
                client.logout(previous.refresh_token)
        except CliError:
            pass
