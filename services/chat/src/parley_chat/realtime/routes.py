"""`GET /v1/stream` (shared/API.md "Real-time stream"): authenticate, then hand the socket
to a `Connection`. Open connections are the gauge parley_stream_connections; each end is
counted in parley_stream_disconnects_total by reason."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from litestar import WebSocket, websocket
from litestar.di import NamedDependency
from opentelemetry import trace
from sqlalchemy import exc as sa_exc

from parley_chat import metrics
from parley_chat.domain.service import Caller, ChatService
from parley_chat.realtime import connection as stream_connection
from parley_chat.realtime.broker import ChannelsPublisher, ResilientChannels
from parley_core import logging as parley_logging
from parley_core import tokens

logger = logging.getLogger(__name__)

CLOSE_INTERNAL_ERROR = stream_connection.CLOSE_INTERNAL_ERROR
CLOSE_TRY_AGAIN_LATER = stream_connection.CLOSE_TRY_AGAIN_LATER


class Stream:
    """The process's streams: what each connection needs, and every live connection."""

    def __init__(
        self,
        *,
        verifier: tokens.Verifier,
        chats: ChatService,
        channels: ResilientChannels,
        publisher: ChannelsPublisher,
        policy: stream_connection.StreamPolicy,
        tracer: trace.Tracer | None = None,
    ) -> None:
        self.verifier = verifier
        self.tracer = tracer
        self.chats = chats
        self.channels = channels
        self.publisher = publisher
        self.policy = policy
        self.connections: set[stream_connection.Connection] = set()
        channels.on_recovered.append(self.resync_all)

    def resync_all(self) -> None:
        for connection in list(self.connections):
            connection.resync()


@websocket("/v1/stream")
async def stream_handler(socket: WebSocket[Any, Any, Any], stream: NamedDependency[Stream]) -> None:
    await socket.accept()
    # Browsers cannot set headers on a WebSocket, hence the query parameter.
    token = tokens.bearer_token(socket.headers.get("authorization")) or socket.query_params.get(
        "access_token"
    )
    try:
        if not token:
            raise tokens.InvalidToken("missing token")
        claims = await stream.verifier.verify(token)
    except tokens.InvalidToken:
        metrics.STREAM_DISCONNECTS.labels(reason="unauthorized").inc()
        await socket.close(stream_connection.CLOSE_UNAUTHORIZED, "invalid or expired access token")
        return
    except tokens.JwksUnavailable:
        metrics.STREAM_DISCONNECTS.labels(reason="auth_unavailable").inc()
        await socket.close(CLOSE_TRY_AGAIN_LATER, "auth unavailable")
        return

    parley_logging.bind(tenant=claims.tenant, user_id=claims.user_id)
    caller = Caller(tenant=claims.tenant, user_id=claims.user_id, username=claims.username)
    connection = stream_connection.Connection(
        socket,
        caller,
        claims.expires_at,
        chats=stream.chats,
        channels=stream.channels,
        publisher=stream.publisher,
        policy=stream.policy,
        tracer=stream.tracer,
    )
    stream.connections.add(connection)
    metrics.STREAM_CONNECTIONS.inc()
    try:
        await connection.serve()
    except sa_exc.SQLAlchemyError as exc:
        # The database did not answer while setting up: the client retries and resumes.
        logger.warning("stream setup failed", extra={"error.type": type(exc).__name__})
        connection.close_code = CLOSE_TRY_AGAIN_LATER
    except Exception:
        logger.exception("stream failed", extra={"user.id": str(caller.user_id)})
        connection.close_code = CLOSE_INTERNAL_ERROR
    finally:
        stream.connections.discard(connection)
        metrics.STREAM_CONNECTIONS.dec()
        reason = _DISCONNECT_REASONS.get(connection.close_code, "client")
        metrics.STREAM_DISCONNECTS.labels(reason=reason).inc()
        if connection.close_code == stream_connection.CLOSE_SLOW_CONSUMER:
            metrics.SLOW_CONSUMERS.inc()
        if connection.close_code is not None:
            with contextlib.suppress(Exception):
                await socket.close(connection.close_code, _REASONS.get(connection.close_code))


_REASONS = {
    stream_connection.CLOSE_UNAUTHORIZED: "access token expired",
    stream_connection.CLOSE_IDLE: "idle: send a ping at least every minute",
    stream_connection.CLOSE_SLOW_CONSUMER: "too far behind: reconnect and resume",
    CLOSE_INTERNAL_ERROR: "internal error: reconnect and resume",
    CLOSE_TRY_AGAIN_LATER: "database unavailable: reconnect and resume",
}

_DISCONNECT_REASONS: dict[int | None, str] = {
    stream_connection.CLOSE_UNAUTHORIZED: "token_expired",
    stream_connection.CLOSE_IDLE: "idle",
    stream_connection.CLOSE_SLOW_CONSUMER: "slow_consumer",
    CLOSE_INTERNAL_ERROR: "error",
    CLOSE_TRY_AGAIN_LATER: "database_unavailable",
}
