"""The chat service's composition root: `create_app(settings)` builds everything it serves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from litestar import Litestar, Request, Router
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.openapi import OpenAPIConfig

from parley_chat.api import routes
from parley_chat.domain import access, limits
from parley_chat.domain.service import Caller, ChatService
from parley_chat.peers import auth as auth_peer
from parley_chat.realtime import broker
from parley_chat.realtime import connection as stream_connection
from parley_chat.realtime import routes as stream_routes
from parley_chat.realtime import tickets as stream_tickets
from parley_chat.settings import ChatSettings
from parley_core import db, health, metrics, ratelimit, telemetry, tokens, web

MAX_BODY_BYTES = 512 * 1024
"""A message is at most 100 000 characters (the largest tenant limit), 4 bytes each in UTF-8."""


SERVICE = "parley-chat"


def create_app(
    settings: ChatSettings,
    *,
    auth_transport: httpx.AsyncBaseTransport | None = None,
    tracing: telemetry.Tracing | None = None,
) -> Litestar:
    """Build the chat app. `auth_transport` lets the embedded default reach auth in-process;
    `tracing` (from `telemetry.from_env`, None when off) traces requests and the stream,
    the database, Redis and the calls to auth."""
    engine = db.create_engine(
        settings.resolved_database_url(), pool_size=settings.database_pool_size
    )
    redis = ratelimit.redis_client(settings.redis_url) if settings.redis_url else None
    # Counts sends and every other limited action (parley_chat.domain.limits).
    send_counter: ratelimit.WindowCounter = ratelimit.MemoryCounter()
    if redis is not None:
        # A Redis outage must not stop sending (or editing, or typing): each replica then
        # counts on its own.
        send_counter = ratelimit.FallbackCounter(
            ratelimit.RedisCounter(redis, prefix=f"{settings.redis_prefix}chat:"), send_counter
        )
    action_limits = limits.Limits(
        send_counter,
        {
            limits.MESSAGE_EDITS: limits.Limit(settings.message_edits_per_minute, 60),
            limits.CHAT_CREATIONS: limits.Limit(settings.chat_creations_per_minute, 60),
            limits.MEMBER_ADDS: limits.Limit(settings.member_adds_per_minute, 60),
            limits.READ_MARKERS: limits.Limit(settings.read_markers_per_minute, 60),
            limits.TYPING: limits.Limit(settings.typing_frames_per_minute, 60),
            limits.CHATS_JOINED: limits.Limit(settings.chats_joined_per_hour, 3600),
        },
    )
    auth_client = httpx.AsyncClient(
        base_url=settings.auth_url,
        transport=auth_transport,
        timeout=settings.auth_timeout_seconds,
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
    )
    tracer = None
    if tracing is not None:
        tracer = tracing.tracer("parley_chat")
        tracing.instrument_engine(engine)
        tracing.instrument_httpx(auth_client)
        if redis is not None:
            tracing.instrument_redis(redis)
    unwatch_pool = metrics.watch_pool("chat", engine)
    admin_token = settings.admin_token.get_secret_value() if settings.admin_token else None
    peer = auth_peer.AuthPeer(
        auth_client,
        admin_token=admin_token,
        timeout_seconds=settings.auth_timeout_seconds,
        retries=settings.auth_retries,
        cache=auth_peer.CachePolicy(
            fresh_seconds=settings.auth_cache_seconds,
            stale_seconds=settings.auth_stale_seconds,
        ),
        breaker=auth_peer.breaker(
            failures=settings.auth_breaker_failures,
            reset_seconds=settings.auth_breaker_reset_seconds,
        ),
    )
    verifier = tokens.Verifier(peer.jwks_source())
    channels = broker.ResilientChannels(redis=redis)
    publisher = broker.ChannelsPublisher(channels, tracer=tracer)
    chats = ChatService(
        sessions=db.sessionmaker(engine),
        directory=peer,
        send_counter=send_counter,
        action_limits=action_limits,
        publisher=publisher,
    )
    stream = stream_routes.Stream(
        verifier=verifier,
        directory=peer,
        tickets=stream_tickets.RedisTickets(redis, prefix=f"{settings.redis_prefix}chat:")
        if redis
        else stream_tickets.MemoryTickets(),
        ticket_seconds=settings.stream_ticket_seconds,
        shared=stream_connection.Shared(
            chats=chats,
            channels=channels,
            publisher=publisher,
            policy=stream_connection.StreamPolicy(
                queue_size=settings.stream_queue_size,
                idle_seconds=settings.stream_idle_seconds,
                typing_interval_seconds=settings.stream_typing_interval_seconds,
                resume_grace_seconds=settings.stream_resume_grace_seconds,
                recheck_seconds=settings.stream_recheck_seconds,
            ),
            tracer=tracer,
        ),
    )

    async def provide_caller(
        request: Request[Any, Any, Any], claims: NamedDependency[tokens.AccessClaims]
    ) -> Caller:
        # Every method but a read is a write: a suspended tenant may still read.
        write = request.method not in ("GET", "HEAD", "OPTIONS")
        return await access.admit(peer, stream_routes.credential_of(claims), write=write)

    probes: dict[str, health.Probe] = {"database": lambda: db.ping(engine)}
    if redis is not None:
        probes["redis"] = redis.ping

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            unwatch_pool()
            await auth_client.aclose()
            if redis is not None:
                await redis.aclose()
            await engine.dispose()

    internal = Router(
        path="/", route_handlers=[routes.InternalController], guards=[web.admin_guard(admin_token)]
    )
    return Litestar(
        route_handlers=[
            routes.ChatsController,
            stream_routes.stream_handler,
            stream_routes.issue_ticket,
            internal,
            telemetry.MetricsController,
            *health.handlers(probes, service="chat"),
        ],
        dependencies={
            "chats": Provide(lambda: chats, sync_to_thread=False),
            "claims": Provide(web.identity_provider(verifier)),
            "caller": Provide(provide_caller),
            "stream": Provide(lambda: stream, sync_to_thread=False),
        },
        plugins=[channels, *([tracing.plugin()] if tracing is not None else [])],
        exception_handlers=web.exception_handlers(),
        middleware=[telemetry.http_metrics(SERVICE), telemetry.RequestLog(SERVICE)],
        cors_config=web.cors_config(settings.cors_origins),
        openapi_config=OpenAPIConfig(title="Parley chat", version="1"),
        request_max_body_size=MAX_BODY_BYTES,
        request_class=web.JsonRequest,
        logging_config=None,
        lifespan=[lifespan],
        state=State({"chats": chats, "stream": stream}),
    )
