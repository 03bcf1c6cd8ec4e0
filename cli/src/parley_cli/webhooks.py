"""Receiving Parley webhooks (docs/integrations.md "Webhooks"): `verify`, the signature
check docs/integrations.md shows to copy, and `Listener`, the small HTTP server of
`parley webhook listen` that verifies and prints each delivery.

Standard library only, so the verifier reads the same in a tenant's own backend.
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Callable
from typing import Any

SIGNATURE_HEADER = "Parley-Signature"
EVENT_ID_HEADER = "Parley-Event-Id"
TOLERANCE_SECONDS = 300
"""A signature older (or newer) than this is refused: a captured delivery cannot be replayed
later."""
MAX_BODY_BYTES = 1024 * 1024


def verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True when `header` (`Parley-Signature: t=UNIX,v1=HEX`) signs `body` with `secret`
    within `tolerance` seconds of now. Compares in constant time."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    # Any v1 may match: during a secret rotation a sender may sign with both.
    return any(
        hmac.compare_digest(expected.hexdigest(), candidate) for candidate in fields.get("v1", [])
    )


Received = Callable[[str, dict[str, Any]], None]
"""Called with each verified delivery's event id and event."""


class Listener:
    """`parley webhook listen`: a threaded HTTP server on `host:port` that answers 204 to
    a delivery signed with `secret`, 401 to a bad or stale signature, 400 to a body that is
    not a JSON object, and hands each verified event to `received`."""

    def __init__(self, secret: str, received: Received, *, host: str, port: int) -> None:
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            server_version = "parley-webhook-listen"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if not 0 <= length <= MAX_BODY_BYTES:
                    self._answer(413)
                    return
                body = self.rfile.read(length)
                if not verify(secret, self.headers.get(SIGNATURE_HEADER, ""), body):
                    self._answer(401)
                    return
                try:
                    event = json.loads(body)
                except ValueError:
                    event = None
                if not isinstance(event, dict):
                    self._answer(400)
                    return
                with listener._lock:
                    received(self.headers.get(EVENT_ID_HEADER, ""), event)
                self._answer(204)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                del format, args  # each event is printed by `received`, not logged

        self._lock = threading.Lock()
        self.server = http.server.ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
