"""The OpenAPI documents (docs/api.md "OpenAPI"), split by audience.

Litestar builds one document of every route a service has. Clients get the public part
at `/v1/openapi.json`, one document for the whole API although two services serve it:
chat, which the Ingress sends `/v1/openapi.json` and `/v1/docs` to, merges its own public
routes with the ones auth publishes at `/v1/auth/openapi.json` (a path the Ingress already
sends to auth). The operator's part, `/internal`, is each service's own document at
`/internal/openapi.json`, behind the admin token like every `/internal` route; the
Ingress never exposes it.

`/v1/docs` is the same document rendered as HTML on the server (parley_core.reference):
Litestar's Swagger, Redoc and Scalar pages load their scripts from CDNs, which a reference
that must work offline cannot do.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from litestar import MediaType, Request, Router, get
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.types import Guard

from parley_core import reference

Document = dict[str, Any]
PeerDocument = Callable[[], Awaitable[Document]]
"""A peer service's public document, fetched over its HTTP contract."""

INTERNAL = "/internal"
PUBLIC = "/v1/openapi.json"
"""The whole public API's document, served by chat."""
DOCS = "/v1/docs"


def service_document(service: str) -> str:
    """Where a service that is not chat publishes its public routes for chat to merge."""
    return f"/v1/{service}/openapi.json"


_OPENAPI_JSON = "application/vnd.oai.openapi+json"


def is_internal(path: str) -> bool:
    return path == INTERNAL or path.startswith(f"{INTERNAL}/")


def audience(document: Document, *, internal: bool) -> Document:
    """The routes of one audience (`/internal` or the rest) and the schemas they use."""
    paths = {
        path: item
        for path, item in document.get("paths", {}).items()
        if is_internal(path) == internal
    }
    return _pruned({**document, "paths": paths})


def merge(title: str, documents: Sequence[Document]) -> Document:
    """One document of several services' routes: a path two of them serve (the tenant
    purge) keeps every method; a schema both name is the same shape (parley_core.web)."""
    if not documents:
        raise ValueError("nothing to merge")
    merged = copy.deepcopy(documents[0])
    merged["info"] = {**merged.get("info", {}), "title": title}
    paths: dict[str, Any] = merged.setdefault("paths", {})
    schemas: dict[str, Any] = merged.setdefault("components", {}).setdefault("schemas", {})
    tags = {tag["name"]: tag for tag in merged.get("tags", [])}
    for document in documents[1:]:
        for path, item in document.get("paths", {}).items():
            for key, value in item.items():
                paths.setdefault(path, {}).setdefault(key, copy.deepcopy(value))
        for name, schema in document.get("components", {}).get("schemas", {}).items():
            schemas.setdefault(name, copy.deepcopy(schema))
        for tag in document.get("tags", []):
            tags.setdefault(tag["name"], tag)
    if tags:
        merged["tags"] = list(tags.values())
    merged["paths"] = dict(sorted(paths.items()))
    return merged


def _pruned(document: Document) -> Document:
    """`document` keeping only the component schemas its paths reach."""
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    reached: set[str] = set()
    pending = list(_refs(document.get("paths", {})))
    while pending:
        name = pending.pop()
        if name in reached or name not in schemas:
            continue
        reached.add(name)
        pending.extend(_refs(schemas[name]))
    components = {**document.get("components", {})}
    components["schemas"] = {name: schemas[name] for name in sorted(reached)}
    return {**document, "components": components}


def _refs(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[-1])
        for child in value.values():
            found |= _refs(child)
    elif isinstance(value, list):
        for child in value:
            found |= _refs(child)
    return found


def _own(request: Request[Any, Any, Any]) -> Document:
    schema: Document = request.app.openapi_schema.to_schema()
    return schema


class _InternalDocument(JsonRenderPlugin):
    """Litestar's JSON document, left with the `/internal` routes only."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: Document) -> bytes:
        return self.render_json(request, audience(openapi_schema, internal=True))


def config(service: str, admin_guard: Guard) -> OpenAPIConfig:
    """The app's `openapi_config`: Litestar's own document route becomes the internal one,
    `/internal/openapi.json`, behind the admin token."""
    return OpenAPIConfig(
        title=f"Parley {service}",
        version="1",
        render_plugins=[_InternalDocument()],
        openapi_router=Router(
            INTERNAL, route_handlers=[], guards=[admin_guard], include_in_schema=False
        ),
    )


class _Cached:
    """Peers' documents, asked again once a minute: a peer's upgrade shows up soon,
    and a page of the reference does not cost a call to auth."""

    def __init__(self, peers: Sequence[PeerDocument], seconds: float = 60.0) -> None:
        self._peers = peers
        self._seconds = seconds
        self._documents: list[Document] = []
        self._at = float("-inf")

    async def documents(self) -> list[Document]:
        if time.monotonic() - self._at > self._seconds:
            self._documents = [await peer() for peer in self._peers]
            self._at = time.monotonic()
        return self._documents


def public_handlers(
    json_path: str,
    *,
    docs_path: str | None = None,
    peers: Sequence[PeerDocument] = (),
    title: str = "Parley API",
) -> list[HTTPRouteHandler]:
    """`GET json_path`: the service's public routes merged with its `peers'` documents;
    and, with `docs_path`, that document as an HTML reference."""
    cached = _Cached(peers)

    async def document(request: Request[Any, Any, Any]) -> Document:
        own = audience(_own(request), internal=False)
        others = [audience(doc, internal=False) for doc in await cached.documents()]
        return merge(title, [own, *others]) if others else own

    @get(json_path, include_in_schema=False, media_type=_OPENAPI_JSON, name=f"openapi:{json_path}")
    async def serve_document(request: Request[Any, Any, Any]) -> Document:
        return await document(request)

    handlers = [serve_document]
    if docs_path is not None:

        @get(docs_path, include_in_schema=False, media_type=MediaType.HTML)
        async def serve_reference(request: Request[Any, Any, Any]) -> str:
            return reference.render(await document(request), json_path=json_path)

        handlers.append(serve_reference)
    return handlers
