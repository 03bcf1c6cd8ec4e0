"""The `parley` command line: the root command, its subcommands put together, and `main`.

The subcommands live in `parley_cli.commands`, one module per area; they hold no HTTP
(that is `api.Client`) and no formatting (that is `output.Output`). `main` is the only
place that turns failures into text and exit codes: one line on stderr, `error: ...`, and
1 for API errors, 2 for usage, 3 for authentication. Never a traceback (`PARLEY_DEBUG=1`
shows one).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from typing import Annotated, NoReturn

import typer

from parley_cli import config, output
from parley_cli.commands import (
    account,
    admin,
    chats,
    common,
    events,
    messages,
    presence,
    profiles,
    search,
    threads,
    webhook,
)
from parley_cli.errors import CliError, UsageError

app = common.group(
    name="parley",
    help="Parley from a terminal: log in, chat, and follow chats live.",
    no_args_is_help=True,
    # --install-completion and --show-completion (bash, zsh, fish, PowerShell).
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
# In the order `parley --help` lists them: the top-level commands, then the groups.
app.add_typer(account.app)
app.add_typer(profiles.app)
app.add_typer(chats.app)
app.add_typer(messages.app)
app.add_typer(threads.app)
app.add_typer(search.app)
app.add_typer(presence.app)
app.add_typer(events.app)
app.add_typer(chats.chat_app, name="chat")
app.add_typer(chats.members_app, name="members")
app.add_typer(profiles.auth_app, name="auth")
app.add_typer(admin.app, name="admin")
app.add_typer(webhook.app, name="webhook")


def _print_version(value: bool) -> None:
    if value:
        print(f"parley {metadata.version('parley-cli')}")
        raise typer.Exit()


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
    use_grpc: Annotated[
        bool,
        typer.Option(
            "--grpc",
            envvar="PARLEY_GRPC",
            show_envvar=True,
            help="Speak the gRPC API instead of HTTP (docs/grpc.md); admin commands stay on HTTP.",
        ),
    ] = False,
    grpc_target: Annotated[
        str | None,
        typer.Option(
            "--grpc-target",
            envvar="PARLEY_GRPC_TARGET",
            show_envvar=True,
            help="gRPC HOST:PORT [default: the server's host, port 50051]; implies --grpc.",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print parley's version and exit.",
        ),
    ] = False,
) -> None:
    if not profile.strip():
        raise UsageError("--profile must not be empty")
    ctx.obj = common.Session(
        profile=profile,
        store=config.Store(config.config_dir()),
        grpc=use_grpc or grpc_target is not None,
        grpc_target=grpc_target,
    )


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
