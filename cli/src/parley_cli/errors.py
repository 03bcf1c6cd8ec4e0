"""The failures `parley` reports, each with the exit code the command ends with.

Every layer raises one of these; only `parley_cli.app.main` turns them into a line on
stderr and an exit status, so no other module prints errors or calls `sys.exit`.
"""

from __future__ import annotations


class CliError(Exception):
    """A failure reported as one line, `error: <message>`, and `exit_code`."""

    exit_code = 1


class ApiError(CliError):
    """The server refused the request, or could not be reached."""

    exit_code = 1

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class UsageError(CliError):
    """The command line cannot be run as given."""

    exit_code = 2


class AuthError(CliError):
    """Not logged in, wrong credentials, or a session the server no longer accepts."""

    exit_code = 3
