"""Why a stream socket closes: each case with the close code a client acts on, the reason
text sent with it, and the label it counts under in parley_stream_disconnects_total.

The codes are the public contract (docs/api.md "Real-time stream", docs/stream.md); a
code can stand for several cases (4401 at connect and 4401 on expiry count apart), so the
members are the cases, not the codes.

Why the CLI does not import this: it is a client of the public contract only (the
import-linter contract "the CLI speaks only the public contract"), installed where no
server code belongs. A dependency-free package shared by both would be one more workspace
member, image layer and lock entry for a table of seven numbers; instead the CLI keeps
its own table of what each code means to a user (parley_cli.stream.CLOSE_REASONS), and
tests/unit/cli/test_close_codes.py fails when a code here is missing from it.

Not under `realtime/` because `parley_chat.metrics` reads it, and the domain reads the
metrics: the layers contract would see the domain importing the realtime layer.
"""

from __future__ import annotations

import enum


class CloseCode(enum.Enum):
    code: int
    reason: str
    label: str

    def __new__(cls, code: int, reason: str, label: str) -> CloseCode:
        case = object.__new__(cls)
        case._value_ = (code, reason)  # unique, where codes and labels repeat
        case.code = code
        case.reason = reason
        case.label = label
        return case

    # At connect.
    UNAUTHORIZED = (4401, "invalid or expired access token", "unauthorized")
    TENANT_GONE = (4401, "tenant no longer exists", "unauthorized")
    AUTH_UNAVAILABLE = (1013, "auth unavailable", "auth_unavailable")
    BROKER_UNAVAILABLE = (1013, "redis unavailable", "broker_unavailable")
    # At connect or while connected.
    SUSPENDED = (4403, "tenant suspended", "tenant_suspended")
    # While connected.
    EXPIRED = (4401, "access token expired or tenant gone", "token_expired")
    IDLE = (4408, "idle: send a ping at least every minute", "idle")
    SLOW_CONSUMER = (4429, "too far behind: reconnect and resume", "slow_consumer")
    INTERNAL_ERROR = (1011, "internal error: reconnect and resume", "error")
    DATABASE_UNAVAILABLE = (
        1013,
        "database unavailable: reconnect and resume",
        "database_unavailable",
    )
    # uvicorn closes every socket with 1012 on SIGTERM; the connection sees its client go.
    RESTARTING = (1012, "server restarting: reconnect and resume", "client")
