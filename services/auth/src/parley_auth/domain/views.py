"""What the auth domain takes and hands out: frozen views, never rows.

The API maps these to the wire (`parley_auth.api.schemas`); the chat service does the same
with its own views, so no ORM row reaches a response in either service.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from parley_auth.storage.models import ServerKey, Tenant, User
from parley_core import views


@dataclass(frozen=True, slots=True)
class TenantLimits:
    max_users: int = 10_000
    messages_per_minute: int = 120
    max_message_chars: int = 4000
    max_attachment_bytes: int = 26_214_400
    """docs/api.md "Attachments": the largest file one upload may declare (25 MiB)."""


@dataclass(frozen=True, slots=True)
class TenantSpec:
    """What `PUT /internal/v1/tenants/{slug}` declares."""

    display_name: str
    self_registration: bool = False
    suspended: bool = False
    limits: TenantLimits = TenantLimits()


@dataclass(frozen=True, slots=True)
class TenantView:
    id: uuid.UUID
    slug: str
    display_name: str
    self_registration: bool
    suspended: bool
    limits: TenantLimits
    users: int
    """Accounts in the tenant now, against `limits.max_users`."""
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, tenant: Tenant, users: int) -> TenantView:
        limits = TenantLimits(
            tenant.max_users,
            tenant.messages_per_minute,
            tenant.max_message_chars,
            tenant.max_attachment_bytes,
        )
        return views.copy_fields(cls, tenant, limits=limits, users=users)


@dataclass(frozen=True, slots=True)
class UserView:
    id: uuid.UUID
    tenant: str
    username: str
    display_name: str
    created_at: datetime
    kind: str
    """`person` or `bot`."""

    @classmethod
    def of(cls, user: User, tenant_slug: str) -> UserView:
        return views.copy_fields(cls, user, tenant=tenant_slug)


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class ServerKeyView:
    """A server key without its secret, which only `ServerKeys.create_server_key` returns."""

    id: uuid.UUID
    name: str
    created_at: datetime

    @classmethod
    def of(cls, key: ServerKey) -> ServerKeyView:
        return views.copy_fields(cls, key)
