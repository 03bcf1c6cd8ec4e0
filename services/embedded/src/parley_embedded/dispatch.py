"""One ASGI app in front of the auth and chat apps: the path split that the Ingress does
in Kubernetes (docs/api.md "Deployment shape"), done in-process for the embedded default.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import AsyncExitStack
from typing import Any, cast

from litestar import Litestar

from parley_web import files

# Plain ASGI 3 types: Litestar's own Scope and Send leave out the lifespan protocol,
# which a dispatcher has to speak.
Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def asgi(app: Litestar) -> ASGIApp:
    """A Litestar app seen as the plain ASGI 3 callable it is."""
    return cast(ASGIApp, app)


CHAT_PREFIXES = (
    "/v1/chats",
    "/v1/stream",
    "/v1/search",
    "/v1/presence",
    "/v1/attachments",
)
# Chat serves the public OpenAPI document of both services (parley_core.openapi).
CHAT_PATHS = frozenset({"/v1/openapi.json", "/v1/docs"})
_TENANT_PATH = re.compile(r"^/internal/v1/tenants/[^/]+/?$")


class Dispatcher:
    def __init__(self, *, auth: Litestar, chat: Litestar, web: files.WebApp | None = None) -> None:
        self._apps = (auth, chat)
        self._auth = asgi(auth)
        self._chat = asgi(chat)
        self._web = web

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path: str = scope["path"]
        if path.startswith(CHAT_PREFIXES) or path in CHAT_PATHS:
            await self._chat(scope, receive, send)
        elif self._web is not None and scope["type"] == "http" and self._web.serves(path):
            # The web client's files (docs/web.md): a path no service route uses.
            await self._web(scope, receive, send)
        elif scope["type"] == "http" and scope["method"] == "DELETE" and _TENANT_PATH.match(path):
            await self._purge_tenant(scope, receive, send)
        else:
            await self._auth(scope, receive, send)

    async def _purge_tenant(self, scope: Scope, receive: Receive, send: Send) -> None:
        # docs/api.md: this DELETE is served by both services. As the operator does with
        # two Deployments, chat purges first, and auth only after chat answered 204.
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self._chat(scope, receive, hold)
        if held and held[0].get("status") == 204:
            await self._auth(scope, receive, send)
            return
        for message in held:
            await send(message)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        await receive()  # lifespan.startup
        async with AsyncExitStack() as stack:
            try:
                for app in self._apps:
                    await stack.enter_async_context(app.lifespan())
            except Exception as exc:
                await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})
