"""Route handlers for docs/api.md "Tenant backends" (what auth serves of it): the
operator's server-key routes, the introspection other services resolve keys with, and
the `/v1/tenant` routes a tenant's backend calls with a server key."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, PathParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from parley_auth.api import schemas
from parley_auth.domain import errors
from parley_auth.domain.service import AuthService
from parley_core import names, serverkeys, web

SlugPath = Annotated[str, PathParameter(pattern=names.SLUG_PATTERN)]
UsernamePath = Annotated[str, PathParameter(pattern=names.USERNAME_PATTERN)]


class ServerKeysController(Controller):
    """Behind the admin guard: the operator issues, lists and revokes a tenant's keys."""

    path = "/internal/v1/tenants/{slug:str}/server-keys"
    tags = ("internal",)

    @post(
        "/", status_code=HTTP_201_CREATED, responses=web.errors(400, 401, 404, 409, 413, 422, 503)
    )
    async def create_server_key(
        self,
        slug: SlugPath,
        data: JSONBody[schemas.ServerKeyBody],
        auth: NamedDependency[AuthService],
    ) -> schemas.ServerKeyCreatedOut:
        view, key = await auth.create_server_key(tenant_slug=slug, name=data.name)
        return schemas.ServerKeyCreatedOut(
            id=view.id, name=view.name, key=key, created_at=view.created_at
        )

    @get("/", responses=web.errors(400, 401, 404, 422, 503))
    async def list_server_keys(
        self, slug: SlugPath, auth: NamedDependency[AuthService]
    ) -> schemas.ServerKeysOut:
        keys = await auth.list_server_keys(tenant_slug=slug)
        return schemas.ServerKeysOut([schemas.ServerKeyOut.of(key) for key in keys])

    @delete(
        "/{key_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        responses=web.errors(400, 401, 404, 422, 503),
    )
    async def revoke_server_key(
        self, slug: SlugPath, key_id: FromPath[uuid.UUID], auth: NamedDependency[AuthService]
    ) -> None:
        await auth.revoke_server_key(tenant_slug=slug, key_id=key_id)


class IntrospectController(Controller):
    """Behind the admin guard: how a service that does not own the keys (chat) resolves
    one, on every request, so a revocation holds there at once too."""

    path = "/internal/v1/server-keys"
    tags = ("internal",)

    @post(
        "/introspect", status_code=HTTP_200_OK, responses=web.errors(400, 401, 404, 413, 422, 503)
    )
    async def introspect(
        self, data: JSONBody[schemas.IntrospectBody], auth: NamedDependency[AuthService]
    ) -> schemas.ServerKeyIdentityOut:
        identity = None
        if serverkeys.well_formed(data.key):
            identity = await auth.resolve_server_key(serverkeys.digest(data.key))
        if identity is None:
            raise errors.UnknownServerKey()
        return schemas.ServerKeyIdentityOut(
            id=identity.key_id,
            name=identity.key_name,
            tenant=identity.tenant,
            tenant_id=identity.tenant_id,
            suspended=identity.suspended,
        )


class TenantController(Controller):
    """A tenant backend's routes: `server_key` is the calling key (401 for anything else,
    a user's access token included)."""

    path = "/v1/tenant"
    tags = ("tenant",)

    @put(
        "/users/{username:str}",
        responses={
            201: web.also(schemas.UserOut, "Created"),
            **web.errors(400, 401, 403, 413, 422, 429, 503),
        },
    )
    async def put_user(
        self,
        username: UsernamePath,
        data: JSONBody[schemas.TenantUserBody],
        server_key: NamedDependency[serverkeys.ServerKeyIdentity],
        auth: NamedDependency[AuthService],
    ) -> Response[schemas.UserOut]:
        user, created = await auth.put_tenant_user(
            server_key, username=username, display_name=data.display_name, kind=data.kind
        )
        return Response(schemas.UserOut.of(user), status_code=201 if created else 200)

    @post(
        "/users/{username:str}/tokens",
        status_code=HTTP_200_OK,
        responses=web.errors(400, 401, 403, 404, 413, 422, 429, 503),
    )
    async def mint_tokens(
        self,
        username: UsernamePath,
        data: JSONBody[schemas.TenantTokensBody],
        server_key: NamedDependency[serverkeys.ServerKeyIdentity],
        auth: NamedDependency[AuthService],
    ) -> schemas.TokenPairOut:
        pair = await auth.mint_tokens(server_key, username=username, ttl_seconds=data.ttl_seconds)
        return schemas.TokenPairOut.of(pair)
