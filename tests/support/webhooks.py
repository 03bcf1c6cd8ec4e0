"""A real webhook endpoint for tests: a threaded HTTP server on loopback that records each
delivery it answers, and can be made to fail, hang or answer slowly."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass(frozen=True)
class Delivery:
    status: int
    """What the receiver answered."""
    body: bytes
    headers: dict[str, str]

    @property
    def event(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.body)
        return event


@dataclass
class Behaviour:
    fail_first: int = 0
    """Answer 500 to this many calls before answering 204."""
    delay_seconds: float = 0.0
    """Wait this long before answering each call."""
    hold: threading.Event | None = None
    """When set, every call waits (until the event is set) before answering."""
    status: int = 204
    """What to answer once done failing."""


@dataclass
class Receiver:
    """Serve with `with Receiver() as receiver:`; `url` is its address."""

    behaviour: Behaviour = field(default_factory=Behaviour)
    calls: list[Delivery] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                behaviour = receiver.behaviour
                if behaviour.hold is not None:
                    behaviour.hold.wait(30)
                if behaviour.delay_seconds:
                    time.sleep(behaviour.delay_seconds)
                with receiver._lock:
                    failing = len(receiver.calls) < behaviour.fail_first
                    status = 500 if failing else behaviour.status
                    receiver.calls.append(Delivery(status, body, dict(self.headers.items())))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.behaviour.hold is not None:
            self.behaviour.hold.set()
        self._server.shutdown()
        self._server.server_close()

    def delivered(self) -> list[Delivery]:
        """The deliveries answered 2xx, in the order they were answered."""
        with self._lock:
            return [call for call in self.calls if 200 <= call.status < 300]

    def wait_for(
        self, predicate: Callable[[list[Delivery]], bool], *, timeout: float = 60
    ) -> list[Delivery]:
        """Wait until `predicate` holds of the 2xx deliveries; fail the test past `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            delivered = self.delivered()
            if predicate(delivered):
                return delivered
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"after {timeout} s: {len(self.calls)} calls, {len(delivered)} delivered"
                )
            time.sleep(0.05)


class TenantApi:
    """A tenant backend's client on chat's `/v1/tenant` routes, with a server key."""

    def __init__(self, chat_url: str, key: str) -> None:
        self.http = httpx.Client(
            base_url=chat_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )

    def close(self) -> None:
        self.http.close()

    def put(self, name: str, url: str, events: list[str], **extra: Any) -> httpx.Response:
        return self.http.put(
            f"/v1/tenant/webhooks/{name}", json={"url": url, "events": events, **extra}
        )

    def create(self, name: str, url: str, events: list[str] | None = None) -> str:
        """A new webhook; its secret."""
        response = self.put(name, url, events or ["message"])
        assert response.status_code == 201, response.text
        secret: str = response.json()["secret"]
        return secret

    def webhook(self, name: str) -> dict[str, Any]:
        response = self.http.get("/v1/tenant/webhooks")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = next(
            hook for hook in response.json()["webhooks"] if hook["name"] == name
        )
        return found
