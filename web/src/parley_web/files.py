"""The ASGI app that serves the web client's files (docs/web.md "How it is served").

Plain ASGI rather than a framework's static-files handler: the whole job is a dozen small
files read once at start, with the same security headers on every answer, and the web
image must stay a file server without the services' dependencies. The embedded default
mounts this app at `/` (parley_embedded.dispatch); the web image runs it alone.

Every answer carries a strict Content-Security-Policy: scripts and styles from this origin
only (the page has no inline script or style), connections to this origin (and the API's,
when it lives elsewhere) only, no framing. Files are revalidated on each load (`no-cache`
with an ETag) because their names carry no content hash: a deployment shows at the next
reload, and an unchanged file costs a 304.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_PROBES = ("/healthz", "/readyz")
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".png": "image/png",
}


def content_security_policy(api_url: str = "", store_origin: str = "") -> str:
    connect = "'self'"
    if api_url:
        socket_url = api_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        connect = f"{connect} {api_url} {socket_url}"
    if store_origin:
        connect = f"{connect} {store_origin}"
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            f"connect-src {connect}",
            "manifest-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


@dataclass(frozen=True)
class File:
    body: bytes
    content_type: str
    etag: str


def _file(body: bytes, name: str) -> File:
    suffix = name[name.rfind(".") :]
    content_type = _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return File(body, content_type, f'"{hashlib.sha256(body).hexdigest()[:32]}"')


def load_files(api_url: str = "") -> dict[str, File]:
    """Every file under `static/` by its URL path, plus the generated `/config.json`."""
    files: dict[str, File] = {}
    root = resources.files("parley_web") / "static"
    pending = [(root, "")]
    while pending:
        folder, prefix = pending.pop()
        for entry in folder.iterdir():
            if entry.is_dir():
                pending.append((entry, f"{prefix}/{entry.name}"))
            elif not entry.name.startswith("."):
                path = f"{prefix}/{entry.name}"
                files[path] = _file(entry.read_bytes(), path)
    files["/"] = files["/index.html"]
    config = json.dumps({"api_url": api_url}).encode()
    files["/config.json"] = _file(config, "/config.json")
    return files


class WebApp:
    """The web client's files at `/`; `/healthz` and `/readyz` for the web image's probes
    (the files are read at start, so a process that answers is ready)."""

    def __init__(self, *, api_url: str = "", store_origin: str = "", healthz: bool = True) -> None:
        self.files = load_files(api_url)
        self.healthz = healthz
        policy = content_security_policy(api_url, store_origin)
        self.headers = [
            (b"content-security-policy", policy.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        ]

    def serves(self, path: str) -> bool:
        return path in self.files or (self.healthz and path in _PROBES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[-1]
                await send({"type": f"{message['type']}.complete"})
                if kind == "shutdown":
                    return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1000})
            return
        method = scope["method"]
        path = scope["path"]
        if self.healthz and path in _PROBES:
            await self._answer(send, 200, b"ok", "text/plain; charset=utf-8", method=method)
            return
        found = self.files.get(path)
        if found is None:
            await self._answer(send, 404, b"Not found", "text/plain; charset=utf-8", method=method)
            return
        if method not in {"GET", "HEAD"}:
            allow = [(b"allow", b"GET, HEAD")]
            await self._answer(send, 405, b"", "text/plain", method=method, extra=allow)
            return
        etag = found.etag.encode()
        cache = [(b"cache-control", b"no-cache"), (b"etag", etag)]
        if etag in _header(scope, b"if-none-match").replace(b" ", b"").split(b","):
            await self._answer(send, 304, b"", found.content_type, method="HEAD", extra=cache)
            return
        await self._answer(send, 200, found.body, found.content_type, method=method, extra=cache)

    async def _answer(
        self,
        send: Send,
        status: int,
        body: bytes,
        content_type: str,
        *,
        method: str,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        headers = [
            (b"content-type", content_type.encode()),
            (b"content-length", str(len(body)).encode()),
            *self.headers,
            *(extra or [(b"cache-control", b"no-store")]),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value)
    return b""
