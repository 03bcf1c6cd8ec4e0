"""JSON log lines on stdout, with ECS field names so ELK or Loki take them without parsing rules.

Bodies, passwords and tokens are never passed to a logger anywhere in Parley; this module
only shapes what callers put in `extra=`, and adds to every line written while a request
is served what is known about it: `trace.id` and `span.id` of the current span (when
tracing is on), and the `service.name`, `tenant` and `user.id` that the request's code
`bind`s once it has learned them (docs/observability.md, "Logs").
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

# Attributes every LogRecord has; anything else came from `extra=` and is emitted as a field.
# uvicorn adds `color_message`, an ANSI copy of the message.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "color_message",
}


# uvicorn logs each WebSocket handshake with its full path, and browsers put the access
# token in the query of `/v1/stream` (docs/api.md): tokens never reach the log.
_TOKEN_IN_QUERY = re.compile(r"(access_token=)[^&\s\"']+")


def redact(text: str) -> str:
    return _TOKEN_IN_QUERY.sub(r"\1[redacted]", text)


# The fields of the request being served. A mutable dict, so that what a dependency or a
# task spawned by the request binds (each runs in a copy of the context) is seen by the
# request's later lines, including the one-line summary written at its end.
_request_fields: ContextVar[dict[str, str] | None] = ContextVar(
    "parley_request_fields", default=None
)


@contextmanager
def request_scope(**fields: str) -> Iterator[dict[str, str]]:
    """Open the fields of one request (or WebSocket session); lines written inside carry them."""
    scope = dict(fields)
    token = _request_fields.set(scope)
    try:
        yield scope
    finally:
        _request_fields.reset(token)


def bind(*, tenant: str | None = None, user_id: object | None = None) -> None:
    """Name the caller on every later line of the current request; outside one, nothing."""
    scope = _request_fields.get()
    if scope is None:
        return
    if tenant is not None:
        scope["tenant"] = tenant
    if user_id is not None:
        scope["user.id"] = str(user_id)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: `@timestamp`, `log.level`, `log.logger`, `message`, extras."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "@timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "log.level": record.levelname.lower(),
            "log.logger": record.name,
            "message": redact(record.getMessage()),
        }
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            line["trace.id"] = trace.format_trace_id(span.trace_id)
            line["span.id"] = trace.format_span_id(span.span_id)
        line.update(_request_fields.get() or {})
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["error.stack_trace"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def configure(level: str = "INFO") -> None:
    """Route the root logger, and uvicorn's, to one JSON handler on stdout."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # One line per internal call to auth is noise; failures are logged by the callers.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
