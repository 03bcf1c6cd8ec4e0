"""What chat needs to know from auth, as the domain sees it.

The domain asks through this protocol; `parley_chat.peers.auth` answers it over HTTP with
a cache, and raises `parley_core.errors.DependencyUnavailable("auth")` when auth is down
and nothing cached can stand in.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class UserRef:
    id: uuid.UUID
    username: str


DEFAULT_MAX_ATTACHMENT_BYTES = 26_214_400
"""docs/api.md "Attachments": a tenant's `max_attachment_bytes` unless it sets one."""


@dataclass(frozen=True, slots=True)
class TenantPolicy:
    """The parts of a tenant's settings that the chat rules apply."""

    messages_per_minute: int
    max_message_chars: int
    suspended: bool
    tenant_id: uuid.UUID | None = None
    """This incarnation of the tenant: a tenant created again under its slug gets a new one."""
    created_at: datetime | None = None
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES
    """The largest file one upload may declare (docs/api.md "Attachments")."""


class Directory(Protocol):
    async def users(self, tenant: str, usernames: Collection[str]) -> dict[str, UserRef]:
        """The users among `usernames` that exist in the tenant, by username."""
        ...

    async def policy(self, tenant: str) -> TenantPolicy | None:
        """The tenant's policy, or None when the tenant no longer exists."""
        ...
