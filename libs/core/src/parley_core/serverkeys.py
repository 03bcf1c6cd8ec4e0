"""Server keys: how a tenant's own backend authenticates (docs/api.md "Tenant backends").

Shared by every service that serves `/v1/tenant/...` routes. A key is `psk_` followed by
256 random bits; services keep only its SHA-256 (docs/security.md "Server keys") and
resolve the digest to a `ServerKeyIdentity` on every request (`web.server_key_provider`),
with no cache that could outlive a revocation. Auth resolves from its own table; another
service asks auth's `POST /internal/v1/server-keys/introspect`.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

PREFIX = "psk_"
MAX_KEY_LENGTH = 128
"""Longer than any key issued (`psk_` and 43 characters); anything longer is refused unread."""


@dataclass(frozen=True, slots=True)
class ServerKeyIdentity:
    """Who calls a `/v1/tenant` route: one key of one tenant."""

    key_id: uuid.UUID
    key_name: str
    tenant: str
    tenant_id: uuid.UUID
    suspended: bool


Resolver = Callable[[str], Awaitable[ServerKeyIdentity | None]]
"""Digest (`digest(key)`) -> the key's identity, or None when no live key has it."""

KeyResolver = Callable[[str], Awaitable[ServerKeyIdentity | None]]
"""The key itself -> its identity, for a service that asks the one keeping the keys."""


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def digest(key: str) -> str:
    """SHA-256 hex: a key holds 256 random bits, so a fast hash is as safe to store as a
    slow one (docs/security.md "Server keys")."""
    return hashlib.sha256(key.encode()).hexdigest()


def well_formed(key: str) -> bool:
    return key.startswith(PREFIX) and len(key) <= MAX_KEY_LENGTH and key.isascii()
