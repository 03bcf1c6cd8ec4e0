"""Stream tickets (docs/api.md v1 additions): `POST /v1/stream/ticket` trades an access
token for a single-use ticket that `GET /v1/stream?ticket=...` accepts instead.

A browser cannot set headers on a WebSocket, and an access token in a URL ends up in
ingress and proxy access logs, where it stays usable until it expires. A ticket in a log
is worthless: it lives seconds and is gone once used.

Single use must hold across replicas: with Redis, a ticket is a key redeemed with GETDEL
(atomic, so of two replicas racing for one ticket exactly one gets it); without Redis
(one replica, the embedded default) a dict in the process. Keys are the SHA-256 of the
ticket, so what Redis holds cannot be replayed against the stream; the value is the
identity of the token it was issued for, which the stream then treats like the token.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Protocol

import redis.asyncio as aioredis
import redis.exceptions

from parley_core import tokens
from parley_core.errors import DependencyUnavailable


class TicketStore(Protocol):
    async def issue(self, claims: tokens.AccessClaims, ttl_seconds: int) -> str:
        """A new ticket standing for `claims` for `ttl_seconds`."""
        ...

    async def redeem(self, ticket: str) -> tokens.AccessClaims | None:
        """The claims of an unused, unexpired ticket, which is used up; else None."""
        ...


class MemoryTickets:
    """Tickets of one process: enough for a single replica."""

    def __init__(self) -> None:
        self._tickets: dict[str, tuple[float, tokens.AccessClaims]] = {}

    async def issue(self, claims: tokens.AccessClaims, ttl_seconds: int) -> str:
        now = time.monotonic()
        for key, (expires, _) in list(self._tickets.items()):
            if expires <= now:
                del self._tickets[key]
        ticket = _new_ticket()
        self._tickets[_key(ticket)] = (now + ttl_seconds, claims)
        return ticket

    async def redeem(self, ticket: str) -> tokens.AccessClaims | None:
        entry = self._tickets.pop(_key(ticket), None)
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]


class RedisTickets:
    """Tickets shared by every replica on one Redis."""

    def __init__(self, redis: aioredis.Redis | aioredis.RedisCluster, *, prefix: str) -> None:
        self._redis = redis
        self._prefix = f"{prefix}ticket:"

    async def issue(self, claims: tokens.AccessClaims, ttl_seconds: int) -> str:
        ticket = _new_ticket()
        try:
            await self._redis.set(self._prefix + _key(ticket), _dump(claims), ex=ttl_seconds)
        except (redis.exceptions.RedisError, OSError) as exc:
            raise DependencyUnavailable("redis") from exc
        return ticket

    async def redeem(self, ticket: str) -> tokens.AccessClaims | None:
        try:
            stored = await self._redis.getdel(self._prefix + _key(ticket))
        except (redis.exceptions.RedisError, OSError) as exc:
            raise DependencyUnavailable("redis") from exc
        return _load(stored) if stored is not None else None


def _new_ticket() -> str:
    return secrets.token_urlsafe(32)


def _key(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def _dump(claims: tokens.AccessClaims) -> str:
    return json.dumps(
        {
            "sub": str(claims.user_id),
            "tid": claims.tenant,
            "username": claims.username,
            "jti": claims.token_id,
            "exp": claims.expires_at.timestamp(),
            "iat": claims.issued_at.timestamp() if claims.issued_at else None,
            "tenant_id": str(claims.tenant_id) if claims.tenant_id else None,
        }
    )


def _load(stored: bytes | str) -> tokens.AccessClaims:
    data: dict[str, Any] = json.loads(stored)
    return tokens.AccessClaims(
        user_id=uuid.UUID(data["sub"]),
        tenant=data["tid"],
        username=data["username"],
        token_id=data["jti"],
        expires_at=datetime.fromtimestamp(data["exp"], UTC),
        issued_at=datetime.fromtimestamp(data["iat"], UTC) if data["iat"] is not None else None,
        tenant_id=uuid.UUID(data["tenant_id"]) if data["tenant_id"] else None,
    )
