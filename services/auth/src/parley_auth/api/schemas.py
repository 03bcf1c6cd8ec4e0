"""Request and response bodies of docs/api.md "Auth API", "Internal API" and "Tenant
backends".

msgspec validates while it decodes, so a wrong type, a missing field or an out-of-range
value becomes a 422 naming the field before any handler runs. Unknown fields are ignored.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from parley_auth.domain import service
from parley_core import names, serverkeys, views

Slug = names.Slug
Username = names.Username
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=256)]
DisplayName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
# Login takes what a person typed: no pattern, so a typo is a 401, not a 422.
LoginName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
OpaqueToken = Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
Positive = Annotated[int, msgspec.Meta(ge=1, le=1_000_000_000)]


def _check_display_name(value: str | None) -> None:
    if value is not None and (problem := names.text_problem(value)):
        raise ValueError(f"display_name {problem}")


class RegisterBody(msgspec.Struct):
    tenant: Slug
    username: Username
    password: Password
    display_name: DisplayName | None = None

    def __post_init__(self) -> None:
        _check_display_name(self.display_name)


class LoginBody(msgspec.Struct):
    tenant: LoginName
    username: LoginName
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class RefreshBody(msgspec.Struct):
    refresh_token: OpaqueToken


class UserOut(views.Out):
    id: uuid.UUID
    tenant: str
    username: str
    display_name: str
    created_at: datetime
    kind: Literal["person", "bot"]


class ProfileBody(msgspec.Struct):
    """`PATCH /v1/auth/me`: the display name, by the rules registration checks."""

    display_name: DisplayName

    def __post_init__(self) -> None:
        _check_display_name(self.display_name)


class PasswordBody(msgspec.Struct):
    # The current password is what a person typed, like a login's: no rules, so a typo
    # is a 401 (and a counted failure), not a 422.
    current_password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    new_password: Password


class UsersOut(msgspec.Struct):
    users: list[UserOut]


class TokenPairOut(views.Out):
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"


_DEFAULT_LIMITS = service.TenantLimits()


class LimitsBody(msgspec.Struct):
    max_users: Positive = _DEFAULT_LIMITS.max_users
    messages_per_minute: Positive = _DEFAULT_LIMITS.messages_per_minute
    max_message_chars: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = (
        _DEFAULT_LIMITS.max_message_chars
    )
    # Up to 5 TiB, the largest object one S3 PUT may not exceed anyway.
    max_attachment_bytes: Annotated[int, msgspec.Meta(ge=1, le=5 * 2**40)] = (
        _DEFAULT_LIMITS.max_attachment_bytes
    )


class TenantBody(msgspec.Struct):
    display_name: DisplayName | None = None
    self_registration: bool = False
    suspended: bool = False
    limits: LimitsBody = msgspec.field(default_factory=LimitsBody)

    def __post_init__(self) -> None:
        _check_display_name(self.display_name)

    def spec(self, slug: str) -> service.TenantSpec:
        return service.TenantSpec(
            display_name=self.display_name or slug,
            self_registration=self.self_registration,
            suspended=self.suspended,
            limits=service.TenantLimits(
                self.limits.max_users,
                self.limits.messages_per_minute,
                self.limits.max_message_chars,
                self.limits.max_attachment_bytes,
            ),
        )


class UsageOut(msgspec.Struct):
    users: int


class TenantOut(msgspec.Struct):
    id: uuid.UUID
    slug: str
    display_name: str
    self_registration: bool
    suspended: bool
    limits: LimitsBody
    usage: UsageOut
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, tenant: service.TenantView) -> TenantOut:
        return cls(
            id=tenant.id,
            slug=tenant.slug,
            display_name=tenant.display_name,
            self_registration=tenant.self_registration,
            suspended=tenant.suspended,
            limits=msgspec.convert(tenant.limits, LimitsBody, from_attributes=True),
            usage=UsageOut(tenant.users),
            created_at=tenant.created_at,
            updated_at=tenant.updated_at,
        )


class AdminUserBody(msgspec.Struct):
    password: Password
    display_name: DisplayName | None = None

    def __post_init__(self) -> None:
        _check_display_name(self.display_name)


# -- docs/api.md "Tenant backends" -----------------------------------------------------

KeyName = names.Slug
"""A server key's name becomes part of a Secret's name (`<tenant>-server-key-<name>`), so
it follows the tenant slug's rules."""
ServerKeyText = Annotated[str, msgspec.Meta(min_length=1, max_length=serverkeys.MAX_KEY_LENGTH)]


class ServerKeyBody(msgspec.Struct):
    name: KeyName


class ServerKeyOut(views.Out):
    id: uuid.UUID
    name: str
    created_at: datetime


class ServerKeyCreatedOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    key: str
    """The secret; shown only in this response."""
    created_at: datetime


class ServerKeysOut(msgspec.Struct):
    server_keys: list[ServerKeyOut]


class IntrospectBody(msgspec.Struct):
    key: ServerKeyText


class ServerKeyIdentityOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    tenant: str
    tenant_id: uuid.UUID
    suspended: bool


class TenantUserBody(msgspec.Struct):
    display_name: DisplayName | None = None
    kind: Literal["person", "bot"] | None = None

    def __post_init__(self) -> None:
        _check_display_name(self.display_name)


MAX_MINTED_TTL_SECONDS = 86_400
"""Longest access token a tenant's backend may mint: a day, as the configured TTL's bound."""


class TenantTokensBody(msgspec.Struct):
    ttl_seconds: Annotated[int, msgspec.Meta(ge=60, le=MAX_MINTED_TTL_SECONDS)] | None = None
