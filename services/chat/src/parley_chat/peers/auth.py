"""Chat's client of the auth service: the JWKS, and the `/internal` routes that turn
usernames into users and give a tenant's limits (docs/internal-api.md).

Every call shares one httpx client and goes through:
- a time budget (`PARLEY_AUTH_TIMEOUT_SECONDS`) that covers retries, so a hung auth costs a
  caller at most that long before a 503 naming auth;
- retries with exponential backoff and jitter, for these GETs only (they are idempotent),
  on connection errors and 5xx;
- a circuit breaker (purgatory) that fails fast while auth keeps failing;
- a TTL cache whose entries keep serving, stale, while auth is down, so sending into an
  existing chat survives an auth outage.

Each call is counted in parley_peer_requests_total by outcome, each attempt timed in
parley_peer_request_duration_seconds, and the breaker's state is parley_circuit_breaker_open.
The client is traced when tracing is on (parley_core.telemetry), which also carries the
W3C trace context to auth.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import httpx
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from parley_chat import metrics
from parley_chat.domain.directory import DEFAULT_MAX_ATTACHMENT_BYTES, TenantPolicy, UserRef
from parley_core import openapi, tokens
from parley_core.errors import DependencyUnavailable

logger = logging.getLogger(__name__)

CIRCUIT = "auth"
JWKS_PATH = "/.well-known/jwks.json"
_BACKOFF_SECONDS = 0.05

V = TypeVar("V")

_OUTCOMES = {
    outcome: metrics.PEER_REQUESTS.labels(peer=CIRCUIT, outcome=outcome)
    for outcome in metrics.PEER_OUTCOMES
}
_ATTEMPT_LATENCY = metrics.PEER_LATENCY.labels(peer=CIRCUIT)


@dataclass(frozen=True, slots=True)
class CachePolicy:
    fresh_seconds: float
    """Answers younger than this are used without asking auth."""
    stale_seconds: float
    """Answers younger than this still serve when auth does not answer."""
    max_entries: int = 100_000


class _Cache(Generic[V]):
    """A bounded map of answers with their age; the oldest entries go first."""

    def __init__(self, policy: CachePolicy) -> None:
        self._policy = policy
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def fresh(self, key: str) -> tuple[bool, V | None]:
        return self._get(key, self._policy.fresh_seconds)

    def stale(self, key: str) -> tuple[bool, V | None]:
        return self._get(key, self._policy.stale_seconds)

    def put(self, key: str, value: V) -> None:
        self._entries[key] = (time.monotonic(), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._policy.max_entries:
            self._entries.popitem(last=False)

    def _get(self, key: str, max_age: float) -> tuple[bool, V | None]:
        entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry[0] > max_age:
            return False, None
        return True, entry[1]


class _ServerError(Exception):
    """Auth answered 5xx: counts as a failure for the breaker and is retried."""


class AuthPeer:
    """The `parley_chat.domain.directory.Directory` that asks auth over HTTP."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        admin_token: str | None,
        timeout_seconds: float,
        retries: int,
        cache: CachePolicy,
        breaker: AsyncCircuitBreakerFactory,
    ) -> None:
        self._client = client
        self._headers = {"Authorization": f"Bearer {admin_token}"} if admin_token else {}
        self._timeout = timeout_seconds
        self._retries = retries
        self._breaker = breaker
        self._users: _Cache[UserRef] = _Cache(cache)
        self._policies: _Cache[TenantPolicy | None] = _Cache(cache)
        self._inflight: dict[str, asyncio.Future[TenantPolicy | None]] = {}

    # -- Directory -----------------------------------------------------------------------

    async def users(self, tenant: str, usernames: Collection[str]) -> dict[str, UserRef]:
        found: dict[str, UserRef] = {}
        missing = []
        for name in usernames:
            hit, user = self._users.fresh(f"{tenant}/{name}")
            if hit and user is not None:
                found[name] = user
            else:
                missing.append(name)
        if not missing:
            return found
        try:
            response = await self._get(
                f"/internal/v1/tenants/{tenant}/users", params={"username": missing}
            )
        except DependencyUnavailable:
            # Serve what auth told us before, if it covers every name; else 503.
            for name in missing:
                hit, user = self._users.stale(f"{tenant}/{name}")
                if not hit or user is None:
                    raise
                found[name] = user
            return found
        if response.status_code == 404:
            return found  # the tenant is gone, so none of its users exist
        for entry in _json(response).get("users", []):
            user = UserRef(uuid.UUID(entry["id"]), entry["username"])
            # Only users that exist are remembered: one may register any moment.
            self._users.put(f"{tenant}/{user.username}", user)
            found[user.username] = user
        return found

    async def policy(self, tenant: str) -> TenantPolicy | None:
        hit, policy = self._policies.fresh(tenant)
        if hit:
            return policy
        # Single flight: a burst of sends into a cold tenant makes one call to auth.
        pending = self._inflight.get(tenant)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[TenantPolicy | None] = asyncio.get_running_loop().create_future()
        self._inflight[tenant] = future
        try:
            policy = await self._fetch_policy(tenant)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here, so an unawaited future logs nothing
            raise
        else:
            future.set_result(policy)
            return policy
        finally:
            del self._inflight[tenant]

    async def _fetch_policy(self, tenant: str) -> TenantPolicy | None:
        try:
            response = await self._get(f"/internal/v1/tenants/{tenant}")
        except DependencyUnavailable:
            hit, policy = self._policies.stale(tenant)
            if not hit:
                raise
            return policy
        policy = None
        if response.status_code != 404:
            body = _json(response)
            try:
                limits = body["limits"]
                policy = TenantPolicy(
                    messages_per_minute=int(limits["messages_per_minute"]),
                    max_message_chars=int(limits["max_message_chars"]),
                    suspended=bool(body["suspended"]),
                    tenant_id=uuid.UUID(body["id"]),
                    created_at=datetime.fromisoformat(body["created_at"]),
                    # An auth from before attachments answers without it: the default.
                    max_attachment_bytes=int(
                        limits.get("max_attachment_bytes", DEFAULT_MAX_ATTACHMENT_BYTES)
                    ),
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise DependencyUnavailable("auth") from exc
        self._policies.put(tenant, policy)
        return policy

    # -- OpenAPI -------------------------------------------------------------------------

    async def public_document(self) -> dict[str, Any]:
        """Auth's public OpenAPI document, which chat merges into `/v1/openapi.json`."""
        response = await self._get(openapi.service_document("auth"), admin=False)
        if response.status_code == 404:
            raise DependencyUnavailable("auth")  # an auth older than the document
        return _json(response)

    # -- JWKS ----------------------------------------------------------------------------

    def jwks_source(self) -> tokens.JwksSource:
        """The verifier's key source; a failure is `JwksUnavailable`, never a hang."""

        async def fetch() -> dict[str, Any]:
            try:
                response = await self._get(JWKS_PATH, admin=False)
                document: dict[str, Any] = _json(response)
            except DependencyUnavailable as exc:
                raise tokens.JwksUnavailable(str(exc)) from exc
            return document

        return fetch

    # -- transport -----------------------------------------------------------------------

    async def _get(
        self, path: str, *, params: dict[str, Any] | None = None, admin: bool = True
    ) -> httpx.Response:
        """GET with the budget, retries and breaker; 2xx and 404 come back, the rest is
        DependencyUnavailable("auth")."""
        deadline = time.monotonic() + self._timeout
        headers = self._headers if admin else {}
        for attempt in range(self._retries + 1):
            remaining = deadline - time.monotonic()
            try:
                async with await self._breaker.get_breaker(CIRCUIT):
                    with _ATTEMPT_LATENCY.time():
                        response = await self._client.get(
                            path, params=params, headers=headers, timeout=max(remaining, 0.01)
                        )
                    if response.status_code >= 500:
                        raise _ServerError(response.status_code)
            except OpenedState:
                _OUTCOMES["circuit_open"].inc()
                raise DependencyUnavailable("auth") from None
            except (httpx.TransportError, _ServerError) as exc:
                pause = _BACKOFF_SECONDS * 2**attempt * (1 + random.random())
                if attempt == self._retries or time.monotonic() + pause >= deadline:
                    _OUTCOMES["error"].inc()
                    logger.warning(
                        "auth did not answer",
                        extra={"url.path": path, "error.type": type(exc).__name__},
                    )
                    raise DependencyUnavailable("auth") from exc
                await asyncio.sleep(pause)
                continue
            if response.status_code == 404 or response.is_success:
                _OUTCOMES["ok"].inc()
                return response
            # 401 or 422 means chat is misconfigured (admin token) or sent garbage.
            _OUTCOMES["error"].inc()
            logger.error(
                "auth refused an internal call",
                extra={"url.path": path, "http.response.status_code": response.status_code},
            )
            raise DependencyUnavailable("auth")
        raise AssertionError("unreachable")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise DependencyUnavailable("auth") from exc
    if not isinstance(body, dict):
        raise DependencyUnavailable("auth")
    return body


def breaker(*, failures: int, reset_seconds: float) -> AsyncCircuitBreakerFactory:
    """The breaker for auth calls; state changes are logged and exported."""
    factory = AsyncCircuitBreakerFactory(default_threshold=failures, default_ttl=reset_seconds)
    metrics.CIRCUIT_OPEN.labels(circuit=CIRCUIT).set(0)

    def on_event(name: str, event_type: str, event: object) -> None:
        if event_type == "state_changed":
            state = str(getattr(event, "state", "?"))
            if state in ("opened", "half-opened", "closed"):
                metrics.CIRCUIT_OPEN.labels(circuit=name).set(1 if state == "opened" else 0)
                metrics.CIRCUIT_TRANSITIONS.labels(circuit=name, state=state).inc()
            logger.warning("circuit breaker changed state", extra={"circuit": name, "state": state})

    factory.add_listener(on_event)
    return factory
