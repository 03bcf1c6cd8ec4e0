"""`GET /v1/stream` (docs/api.md "Real-time stream"): authenticate (a token, or a ticket
from `POST /v1/stream/ticket`), check the tenant's standing, then hand the socket to a
`Connection`. Open connections are the gauge parley_stream_connections; each end is
counted in parley_stream_disconnects_total by reason."""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from litestar import WebSocket, post, websocket
from litestar.di import NamedDependency
from litestar.status_codes import HTTP_201_CREATED
from sqlalchemy import exc as sa_exc

from parley_chat import metrics
from parley_chat.closes import CloseCode
from parley_chat.domain import access
from parley_chat.domain.directory import Directory
from parley_chat.domain.service import Caller
from parley_chat.realtime import connection as stream_connection
from parley_chat.realtime import tickets as stream_tickets
from parley_core import logging as parley_logging
from parley_core import tokens, web
from parley_core.errors import DependencyUnavailable

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class Stream:
    """The process's streams: what each connection needs, and every live connection."""

    verifier: tokens.Verifier
    directory: Directory
    tickets: stream_tickets.TicketStore
    ticket_seconds: int
    shared: stream_connection.Shared
    connections: set[stream_connection.Connection] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.shared.channels.on_recovered.append(self.resync_all)

    def resync_all(self) -> None:
        for connection in list(self.connections):
            connection.resync()


def credential_of(claims: tokens.AccessClaims) -> access.Credential:
    """What the domain checks of a verified token (domain/access.py)."""
    caller = Caller(tenant=claims.tenant, user_id=claims.user_id, username=claims.username)
    return access.Credential(caller, tenant_id=claims.tenant_id, issued_at=claims.issued_at)


@dataclass(frozen=True, slots=True)
class TicketOut:
    ticket: str
    expires_in: int


@post(
    "/v1/stream/ticket",
    status_code=HTTP_201_CREATED,
    tags=["stream"],
    responses=web.errors(401, 403, 503),
)
async def issue_ticket(
    claims: NamedDependency[tokens.AccessClaims],
    caller: NamedDependency[Caller],  # refuses a deleted or suspended tenant
    stream: NamedDependency[Stream],
) -> TicketOut:
    """A single-use ticket for `GET /v1/stream?ticket=...`, so that a browser need not put
    its access token in a URL (docs/stream.md)."""
    # Never outlives the token it stands for.
    left = int(claims.expires_at.timestamp() - time.time())
    ttl = max(1, min(stream.ticket_seconds, left))
    return TicketOut(await stream.tickets.issue(claims, ttl), ttl)


async def _identify(socket: WebSocket[Any, Any, Any], stream: Stream) -> tokens.AccessClaims:
    """The claims of the socket's ticket or token; InvalidToken when there are none."""
    ticket = socket.query_params.get("ticket")
    if ticket:
        claims = await stream.tickets.redeem(ticket)
        if claims is None or claims.expires_at.timestamp() <= time.time():
            raise tokens.InvalidToken("unknown, used or expired ticket")
        return claims
    # Browsers cannot set headers on a WebSocket, hence the query parameter; tickets are
    # the better way, as a URL ends up in access logs.
    token = tokens.bearer_token(socket.headers.get("authorization")) or socket.query_params.get(
        "access_token"
    )
    if not token:
        raise tokens.InvalidToken("missing token")
    return await stream.verifier.verify(token)


async def _refuse(socket: WebSocket[Any, Any, Any], close: CloseCode) -> None:
    metrics.STREAM_DISCONNECTS.labels(reason=close.label).inc()
    await socket.close(close.code, close.reason)


@websocket("/v1/stream")
async def stream_handler(socket: WebSocket[Any, Any, Any], stream: NamedDependency[Stream]) -> None:
    await socket.accept()
    try:
        claims = await _identify(socket, stream)
        credential = credential_of(claims)
        standing = await access.standing_of(stream.directory, credential)
    except tokens.InvalidToken:
        await _refuse(socket, CloseCode.UNAUTHORIZED)
        return
    except tokens.JwksUnavailable:
        await _refuse(socket, CloseCode.AUTH_UNAVAILABLE)
        return
    except DependencyUnavailable as exc:
        # Auth (the tenant's policy) or Redis (the ticket) did not answer.
        auth = exc.dependency == "auth"
        await _refuse(socket, CloseCode.AUTH_UNAVAILABLE if auth else CloseCode.BROKER_UNAVAILABLE)
        return
    if standing is not access.Standing.ACTIVE:
        suspended = standing is access.Standing.SUSPENDED
        await _refuse(socket, CloseCode.SUSPENDED if suspended else CloseCode.TENANT_GONE)
        return

    parley_logging.bind(tenant=claims.tenant, user_id=claims.user_id)
    connection = stream_connection.Connection(
        socket,
        credential.caller,
        claims.expires_at,
        stream.shared,
        standing=lambda: access.standing_of(stream.directory, credential),
    )
    await serve(stream, connection)


async def serve(stream: Stream, connection: stream_connection.Connection) -> None:
    """Serve one authenticated connection until it ends, and close its socket with the
    code it ended with; the WebSocket route and gRPC's Subscribe (parley_chat.rpc) both
    serve their streams here."""
    socket = connection.socket
    stream.connections.add(connection)
    metrics.STREAM_CONNECTIONS.inc()
    presence = stream.shared.presence
    try:
        if presence is not None:
            await presence.attach(connection)
        await connection.serve()
    except sa_exc.SQLAlchemyError as exc:
        # The database did not answer while setting up: the client retries and resumes.
        logger.warning("stream setup failed", extra={"error.type": type(exc).__name__})
        connection.closing = CloseCode.DATABASE_UNAVAILABLE
    except DependencyUnavailable:
        # The broker would not take the subscriptions: the client retries and resumes.
        logger.warning("stream setup failed: broker unavailable")
        connection.closing = CloseCode.BROKER_UNAVAILABLE
    except Exception:
        logger.exception("stream failed", extra={"user.id": str(connection.caller.user_id)})
        connection.closing = CloseCode.INTERNAL_ERROR
    finally:
        if presence is not None:
            await presence.detach(connection)
        stream.connections.discard(connection)
        metrics.STREAM_CONNECTIONS.dec()
        close = connection.closing
        metrics.STREAM_DISCONNECTS.labels(reason=close.label if close else "client").inc()
        if close is CloseCode.SLOW_CONSUMER:
            metrics.SLOW_CONSUMERS.inc()
        if close is not None:
            with contextlib.suppress(Exception):
                await socket.close(close.code, close.reason)
