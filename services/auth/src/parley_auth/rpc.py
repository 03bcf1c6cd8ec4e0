"""`parley.auth.v1.AuthService` (proto/parley/auth/v1/auth.proto): the REST routes of
`parley_auth.api.routes` over gRPC. Each method decodes into the REST body, calls the one
`AuthService` operation the route calls, and encodes the REST output (parley_core.rpc), so
the two APIs refuse, decide and answer alike (docs/grpc.md)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import grpc

from parley_auth.api import schemas
from parley_auth.domain.service import AuthService
from parley_core import names, rpc, serverkeys
from parley_core.errors import InvalidField
from parley_proto.auth.v1 import auth_pb2, auth_pb2_grpc

SERVICE = auth_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name
TENANT_SERVICE = auth_pb2.DESCRIPTOR.services_by_name["TenantUserService"].full_name
PUBLIC = frozenset({"Register", "Login", "Refresh", "Logout"})

Context = grpc.aio.ServicerContext[Any, Any]


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, auth: AuthService, *, trusted_proxies: str) -> None:
        self._auth = auth
        self._proxies = [
            ipaddress.ip_network(entry, strict=False)
            for entry in trusted_proxies.split(",")
            if entry
        ]

    async def Register(
        self, request: auth_pb2.RegisterRequest, context: Context
    ) -> auth_pb2.RegisterResponse:
        body = rpc.decode(request, schemas.RegisterBody)
        user = await self._auth.register(
            tenant_slug=body.tenant,
            username=body.username,
            password=body.password,
            display_name=body.display_name,
            client_address=self._client_address(context),
        )
        return auth_pb2.RegisterResponse(user=_user(user))

    async def Login(
        self, request: auth_pb2.LoginRequest, context: Context
    ) -> auth_pb2.LoginResponse:
        body = rpc.decode(request, schemas.LoginBody)
        pair = await self._auth.login(
            tenant_slug=body.tenant.lower(),
            username=body.username.lower(),
            password=body.password,
            client_address=self._client_address(context),
        )
        return auth_pb2.LoginResponse(token_pair=_pair(pair))

    async def Refresh(
        self, request: auth_pb2.RefreshRequest, context: Context
    ) -> auth_pb2.RefreshResponse:
        body = rpc.decode(request, schemas.RefreshBody)
        return auth_pb2.RefreshResponse(
            token_pair=_pair(await self._auth.refresh(body.refresh_token))
        )

    async def Logout(
        self, request: auth_pb2.LogoutRequest, context: Context
    ) -> auth_pb2.LogoutResponse:
        body = rpc.decode(request, schemas.RefreshBody)
        await self._auth.logout(body.refresh_token)
        return auth_pb2.LogoutResponse()

    async def GetMe(
        self, request: auth_pb2.GetMeRequest, context: Context
    ) -> auth_pb2.GetMeResponse:
        claims = rpc.claims()
        user = await self._auth.me(tenant_slug=claims.tenant, user_id=claims.user_id)
        return auth_pb2.GetMeResponse(user=_user(user))

    async def UpdateMe(
        self, request: auth_pb2.UpdateMeRequest, context: Context
    ) -> auth_pb2.UpdateMeResponse:
        body = rpc.decode(request, schemas.ProfileBody)
        claims = rpc.claims()
        user = await self._auth.update_profile(
            tenant_slug=claims.tenant, user_id=claims.user_id, display_name=body.display_name
        )
        return auth_pb2.UpdateMeResponse(user=_user(user))

    async def ChangePassword(
        self, request: auth_pb2.ChangePasswordRequest, context: Context
    ) -> auth_pb2.ChangePasswordResponse:
        body = rpc.decode(request, schemas.PasswordBody)
        claims = rpc.claims()
        await self._auth.change_password(
            tenant_slug=claims.tenant,
            user_id=claims.user_id,
            username=claims.username,
            session_id=claims.session_id,
            current_password=body.current_password,
            new_password=body.new_password,
            client_address=self._client_address(context),
        )
        return auth_pb2.ChangePasswordResponse()

    async def ListUsers(
        self, request: auth_pb2.ListUsersRequest, context: Context
    ) -> auth_pb2.ListUsersResponse:
        # As the route's query: `prefix` at most 32 characters, `limit` 1 to 200 (20).
        if len(request.prefix) > 32:
            raise InvalidField("prefix", "at most 32 characters")
        limit = rpc.in_range("limit", rpc.optional(request, "limit"), 1, 200) or 20
        claims = rpc.claims()
        users = await self._auth.directory(
            tenant_slug=claims.tenant,
            user_id=claims.user_id,
            prefix=request.prefix.lower(),
            limit=limit,
        )
        return auth_pb2.ListUsersResponse(users=[_user(user) for user in users])

    def _client_address(self, context: Context) -> str:
        """The caller's address, as uvicorn finds it for REST: the peer, or when the peer
        is a trusted proxy (PARLEY_FORWARDED_ALLOW_IPS) the rightmost untrusted
        `x-forwarded-for` entry, so login limits count clients, not the ingress."""
        peer = context.peer() or ""
        # "ipv4:1.2.3.4:5678" or "ipv6:[::1]:5678"
        host = peer.partition(":")[2].rpartition(":")[0].strip("[]") or "unknown"
        metadata = dict(context.invocation_metadata() or ())
        forwarded = metadata.get("x-forwarded-for")
        if not isinstance(forwarded, str) or not self._trusted(host):
            return host
        for entry in reversed([part.strip() for part in forwarded.split(",") if part.strip()]):
            if not self._trusted(entry):
                return entry
        return host

    def _trusted(self, address: str) -> bool:
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(parsed in network for network in self._proxies)


def _user(user: object) -> auth_pb2.User:
    return rpc.encode(schemas.UserOut.of(user), auth_pb2.User())


def _pair(pair: object) -> auth_pb2.TokenPair:
    return rpc.encode(schemas.TokenPairOut.of(pair), auth_pb2.TokenPair())


def registration(auth: AuthService, *, trusted_proxies: str) -> rpc.Registration:
    servicer = AuthServicer(auth, trusted_proxies=trusted_proxies)
    return rpc.Registration(
        SERVICE,
        lambda server: auth_pb2_grpc.add_AuthServiceServicer_to_server(servicer, server),
        public=PUBLIC,
    )


class TenantUserServicer(auth_pb2_grpc.TenantUserServiceServicer):
    """`parley.auth.v1.TenantUserService`: the `/v1/tenant/users` routes of
    `parley_auth.api.tenant_routes` over gRPC, called with a server key."""

    def __init__(self, auth: AuthService) -> None:
        self._auth = auth

    async def PutUser(
        self, request: auth_pb2.PutUserRequest, context: Context
    ) -> auth_pb2.PutUserResponse:
        username = _username(request.username)
        body = rpc.decode(request, schemas.TenantUserBody)
        user, created = await self._auth.put_tenant_user(
            rpc.server_key(), username=username, display_name=body.display_name, kind=body.kind
        )
        return auth_pb2.PutUserResponse(user=_user(user), created=created)

    async def MintTokens(
        self, request: auth_pb2.MintTokensRequest, context: Context
    ) -> auth_pb2.MintTokensResponse:
        username = _username(request.username)
        body = rpc.decode(request, schemas.TenantTokensBody)
        pair = await self._auth.mint_tokens(
            rpc.server_key(), username=username, ttl_seconds=body.ttl_seconds
        )
        return auth_pb2.MintTokensResponse(token_pair=_pair(pair))


_USERNAME = re.compile(names.USERNAME_PATTERN)


def _username(value: str) -> str:
    # As the REST path's pattern.
    if not _USERNAME.match(value):
        raise InvalidField("username", "not a username")
    return value


def tenant_registration(auth: AuthService, server_keys: serverkeys.KeyResolver) -> rpc.Registration:
    servicer = TenantUserServicer(auth)
    return rpc.Registration(
        TENANT_SERVICE,
        lambda server: auth_pb2_grpc.add_TenantUserServiceServicer_to_server(servicer, server),
        server_keys=server_keys,
    )
