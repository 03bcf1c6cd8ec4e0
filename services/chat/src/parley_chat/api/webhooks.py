"""`/v1/tenant/webhooks` (docs/api.md "Tenant backends"): a tenant backend's webhooks, by
server key. The routes and their bodies; the rules are `parley_chat.domain.webhooks`."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Response, delete, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from parley_chat.domain import errors, webhooks
from parley_core import names, serverkeys, views, web

NamePath = Annotated[str, PathParameter(pattern=names.SLUG_PATTERN)]
"""A webhook's name follows the rules of a server key's name (a tenant slug's)."""

EventType = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]


class WebhookBody(msgspec.Struct):
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=webhooks.MAX_URL_LENGTH)]
    events: Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=16)]
    enabled: bool | None = None
    """Omitted: true for a new webhook, unchanged for an existing one."""


class WebhookOut(views.Out):
    name: str
    url: str
    events: list[str]
    enabled: bool
    status: str


class WebhookCreatedOut(WebhookOut):
    secret: str
    """Signs every delivery (`Parley-Signature`); shown only here."""


class WebhooksOut(msgspec.Struct):
    webhooks: list[WebhookOut]


def writable(server_key: serverkeys.ServerKeyIdentity) -> None:
    if server_key.suspended:
        raise errors.TenantSuspended()


class WebhooksController(Controller):
    path = "/v1/tenant/webhooks"
    tags = ("tenant",)

    @put(
        "/{name:str}",
        responses={
            201: web.also(WebhookCreatedOut, "Created; `secret` is shown only here"),
            **web.errors(400, 401, 403, 409, 413, 422, 503),
        },
    )
    async def put_webhook(
        self,
        name: NamePath,
        data: JSONBody[WebhookBody],
        server_key: NamedDependency[serverkeys.ServerKeyIdentity],
        hooks: NamedDependency[webhooks.Webhooks],
    ) -> Response[WebhookOut]:
        writable(server_key)
        view, created = await hooks.put(
            name, tenant=server_key.tenant, url=data.url, events=data.events, enabled=data.enabled
        )
        if created:
            return Response(WebhookCreatedOut.of(view), status_code=HTTP_201_CREATED)
        return Response(WebhookOut.of(view), status_code=HTTP_200_OK)

    @get("/", responses=web.errors(401, 503))
    async def list_webhooks(
        self,
        server_key: NamedDependency[serverkeys.ServerKeyIdentity],
        hooks: NamedDependency[webhooks.Webhooks],
    ) -> WebhooksOut:
        listed = await hooks.all_of(tenant=server_key.tenant)
        return WebhooksOut([WebhookOut.of(view) for view in listed])

    @delete(
        "/{name:str}",
        status_code=HTTP_204_NO_CONTENT,
        responses=web.errors(401, 403, 404, 422, 503),
    )
    async def delete_webhook(
        self,
        name: NamePath,
        server_key: NamedDependency[serverkeys.ServerKeyIdentity],
        hooks: NamedDependency[webhooks.Webhooks],
    ) -> None:
        writable(server_key)
        await hooks.delete(name, tenant=server_key.tenant)
