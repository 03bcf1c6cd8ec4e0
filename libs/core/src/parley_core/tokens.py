"""Access-token verification from a JWKS, shared by every service that accepts Parley tokens.

The auth service signs; everyone else verifies locally with the keys it publishes at
`/.well-known/jwks.json` (docs/api.md "Auth API"), so no request calls auth.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt

ALGORITHM = "EdDSA"
"""The one algorithm accepted; `none`, HS* and everything else are refused before decoding."""

REQUIRED_CLAIMS = ("sub", "tid", "username", "exp", "iat", "jti")

TENANT_ID_CLAIM = "tenant_id"
"""The id of the tenant incarnation the token was issued in. A tenant deleted and created
again under the same slug gets a new id, so the old tenant's tokens stop matching it.
Optional: tokens issued before it existed carry only `tid` (docs/security.md)."""

SESSION_CLAIM = "sid"
"""The login (refresh-token family) the token was issued under, as OpenID Connect names a
session: a password change ends every other login of the user but this one. Optional:
tokens issued before it existed lack it, and a password change then ends every login."""

logger = logging.getLogger(__name__)

JwksSource = Callable[[], Awaitable[dict[str, Any]]]


class InvalidToken(Exception):
    """The token is malformed, forged, expired or signed by an unknown key."""


class JwksUnavailable(Exception):
    """The JWKS could not be fetched or read; a `JwksSource` raises it."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """Who the caller is, as the access token says."""

    user_id: uuid.UUID
    tenant: str
    username: str
    token_id: str
    expires_at: datetime
    issued_at: datetime | None = None
    tenant_id: uuid.UUID | None = None
    """The tenant incarnation (`TENANT_ID_CLAIM`); None in tokens issued before it existed."""
    session_id: uuid.UUID | None = None
    """The login it was issued under (`SESSION_CLAIM`); None in tokens issued before it existed."""


class Verifier:
    """Verifies access tokens, caching the JWKS and refetching it on an unknown `kid`.

    Refetches are single-flight and at most one per `refetch_interval`, so a stream of
    tokens with invented `kid`s cannot turn into a stream of requests to auth.

    A client sends the same token on every request for its whole life, and an Ed25519
    check costs ~100 us here, so verified tokens are remembered (keyed by the exact token
    text, bounded, until they expire): a repeat costs a dict lookup.
    """

    def __init__(
        self,
        source: JwksSource,
        *,
        refetch_interval: float = 10.0,
        leeway: float = 5.0,
        max_cached: int = 10_000,
    ) -> None:
        self._source = source
        self._refetch_interval = refetch_interval
        self._leeway = leeway
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._last_fetch_failed = False
        self._lock = asyncio.Lock()
        self._verified: dict[str, AccessClaims] = {}
        self._max_cached = max_cached

    async def verify(self, token: str) -> AccessClaims:
        cached = self._verified.get(token)
        if cached is not None:
            if time.time() < cached.expires_at.timestamp() + self._leeway:
                return cached
            del self._verified[token]
        claims = await self._verify_signed(token)
        if self._max_cached > 0:
            if len(self._verified) >= self._max_cached:
                # Oldest first: dicts keep insertion order.
                del self._verified[next(iter(self._verified))]
            self._verified[token] = claims
        return claims

    async def _verify_signed(self, token: str) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed token") from exc
        if header.get("alg") != ALGORITHM:
            raise InvalidToken("unsupported signing algorithm")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidToken("token names no key")
        key = self._keys.get(kid) or await self._refetch_for(kid)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                options={"require": list(REQUIRED_CLAIMS)},
                leeway=self._leeway,
            )
            tenant_id = claims.get(TENANT_ID_CLAIM)
            session_id = claims.get(SESSION_CLAIM)
            return AccessClaims(
                user_id=uuid.UUID(claims["sub"]),
                tenant=str(claims["tid"]),
                username=str(claims["username"]),
                token_id=str(claims["jti"]),
                expires_at=datetime.fromtimestamp(claims["exp"], UTC),
                issued_at=datetime.fromtimestamp(claims["iat"], UTC),
                tenant_id=uuid.UUID(tenant_id) if tenant_id is not None else None,
                session_id=uuid.UUID(session_id) if session_id is not None else None,
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise InvalidToken(str(exc)) from exc

    async def _refetch_for(self, kid: str) -> jwt.PyJWK:
        async with self._lock:
            if (
                kid not in self._keys
                and time.monotonic() - self._fetched_at >= self._refetch_interval
            ):
                self._fetched_at = time.monotonic()
                try:
                    self._keys = _parse_jwks(await self._source())
                    self._last_fetch_failed = False
                except JwksUnavailable as exc:
                    # Keep what we know: an auth outage must not turn every token that
                    # verified a moment ago into a 401.
                    self._last_fetch_failed = True
                    logger.warning("JWKS refetch failed; keeping the known keys", exc_info=exc)
        try:
            return self._keys[kid]
        except KeyError:
            if self._last_fetch_failed:
                # Unknown because auth did not answer, not because the key is bad: 503.
                raise JwksUnavailable("auth did not answer for an unknown key") from None
            raise InvalidToken("unknown signing key") from None


def _parse_jwks(document: dict[str, Any]) -> dict[str, jwt.PyJWK]:
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise JwksUnavailable("the JWKS document has no key list")
    keys: dict[str, jwt.PyJWK] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") != "OKP" or not entry.get("kid"):
            continue
        try:
            keys[str(entry["kid"])] = jwt.PyJWK(entry, algorithm=ALGORITHM)
        except jwt.PyJWTError:
            logger.warning("skipping an unreadable key in the JWKS", extra={"kid": entry["kid"]})
    return keys


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer ...` header (scheme case-insensitive, RFC 6750)."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
