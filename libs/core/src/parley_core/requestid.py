"""`X-Request-Id`: one id per request or WebSocket session, on its response, on every log
line written while it is served and on its server span (docs/api.md "Conventions").

A caller (or the ingress in front) may name the request itself; its id is kept when it
is short and plain, so a hostile header can neither flood the logs nor forge fields in
them. Anything else gets a generated id. The id lives in the ASGI scope's `state`, so the
request log (parley_core.telemetry.RequestLog), which runs after routing, and the
`before_send` hook, which sees every response including the router's own 404s, agree.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, cast

from litestar.types import Message, Scope

HEADER = "X-Request-Id"
_HEADER_KEY = HEADER.lower().encode()
_SANE = re.compile(r"[A-Za-z0-9._~:/+=@-]{1,128}")
_STATE_KEY = "parley.request_id"
_WITH_HEADERS = frozenset({"http.response.start", "websocket.accept"})


def of(scope: Scope) -> str:
    """The request's id: the caller's `X-Request-Id` when sane, else one generated once."""
    state = cast("dict[str, Any]", scope).setdefault("state", {})
    known = state.get(_STATE_KEY)
    if isinstance(known, str):
        return known
    presented = next(
        (value for key, value in scope.get("headers", ()) if key.lower() == _HEADER_KEY), b""
    )
    text = presented.decode("latin-1").strip()
    request_id = text if _SANE.fullmatch(text) else uuid.uuid4().hex
    state[_STATE_KEY] = request_id
    return request_id


async def add_header(message: Message, scope: Scope) -> None:
    """A `before_send` hook: the id on every HTTP response and WebSocket handshake."""
    if message["type"] not in _WITH_HEADERS:
        return
    event = cast("dict[str, Any]", message)
    headers = list(event.get("headers") or [])
    if not any(key.lower() == _HEADER_KEY for key, _ in headers):
        headers.append((_HEADER_KEY, of(scope).encode()))
    event["headers"] = headers
