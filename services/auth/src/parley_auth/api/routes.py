"""Route handlers for every auth path of docs/api.md."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from parley_auth.api import schemas
from parley_auth.domain.service import AuthService
from parley_core import names, web
from parley_core.tokens import AccessClaims

SlugPath = Annotated[str, PathParameter(pattern=names.SLUG_PATTERN)]
UsernamePath = Annotated[str, PathParameter(pattern=names.USERNAME_PATTERN)]


class AuthController(Controller):
    path = "/v1/auth"
    tags = ("auth",)

    @post(
        "/register",
        status_code=HTTP_201_CREATED,
        responses=web.errors(400, 403, 404, 409, 413, 422, 429, 503),
    )
    async def register(
        self,
        data: JSONBody[schemas.RegisterBody],
        auth: NamedDependency[AuthService],
        request: Request[Any, Any, Any],
    ) -> schemas.UserOut:
        user = await auth.register(
            tenant_slug=data.tenant,
            username=data.username,
            password=data.password,
            display_name=data.display_name,
            client_address=_client_address(request),
        )
        return schemas.UserOut.of(user)

    @post(
        "/login", status_code=HTTP_200_OK, responses=web.errors(400, 401, 403, 413, 422, 429, 503)
    )
    async def login(
        self,
        data: JSONBody[schemas.LoginBody],
        auth: NamedDependency[AuthService],
        request: Request[Any, Any, Any],
    ) -> schemas.TokenPairOut:
        pair = await auth.login(
            tenant_slug=data.tenant.lower(),
            username=data.username.lower(),
            password=data.password,
            client_address=_client_address(request),
        )
        return schemas.TokenPairOut.of(pair)

    @post("/refresh", status_code=HTTP_200_OK, responses=web.errors(400, 401, 403, 413, 422, 503))
    async def refresh(
        self, data: JSONBody[schemas.RefreshBody], auth: NamedDependency[AuthService]
    ) -> schemas.TokenPairOut:
        return schemas.TokenPairOut.of(await auth.refresh(data.refresh_token))

    @post("/logout", status_code=HTTP_204_NO_CONTENT, responses=web.errors(400, 401, 413, 422, 503))
    async def logout(
        self, data: JSONBody[schemas.RefreshBody], auth: NamedDependency[AuthService]
    ) -> None:
        await auth.logout(data.refresh_token)

    @get("/me", responses=web.errors(401, 503))
    async def me(
        self, claims: NamedDependency[AccessClaims], auth: NamedDependency[AuthService]
    ) -> schemas.UserOut:
        return schemas.UserOut.of(await auth.me(tenant_slug=claims.tenant, user_id=claims.user_id))

    @patch("/me", responses=web.errors(400, 401, 403, 413, 422, 503))
    async def update_me(
        self,
        data: JSONBody[schemas.ProfileBody],
        claims: NamedDependency[AccessClaims],
        auth: NamedDependency[AuthService],
    ) -> schemas.UserOut:
        user = await auth.update_profile(
            tenant_slug=claims.tenant, user_id=claims.user_id, display_name=data.display_name
        )
        return schemas.UserOut.of(user)

    @post(
        "/password",
        status_code=HTTP_204_NO_CONTENT,
        responses=web.errors(400, 401, 403, 413, 422, 429, 503),
    )
    async def change_password(
        self,
        data: JSONBody[schemas.PasswordBody],
        claims: NamedDependency[AccessClaims],
        auth: NamedDependency[AuthService],
        request: Request[Any, Any, Any],
    ) -> None:
        await auth.change_password(
            tenant_slug=claims.tenant,
            user_id=claims.user_id,
            username=claims.username,
            session_id=claims.session_id,
            current_password=data.current_password,
            new_password=data.new_password,
            client_address=_client_address(request),
        )


class UsersController(Controller):
    path = "/v1/users"
    tags = ("users",)

    @get("/", responses=web.errors(400, 401, 422, 503))
    async def directory(
        self,
        claims: NamedDependency[AccessClaims],
        auth: NamedDependency[AuthService],
        prefix: Annotated[str, QueryParameter(max_length=32)] = "",
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 20,
    ) -> schemas.UsersOut:
        users = await auth.directory(
            tenant_slug=claims.tenant, user_id=claims.user_id, prefix=prefix.lower(), limit=limit
        )
        return schemas.UsersOut([schemas.UserOut.of(user) for user in users])


class InternalController(Controller):
    """docs/api.md "Internal API": the operator's and the services' routes."""

    path = "/internal/v1/tenants"
    tags = ("internal",)

    @put(
        "/{slug:str}",
        responses={
            201: web.also(schemas.TenantOut, "Created"),
            **web.errors(400, 401, 413, 422, 503),
        },
    )
    async def put_tenant(
        self, slug: SlugPath, data: JSONBody[schemas.TenantBody], auth: NamedDependency[AuthService]
    ) -> Response[schemas.TenantOut]:
        state, created = await auth.put_tenant(slug, data.spec(slug))
        return Response(schemas.TenantOut.of(state), status_code=201 if created else 200)

    @get("/{slug:str}", responses=web.errors(400, 401, 404, 422, 503))
    async def get_tenant(
        self, slug: SlugPath, auth: NamedDependency[AuthService]
    ) -> schemas.TenantOut:
        return schemas.TenantOut.of(await auth.get_tenant(slug))

    @delete(
        "/{slug:str}", status_code=HTTP_204_NO_CONTENT, responses=web.errors(400, 401, 422, 503)
    )
    async def delete_tenant(self, slug: SlugPath, auth: NamedDependency[AuthService]) -> None:
        await auth.delete_tenant(slug)

    @get("/{slug:str}/users", responses=web.errors(400, 401, 404, 422, 503))
    async def find_users(
        self,
        slug: SlugPath,
        auth: NamedDependency[AuthService],
        username: Annotated[list[str], QueryParameter(min_items=1, max_items=256)],
    ) -> schemas.UsersOut:
        """The users among the `username` values that exist in the tenant (for chat)."""
        users = await auth.find_users(tenant_slug=slug, usernames=username)
        return schemas.UsersOut([schemas.UserOut.of(user) for user in users])

    @put(
        "/{slug:str}/users/{username:str}",
        responses={
            201: web.also(schemas.UserOut, "Created"),
            **web.errors(400, 401, 404, 413, 422, 503),
        },
    )
    async def put_user(
        self,
        slug: SlugPath,
        username: UsernamePath,
        data: JSONBody[schemas.AdminUserBody],
        auth: NamedDependency[AuthService],
    ) -> Response[schemas.UserOut]:
        user, created = await auth.put_user(
            tenant_slug=slug,
            username=username,
            password=data.password,
            display_name=data.display_name,
        )
        return Response(schemas.UserOut.of(user), status_code=201 if created else 200)


def _client_address(request: Request[Any, Any, Any]) -> str:
    # uvicorn resolves X-Forwarded-For from trusted proxies (PARLEY_FORWARDED_ALLOW_IPS).
    return request.client.host if request.client else "unknown"
