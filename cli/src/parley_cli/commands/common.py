"""What every command module shares: the profile it acts as, the options several commands
take, and reading what a person types (passwords, tokens, message text) from the terminal
or stdin."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Annotated, Any, cast

import typer

from parley_cli import api, config, grpc_api, lookup, output
from parley_cli.errors import UsageError


def group(**options: Any) -> typer.Typer:
    """A Typer for a command or group. Help is plain text, not Rich markup: markup would take
    `[default: ...]` in an option's help for a tag and print nothing in its place."""
    return typer.Typer(rich_markup_mode=None, **options)


Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
ChatArg = Annotated[str, typer.Argument(metavar="CHAT", help="A chat id, id prefix or title.")]
Server = Annotated[
    str | None,
    typer.Option(
        "--server", "-s", envvar="PARLEY_SERVER", help="Server URL [default: the profile's]."
    ),
]
Tenant = Annotated[
    str | None, typer.Option("--tenant", "-t", help="Tenant slug [default: the profile's].")
]
Username = Annotated[
    str | None,
    typer.Option("--username", "-u", help="Username [default: the profile's, else asked]."),
]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from stdin.")
]
TokenStdin = Annotated[bool, typer.Option("--token-stdin", help="Read the admin token from stdin.")]
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
    grpc: bool = False
    """`--grpc`: user commands speak the gRPC API (parley_cli.grpc_api)."""
    grpc_target: str | None = None

    def new_client(
        self,
        server: str,
        *,
        credentials: api.Credentials | None = None,
        admin_token: str | None = None,
    ) -> api.Client:
        """A client of `server`, over gRPC with `--grpc`, else over HTTP."""
        if self.grpc:
            return grpc_api.GrpcClient(
                server,
                target=self.grpc_target,
                credentials=credentials,
                admin_token=admin_token,
            )
        return api.Client(server, credentials=credentials, admin_token=admin_token)

    def saved(self) -> config.Profile:
        return self.store.get(self.profile) or config.Profile()

    def me(self) -> str | None:
        return self.saved().username

    def server_url(self, server: str | None) -> str:
        """`--server`, else the profile's, checked."""
        return api.check_server_url(server or self.saved().server)

    def client(self, ctx: typer.Context) -> api.Client:
        saved = self.saved()
        if not saved.logged_in:
            raise config.not_logged_in(self.profile)
        credentials = config.ProfileCredentials(self.store, self.profile)
        return ctx.with_resource(self.new_client(saved.server, credentials=credentials))

    def chat(self, ctx: typer.Context, query: str) -> tuple[api.Client, api.Chat]:
        """A client, and the chat that `query` (an id, id prefix or title) names."""
        client = self.client(ctx)
        return client, lookup.find(client, query, self.me())

    def label(self, chat: api.Chat) -> str:
        return output.chat_label(chat, self.me())

    def admin_client(
        self, ctx: typer.Context, server: str | None, admin_token: str | None
    ) -> api.Client:
        saved = self.saved()
        token = admin_token or saved.admin_token
        return ctx.with_resource(api.Client(server or saved.server, admin_token=token))


def session(ctx: typer.Context) -> Session:
    """The `Session` the root command's callback put on the context."""
    return cast(Session, ctx.obj)


def interactive() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def prompt_username() -> str:
    if not interactive():
        raise UsageError("--username is required when stdin is not a terminal")
    return cast(str, typer.prompt("Username")).strip()


def read_password(from_stdin: bool, *, confirm: bool) -> str:
    return read_secret("Password", from_stdin, "--password-stdin", confirm=confirm)


def read_secret(name: str, from_stdin: bool, flag: str, *, confirm: bool = False) -> str:
    if from_stdin:
        secret = sys.stdin.read().removesuffix("\n").removesuffix("\r")
    elif interactive():
        secret = typer.prompt(name, hide_input=True, confirmation_prompt=confirm)
    else:
        raise UsageError(f"no terminal to ask for the {name.lower()}; use {flag}")
    if not secret:
        raise UsageError(f"the {name.lower()} is empty")
    return cast(str, secret)


def text_or_stdin(text: str | None) -> str:
    if text is None or text == "-":
        if interactive():
            raise UsageError("give the text as an argument, or pipe it on stdin")
        text = sys.stdin.read().rstrip("\n")
    if not text.strip():
        raise UsageError("the message is empty")
    return text
