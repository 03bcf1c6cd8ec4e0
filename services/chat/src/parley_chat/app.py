"""The chat service's composition root: `create_app(settings)` builds everything it serves."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from litestar import Litestar, Request
from litestar.di import NamedDependency, Provide

from parley_chat import rpc as chat_rpc
from parley_chat.api import attachments, routes, search
from parley_chat.api import presence as presence_routes
from parley_chat.api import tenant as tenant_routes
from parley_chat.api import webhooks as webhook_routes
from parley_chat.delivery import sender as webhook_sender
from parley_chat.delivery import worker as webhook_worker
from parley_chat.domain import access, feed, limits, webhooks
from parley_chat.domain import presence as presence_domain
from parley_chat.domain.base import AttachmentPolicy
from parley_chat.domain.service import Caller, ChatService
from parley_chat.peers import auth as auth_peer
from parley_chat.realtime import broker, presence_store, wire
from parley_chat.realtime import connection as stream_connection
from parley_chat.realtime import feed as feed_wakeups
from parley_chat.realtime import presence as stream_presence
from parley_chat.realtime import routes as stream_routes
from parley_chat.realtime import tickets as stream_tickets
from parley_chat.settings import ChatSettings
from parley_chat.storage import files
from parley_core import db, openapi, ratelimit, service, telemetry, tokens, web

MAX_BODY_BYTES = 512 * 1024
"""A message is at most 100 000 characters (the largest tenant limit), 4 bytes each in UTF-8."""


def create_app(
    settings: ChatSettings,
    *,
    auth_transport: httpx.AsyncBaseTransport | None = None,
    tracing: telemetry.Tracing | None = None,
) -> Litestar:
    """Build the chat app. `auth_transport` lets the embedded default reach auth in-process;
    `tracing` (from `telemetry.from_env`, None when off) traces requests and the stream,
    the database, Redis and the calls to auth."""
    backends = service.backends("chat", settings, tracing)
    redis = backends.redis
    # Counts sends and every other limited action (parley_chat.domain.limits).
    send_counter: ratelimit.WindowCounter = ratelimit.MemoryCounter()
    if redis is not None:
        # A Redis outage must not stop sending (or editing, or typing): each replica then
        # counts on its own.
        send_counter = ratelimit.FallbackCounter(
            ratelimit.RedisCounter(redis, prefix=backends.key_prefix), send_counter
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
            limits.REACTIONS: limits.Limit(settings.reactions_per_minute, 60),
        },
    )
    auth_client = httpx.AsyncClient(
        base_url=settings.auth.url,
        transport=auth_transport,
        timeout=settings.auth.timeout_seconds,
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
    )
    tracer = None
    if tracing is not None:
        tracer = tracing.tracer("parley_chat")
        tracing.instrument_httpx(auth_client)
    admin_token = settings.admin_token.get_secret_value() if settings.admin_token else None
    peer = auth_peer.AuthPeer(
        auth_client,
        admin_token=admin_token,
        timeout_seconds=settings.auth.timeout_seconds,
        retries=settings.auth.retries,
        cache=auth_peer.CachePolicy(
            fresh_seconds=settings.auth.cache_seconds,
            stale_seconds=settings.auth.stale_seconds,
        ),
        breaker=auth_peer.breaker(
            failures=settings.auth.breaker_failures,
            reset_seconds=settings.auth.breaker_reset_seconds,
        ),
        server_key_seconds=settings.auth.server_key_cache_seconds,
    )
    verifier = tokens.Verifier(peer.jwks_source())
    channels = broker.ResilientChannels(redis=redis, tracer=tracer)
    publisher = broker.ChannelsPublisher(channels, tracer=tracer)
    # PostgreSQL numbers feed events after their commit (storage/feed.py); SQLite's
    # writers number their own.
    sealer = (
        feed.Sealer(db.sessionmaker(backends.engine), feed_wakeups.FeedAnnouncer(publisher))
        if backends.engine.dialect.name == "postgresql"
        else None
    )
    chats = ChatService(
        sessions=db.sessionmaker(backends.engine),
        directory=peer,
        send_counter=send_counter,
        action_limits=action_limits,
        publisher=feed_wakeups.SealingPublisher(publisher, sealer) if sealer else publisher,
        frames=wire.frame_of,
        files=file_store(settings),
        attachment_policy=AttachmentPolicy(
            url_seconds=settings.attachments.url_seconds,
            unsent_seconds=settings.attachments.unsent_seconds,
        ),
    )
    redis_presence = (
        presence_store.RedisPresence(
            redis, prefix=backends.key_prefix, ttl_seconds=settings.presence.ttl_seconds
        )
        if redis is not None
        else None
    )
    announcer = stream_presence.ChannelAnnouncer(publisher)
    presence = presence_domain.PresenceService(
        sessions=db.sessionmaker(backends.engine),
        store=redis_presence or presence_store.MemoryPresence(),
        announcer=announcer,
    )
    presence_hub = stream_presence.PresenceHub(
        presence,
        channels,
        announcer,
        redis_store=redis_presence,
        policy=stream_presence.PresencePolicy(
            heartbeat_seconds=settings.presence.heartbeat_seconds,
            ttl_seconds=settings.presence.ttl_seconds,
        ),
    )
    stream = stream_routes.Stream(
        verifier=verifier,
        directory=peer,
        tickets=stream_tickets.RedisTickets(redis, prefix=backends.key_prefix)
        if redis
        else stream_tickets.MemoryTickets(),
        ticket_seconds=settings.stream.ticket_seconds,
        shared=stream_connection.Shared(
            chats=chats,
            channels=channels,
            publisher=publisher,
            policy=stream_connection.StreamPolicy(
                queue_size=settings.stream.queue_size,
                idle_seconds=settings.stream.idle_seconds,
                typing_interval_seconds=settings.stream.typing_interval_seconds,
                resume_grace_seconds=settings.stream.resume_grace_seconds,
                recheck_seconds=settings.stream.recheck_seconds,
            ),
            tracer=tracer,
            presence=presence_hub,
        ),
    )

    event_feed = feed.Feed(
        sessions=db.sessionmaker(backends.engine),
        presence=presence.store,
        wakeups=feed_wakeups.ChannelWakeups(channels),
        retention_seconds=settings.event_retention_seconds,
        sealer=sealer,
    )

    purging_events = service.every(
        settings.event_purge_interval_seconds, event_feed.purge_expired, name="feed retention"
    )
    sealing: list[service.Lifespan] = []
    if sealer is not None:
        running_sealer = sealer.running
        sealing.append(lambda _: service.in_background(running_sealer(), name="feed sealer"))

    hooks = webhooks.Webhooks(
        sessions=db.sessionmaker(backends.engine),
        feed=event_feed,
        policy=webhooks.Policy(
            allow_private=settings.webhook.allow_private,
            max_per_tenant=settings.webhook.max_per_tenant,
            retry_seconds=settings.webhook.retry_seconds,
            backoff_base_seconds=settings.webhook.backoff_base_seconds,
            backoff_ceiling_seconds=settings.webhook.backoff_ceiling_seconds,
            lease_seconds=settings.webhook.lease_seconds,
        ),
    )
    deliverer = webhook_worker.Deliverer(
        hooks,
        webhook_sender.Sender(
            timeout_seconds=settings.webhook.timeout_seconds,
            allow_private=settings.webhook.allow_private,
        ),
        concurrency=settings.webhook.concurrency,
        poll_seconds=settings.webhook.poll_seconds,
    )

    async def provide_caller(
        request: Request[Any, Any, Any], claims: NamedDependency[tokens.AccessClaims]
    ) -> Caller:
        # Every method but a read is a write: a suspended tenant may still read.
        write = request.method not in ("GET", "HEAD", "OPTIONS")
        return await access.admit(peer, stream_routes.credential_of(claims), write=write)

    @asynccontextmanager
    async def closing_auth_client(_: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await auth_client.aclose()

    return service.service_app(
        backends,
        settings,
        tracing=tracing,
        verifier=verifier,
        route_handlers=[
            routes.ChatsController,
            attachments.AttachmentsController,
            search.SearchController,
            presence_routes.PresenceController,
            tenant_routes.TenantFeedController,
            webhook_routes.WebhooksController,
            stream_routes.stream_handler,
            stream_routes.issue_ticket,
            # The one public document of the whole API, auth's routes included.
            *openapi.public_handlers(
                openapi.PUBLIC, docs_path=openapi.DOCS, peers=[peer.public_document]
            ),
        ],
        internal=[routes.InternalController],
        dependencies={
            "chats": Provide(lambda: chats, sync_to_thread=False),
            "caller": Provide(provide_caller),
            "stream": Provide(lambda: stream, sync_to_thread=False),
            "presence_service": Provide(lambda: presence, sync_to_thread=False),
            "feed_service": Provide(lambda: event_feed, sync_to_thread=False),
            "server_key": Provide(web.introspecting_server_key_provider(peer.server_key)),
            "hooks": Provide(lambda: hooks, sync_to_thread=False),
        },
        state={"chats": chats, "stream": stream, "feed": event_feed},
        max_body_bytes=MAX_BODY_BYTES,
        plugins=[channels],
        lifespan=[
            closing_auth_client,
            presence_hub.running,
            sweeping(chats, settings.attachments.sweep_seconds),
            purging_events,
            *sealing,
            deliverer.running,
        ],
        rpc_services=[
            chat_rpc.registration(chat_rpc.ChatServicer(chats, presence, peer, stream)),
            chat_rpc.tenant_registration(
                chat_rpc.TenantEventServicer(event_feed, hooks), peer.server_key
            ),
        ],
    )


def file_store(settings: ChatSettings) -> files.FileStore:
    """The object store when a bucket is set; else files under the data directory."""
    s3 = settings.s3
    if s3.bucket:
        return files.S3Store(
            bucket=s3.bucket,
            endpoint=s3.endpoint or None,
            region=s3.region,
            access_key_id=s3.access_key_id.get_secret_value() if s3.access_key_id else None,
            secret_access_key=(
                s3.secret_access_key.get_secret_value() if s3.secret_access_key else None
            ),
        )
    return files.LocalStore(settings.attachments.dir or settings.data_dir / "attachments")


def sweeping(chats: ChatService, interval_seconds: float) -> service.Lifespan:
    """Every replica runs the attachment sweep; the lease row lets one of them work at a
    time (`ChatService.sweep_attachments`)."""
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[-64:]
    return service.every(
        interval_seconds,
        lambda: chats.sweep_attachments(holder, lease_seconds=interval_seconds * 3),
        name="attachment sweep",
    )
