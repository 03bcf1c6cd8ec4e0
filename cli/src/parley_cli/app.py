"""The `parley` command line: parse arguments, call `api.Client`, hand results to `Output`.

Commands hold no HTTP and no formatting of their own. `main` is the only place that turns
failures into text and exit codes: one line on stderr, `error: ...`, and 1 for API errors,
2 for usage, 3 for authentication. Never a traceback (`PARLEY_DEBUG=1` shows one).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn, cast

import typer

from parley_cli import api, config, lookup, output
from parley_cli.errors import ApiError, CliError, UsageError

app = typer.Typer(
    name="parley",
    help="Parley from a terminal: log in, chat, and follow chats live.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
chat_app = typer.Typer(help="Start chats.", no_args_is_help=True)
members_app = typer.Typer(help="List, add and remove a chat's members.", no_args_is_help=True)
admin_app = typer.Typer(help="Manage tenants with the admin token.", no_args_is_help=True)
tenant_app = typer.Typer(help="Create, show and delete tenants.", no_args_is_help=True)
app.add_typer(chat_app, name="chat")
app.add_typer(members_app, name="members")
app.add_typer(admin_app, name="admin")
admin_app.add_typer(tenant_app, name="tenant")

Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
ChatArg = Annotated[str, typer.Argument(metavar="CHAT", help="A chat id, id prefix or title.")]
Server = Annotated[
    str | None,
    typer.Option(
        "--server", "-s", envvar="PARLEY_SERVER", help="Server URL [default: the profile's]."
    ),
]
AdminToken = Annotated[
    str | None,
    typer.Option(
        "--admin-token",
        envvar="PARLEY_ADMIN_TOKEN",
        show_envvar=True,
        help="Admin token [default: the profile's].",
    ),
]


@dataclass
class Session:
    """What every command shares: the profile it acts as, and where profiles live."""

    profile: str
    store: config.Store

    def saved(self) -> config.Profile:
        return self.store.get(self.profile) or config.Profile()

    def me(self) -> str | None:
        return self.saved().username

    def client(self, ctx: typer.Context) -> api.Client:
        saved = self.saved()
        if not saved.logged_in:
            raise config.not_logged_in(self.profile)
        credentials = config.ProfileCredentials(self.store, self.profile)
        return ctx.with_resource(api.Client(saved.server, credentials=credentials))

    def admin_client(
        self, ctx: typer.Context, server: str | None, admin_token: str | None
    ) -> api.Client:
        saved = self.saved()
        token = admin_token or saved.admin_token
        return ctx.with_resource(api.Client(server or saved.server, admin_token=token))


def session(ctx: typer.Context) -> Session:
    return cast(Session, ctx.obj)


@app.callback()
def options(
    ctx: typer.Context,
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            "-p",
            envvar="PARLEY_PROFILE",
            show_envvar=True,
            help="Credentials profile to use.",
        ),
    ] = config.DEFAULT_PROFILE,
) -> None:
    if not profile.strip():
        raise UsageError("--profile must not be empty")
    ctx.obj = Session(profile=profile, store=config.Store(config.config_dir()))


# -- login and accounts ---------------------------------------------------------------------


@app.command()
def login(
    ctx: typer.Context,
    server: Server = None,
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Tenant slug.")] = None,
    username: Annotated[str | None, typer.Option("--username", "-u")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Log in and keep the session in the profile."""
    this = session(ctx)
    saved = this.saved()
    url = api.check_server_url(server or saved.server)
    tenant = tenant or saved.tenant
    username = username or saved.username or _prompt_username()
    password = _read_password(password_stdin, confirm=False)
    with api.Client(url) as client:
        pair = client.login(tenant, username, password)
    _start_session(this, url, tenant, username, pair)
    output.Output().notice(f"Logged in to {url} as {username} (tenant {tenant}).")


@app.command()
def register(
    ctx: typer.Context,
    server: Server = None,
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Tenant slug.")] = None,
    username: Annotated[str | None, typer.Option("--username", "-u")] = None,
    display_name: Annotated[str | None, typer.Option("--display-name", "-d")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Create an account (where the tenant allows it) and log in."""
    this = session(ctx)
    saved = this.saved()
    url = api.check_server_url(server or saved.server)
    tenant = tenant or saved.tenant
    username = username or _prompt_username()
    password = _read_password(password_stdin, confirm=True)
    with api.Client(url) as client:
        client.register(tenant, username, password, display_name)
        pair = client.login(tenant, username, password)
    _start_session(this, url, tenant, username, pair)
    output.Output().notice(f"Registered {username} in tenant {tenant} on {url}; logged in.")


@app.command()
def logout(ctx: typer.Context) -> None:
    """End the session on the server and forget its tokens."""
    this = session(ctx)
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
def whoami(ctx: typer.Context, json: Json = False) -> None:
    """Show who the profile is logged in as."""
    this = session(ctx)
    user = this.client(ctx).me()
    context = {"server": this.saved().server, "profile": this.profile}
    output.Output(json_mode=json).user(user, context)


# -- chats ----------------------------------------------------------------------------------


@app.command()
def chats(ctx: typer.Context, json: Json = False) -> None:
    """List your chats, most recent activity first."""
    this = session(ctx)
    output.Output(json_mode=json).chats(this.client(ctx).chats(), this.me())


@chat_app.command("create")
def chat_create(
    ctx: typer.Context,
    title: Annotated[str | None, typer.Option("--title", "-t")] = None,
    member: Annotated[
        list[str] | None, typer.Option("--member", "-m", help="A username; repeat for more.")
    ] = None,
    json: Json = False,
) -> None:
    """Start a group chat; you are its owner."""
    this = session(ctx)
    chat = this.client(ctx).create_chat("group", member or [], title)
    output.Output(json_mode=json).chat(chat, this.me(), "Created")


@chat_app.command("dm")
def chat_dm(ctx: typer.Context, user: str, json: Json = False) -> None:
    """Open the direct chat with USER (the same one every time)."""
    this = session(ctx)
    chat = this.client(ctx).create_chat("direct", [user])
    output.Output(json_mode=json).chat(chat, this.me(), "Opened")


@members_app.command("list")
def members_list(ctx: typer.Context, chat: ChatArg, json: Json = False) -> None:
    """Show a chat's members."""
    this = session(ctx)
    found = lookup.find(this.client(ctx), chat, this.me())
    output.Output(json_mode=json).members(found)


@members_app.command("add")
def members_add(
    ctx: typer.Context,
    chat: ChatArg,
    users: Annotated[list[str], typer.Argument(metavar="USER...")],
) -> None:
    """Add users to a chat you own."""
    this = session(ctx)
    client = this.client(ctx)
    found = lookup.find(client, chat, this.me())
    for user in users:
        client.add_member(found["id"], user)
        output.Output().notice(f"Added {user} to {output.chat_label(found, this.me())}.")


@members_app.command("remove")
def members_remove(
    ctx: typer.Context,
    chat: ChatArg,
    users: Annotated[list[str], typer.Argument(metavar="USER...")],
) -> None:
    """Remove users from a chat you own, or yourself from any chat."""
    this = session(ctx)
    client = this.client(ctx)
    found = lookup.find(client, chat, this.me())
    for user in users:
        client.remove_member(found["id"], user)
        output.Output().notice(f"Removed {user} from {output.chat_label(found, this.me())}.")


# -- messages -------------------------------------------------------------------------------


@app.command()
def send(
    ctx: typer.Context,
    chat: ChatArg,
    text: Annotated[
        str | None, typer.Argument(help="The message; read from stdin when left out or '-'.")
    ] = None,
    json: Json = False,
) -> None:
    """Send a message."""
    this = session(ctx)
    body = _text_or_stdin(text)
    client = this.client(ctx)
    found = lookup.find(client, chat, this.me())
    # A client_msg_id makes the retry after a token refresh safe: the server answers a
    # repeat with the stored message instead of storing it twice.
    message = client.send(found["id"], body, client_msg_id=str(uuid.uuid4()))
    output.Output(json_mode=json).message(message, "Sent", output.chat_label(found, this.me()))


@app.command()
def history(
    ctx: typer.Context,
    chat: ChatArg,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many messages.")] = 20,
    before: Annotated[
        int | None, typer.Option("--before", min=1, help="Only messages before this seq.")
    ] = None,
    after: Annotated[
        int | None, typer.Option("--after", min=0, help="Only messages after this seq.")
    ] = None,
    json: Json = False,
) -> None:
    """Show a chat's messages, oldest first: the latest ones unless --before or --after."""
    if before is not None and after is not None:
        raise UsageError("give --before or --after, not both")
    this = session(ctx)
    client = this.client(ctx)
    found = lookup.find(client, chat, this.me())
    if after is not None:
        messages = _pages_after(client, found["id"], after, limit)
    else:
        start = before if before is not None else found["last_seq"] + 1
        messages = _pages_before(client, found["id"], start, limit)
    output.Output(json_mode=json).messages(messages)


@app.command()
def edit(
    ctx: typer.Context,
    chat: ChatArg,
    seq: Annotated[int, typer.Argument(min=1, help="The message's seq.")],
    text: Annotated[
        str | None, typer.Argument(help="The new text; read from stdin when left out or '-'.")
    ] = None,
    json: Json = False,
) -> None:
    """Change the text of a message you sent."""
    this = session(ctx)
    body = _text_or_stdin(text)
    client = this.client(ctx)
    found = lookup.find(client, chat, this.me())
    message = client.edit(found["id"], seq, body)
    output.Output(json_mode=json).message(message, "Edited", output.chat_label(found, this.me()))


@app.command()
def delete(
    ctx: typer.Context,
    chat: ChatArg,
    seq: Annotated[int, typer.Argument(min=1, help="The message's seq.")],
) -> None:
    """Delete a message you sent (its seq stays in the history, marked deleted)."""
    this = session(ctx)
    client = this.client(ctx)
    found = lookup.find(client, chat, this.me())
    client.delete_message(found["id"], seq)
    output.Output().notice(f"Deleted #{seq} in {output.chat_label(found, this.me())}.")


@app.command()
def read(
    ctx: typer.Context,
    chat: ChatArg,
    seq: Annotated[
        int | None, typer.Option("--seq", min=0, help="Read up to here [default: the latest].")
    ] = None,
) -> None:
    """Mark a chat read."""
    this = session(ctx)
    client = this.client(ctx)
    found = lookup.find(client, chat, this.me())
    upto = found["last_seq"] if seq is None else seq
    client.mark_read(found["id"], upto)
    output.Output().notice(f"Marked {output.chat_label(found, this.me())} read up to #{upto}.")


@app.command()
def tail(
    ctx: typer.Context,
    chats: Annotated[
        list[str] | None,
        typer.Argument(metavar="[CHAT]...", help="Chats to follow [default: all of yours]."),
    ] = None,
    lines: Annotated[
        int, typer.Option("--lines", "-n", min=0, help="Also show the last N of each chat.")
    ] = 0,
    json: Json = False,
) -> None:
    """Print messages as they arrive, until Ctrl-C; survives reconnects without gaps."""
    # Imported here: websockets is needed by this command only, and every other command
    # starts faster without it.
    from parley_cli import stream

    this = session(ctx)
    client = this.client(ctx)
    me = this.me()
    everything = client.chats()
    if chats:
        watched = {chat["id"]: chat for chat in (lookup.match(q, everything, me) for q in chats)}
    else:
        watched = {chat["id"]: chat for chat in everything}
    out = output.Output(json_mode=json)
    follower = stream.Tail(
        client,
        out,
        cursors={chat_id: max(0, chat["last_seq"] - lines) for chat_id, chat in watched.items()},
        labels={chat_id: output.chat_label(chat, me) for chat_id, chat in watched.items()},
        only=set(watched) if chats else None,
        me=me,
    )
    if out.err.isatty():
        which = f"{len(watched)} chat{'s' if len(watched) != 1 else ''}" if chats else "all chats"
        out.notice(f"Following {which} on {client.server}; Ctrl-C to stop.")
    asyncio.run(follower.run())


# -- admin ----------------------------------------------------------------------------------


@admin_app.command("login")
def admin_login(
    ctx: typer.Context,
    server: Server = None,
    token_stdin: Annotated[
        bool, typer.Option("--token-stdin", help="Read the admin token from stdin.")
    ] = False,
) -> None:
    """Check an admin token and keep it in the profile."""
    this = session(ctx)
    saved = this.saved()
    url = api.check_server_url(server or saved.server)
    if saved.logged_in and url != saved.server:
        raise UsageError(
            f"profile {this.profile!r} is logged in to {saved.server}; "
            f"use another --profile for {url}"
        )
    token = _read_secret("Admin token", token_stdin, "--token-stdin")
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
    server: Server = None,
    admin_token: AdminToken = None,
    json: Json = False,
) -> None:
    """Show a tenant, its limits and usage."""
    client = session(ctx).admin_client(ctx, server, admin_token)
    output.Output(json_mode=json).tenant(client.get_tenant(slug))


@tenant_app.command("put")
def tenant_put(
    ctx: typer.Context,
    slug: str,
    display_name: Annotated[str | None, typer.Option("--display-name")] = None,
    self_registration: Annotated[
        bool | None, typer.Option("--self-registration/--no-self-registration")
    ] = None,
    suspended: Annotated[bool | None, typer.Option("--suspended/--no-suspended")] = None,
    max_users: Annotated[int | None, typer.Option("--max-users", min=1)] = None,
    messages_per_minute: Annotated[int | None, typer.Option("--messages-per-minute", min=1)] = None,
    max_message_chars: Annotated[int | None, typer.Option("--max-message-chars", min=1)] = None,
    server: Server = None,
    admin_token: AdminToken = None,
    json: Json = False,
) -> None:
    """Create or update a tenant. Settings not given keep their current values (a new
    tenant gets the server's defaults)."""
    client = session(ctx).admin_client(ctx, server, admin_token)
    current = client.find_tenant(slug)
    spec: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    if current is not None:
        # PUT replaces the whole tenant: start from what is stored, change what was given.
        spec = {
            "display_name": current["display_name"],
            "self_registration": current["self_registration"],
            "suspended": current["suspended"],
        }
        limits = dict(current["limits"])
    given = {
        "display_name": display_name,
        "self_registration": self_registration,
        "suspended": suspended,
    }
    spec.update({key: value for key, value in given.items() if value is not None})
    given_limits = {
        "max_users": max_users,
        "messages_per_minute": messages_per_minute,
        "max_message_chars": max_message_chars,
    }
    limits.update({key: value for key, value in given_limits.items() if value is not None})
    if limits:
        spec["limits"] = limits
    tenant, created = client.put_tenant(slug, spec)
    out = output.Output(json_mode=json)
    out.notice(f"{'Created' if created else 'Updated'} tenant {slug}.")
    out.tenant(tenant)


@tenant_app.command("delete")
def tenant_delete(
    ctx: typer.Context,
    slug: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    server: Server = None,
    admin_token: AdminToken = None,
) -> None:
    """Delete a tenant and every user, chat and message in it."""
    if not yes:
        if not _interactive():
            raise UsageError(f"deleting tenant {slug!r} erases all its data; pass --yes")
        typer.confirm(f"Delete tenant {slug!r} and all its data?", abort=True)
    client = session(ctx).admin_client(ctx, server, admin_token)
    client.delete_tenant(slug)
    output.Output().notice(f"Deleted tenant {slug}.")


# -- helpers --------------------------------------------------------------------------------


def _start_session(
    this: Session, server: str, tenant: str, username: str, pair: api.TokenPair
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


def _interactive() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _prompt_username() -> str:
    if not _interactive():
        raise UsageError("--username is required when stdin is not a terminal")
    return cast(str, typer.prompt("Username")).strip()


def _read_password(from_stdin: bool, *, confirm: bool) -> str:
    return _read_secret("Password", from_stdin, "--password-stdin", confirm=confirm)


def _read_secret(name: str, from_stdin: bool, flag: str, *, confirm: bool = False) -> str:
    if from_stdin:
        secret = sys.stdin.read().removesuffix("\n").removesuffix("\r")
    elif _interactive():
        secret = typer.prompt(name, hide_input=True, confirmation_prompt=confirm)
    else:
        raise UsageError(f"no terminal to ask for the {name.lower()}; use {flag}")
    if not secret:
        raise UsageError(f"the {name.lower()} is empty")
    return cast(str, secret)


def _text_or_stdin(text: str | None) -> str:
    if text is None or text == "-":
        if _interactive():
            raise UsageError("give the text as an argument, or pipe it on stdin")
        text = sys.stdin.read().rstrip("\n")
    if not text.strip():
        raise UsageError("the message is empty")
    return text


def _pages_after(client: api.Client, chat_id: str, after: int, limit: int) -> list[api.Message]:
    messages: list[api.Message] = []
    while len(messages) < limit:
        page = client.history(
            chat_id, after_seq=after, limit=min(api.MAX_PAGE, limit - len(messages))
        )
        messages += page["messages"]
        if not page["has_more"] or not page["messages"]:
            break
        after = page["messages"][-1]["seq"]
    return messages


def _pages_before(client: api.Client, chat_id: str, before: int, limit: int) -> list[api.Message]:
    messages: list[api.Message] = []
    while len(messages) < limit:
        page = client.history(
            chat_id, before_seq=before, limit=min(api.MAX_PAGE, limit - len(messages))
        )
        messages[:0] = page["messages"]
        if not page["has_more"] or not page["messages"]:
            break
        before = page["messages"][0]["seq"]
    return messages


# -- entry point ----------------------------------------------------------------------------


def _fail(message: str, code: int) -> NoReturn:
    print(f"error: {output.printable(' '.join(message.split()))}", file=sys.stderr, flush=True)
    sys.exit(code)


@contextmanager
def _reported() -> Iterator[None]:
    debug = os.environ.get("PARLEY_DEBUG") == "1"
    try:
        yield
    except typer.TyperException as exc:
        # Typer's usage errors (exit code 2) and the rest of its vendored click's.
        if type(exc).__name__ == "NoArgsIsHelpError":  # as Typer itself tells it apart
            print(exc.format_message(), file=sys.stderr)
            sys.exit(exc.exit_code)
        context = getattr(exc, "ctx", None)
        hint = f" (see '{context.command_path} --help')" if context is not None else ""
        _fail(f"{exc.format_message()}{hint}", exc.exit_code)
    except typer.Abort:
        _fail("aborted", 1)
    except CliError as exc:
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        _fail(f"unexpected {type(exc).__name__}: {exc} (PARLEY_DEBUG=1 shows where)", 1)


def main(argv: list[str] | None = None) -> None:
    """The `parley` console script."""
    command = typer.main.get_command(app)
    with _reported():
        code = command.main(args=argv, prog_name="parley", standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
