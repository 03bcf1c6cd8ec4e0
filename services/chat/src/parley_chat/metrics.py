"""The chat service's Prometheus metrics (docs/observability.md says what each one means
and which alert reads it). Label values come from the small fixed sets written here, and
every labelled series is created at import, so a dashboard shows 0 rather than nothing
before the first event.

Module-level, as prometheus_client intends: a process has one registry; with several
workers a pod's /metrics sums them (parley_core.metrics).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from parley_chat import closes
from parley_chat.domain import limits
from parley_core.metrics import RATE_LIMITED

# -- the message log ----------------------------------------------------------------------

MESSAGES_PERSISTED = Counter(
    "parley_chat_messages_persisted_total",
    "Messages committed to a chat's log (a repeated client_msg_id stores nothing and is not "
    "counted).",
)

# -- attachments --------------------------------------------------------------------------

ATTACHMENTS_DELETED = Counter(
    "parley_attachments_deleted_total",
    "Attachment files the sweep deleted, by reason: unsent (an upload never sent in a "
    "message), message_deleted, tenant_purged.",
    ["reason"],
)
ATTACHMENT_DELETION_REASONS = ("unsent", "message_deleted", "tenant_purged")

# -- the tenant event feed ----------------------------------------------------------------

FEED_UNNUMBERED = Gauge(
    "parley_chat_feed_unnumbered_events",
    "Committed feed events no sealer has numbered yet (PostgreSQL), as of this process's "
    "last sweep: above 0 for more than a few sweeps means no sealer gets its work done "
    "(docs/integrations.md).",
    multiprocess_mode="livemax",
)
FEED_UNNUMBERED_AGE = Gauge(
    "parley_chat_feed_oldest_unnumbered_seconds",
    "How long ago the oldest feed event not yet numbered happened (0 when none), as of "
    "this process's last sweep.",
    multiprocess_mode="livemax",
)

# -- the stream ---------------------------------------------------------------------------

STREAM_CONNECTIONS = Gauge(
    "parley_stream_connections",
    "Open, authenticated WebSocket connections of GET /v1/stream on this process (on "
    "all its workers, with PARLEY_WORKERS > 1).",
    multiprocess_mode="livesum",
)

DISCONNECT_REASONS = (
    "client",  # the client closed or the link dropped
    # Then one label per case the server closes for (parley_chat.closes says which code).
    *dict.fromkeys(case.label for case in closes.CloseCode if case.label != "client"),
)
STREAM_DISCONNECTS = Counter(
    "parley_stream_disconnects_total",
    "Stream connections that ended, by reason: " + ", ".join(DISCONNECT_REASONS) + ".",
    ["reason"],
)

FRAME_SOURCES = (
    "live",  # an event from the broker
    "replay",  # a message read back from the log (resume, gap fill, join, resync)
    "control",  # ready, pong, error
)
FRAMES_SENT = Counter(
    "parley_stream_frames_sent_total",
    "Frames written to stream clients, by source: live (from the broker), replay (read "
    "back from the log), control (ready, pong, error).",
    ["source"],
)

DELIVERY_DELAY = Histogram(
    "parley_stream_delivery_delay_seconds",
    "From publishing a committed event (just after its commit) to writing its frame to a "
    "client, for live frames. Across replicas it includes their clock difference.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

RESUMES = Counter(
    "parley_stream_resumes_total",
    "`resume` frames handled (a client reconnected and asked for what it missed).",
)

REPLAY_CAUSES = (
    "resume",  # the client's resume cursors were behind
    "gap",  # a live event skipped ahead: the broker lost or reordered some
    "join",  # sent between the user joining a chat and subscribing to it
    "resync",  # the broker came back after an outage
)
REPLAYED_MESSAGES = Counter(
    "parley_stream_replayed_messages_total",
    "Messages written from the log rather than live, by cause: resume, gap, join, resync.",
    ["cause"],
)

MEMBERSHIP_DROPS = Counter(
    "parley_stream_membership_drops_total",
    "Chats a stream stopped writing because a re-read of the database showed its user had "
    "left them while the `member.left` event did not arrive.",
)

SLOW_CONSUMERS = Counter(
    "parley_stream_slow_consumers_dropped_total",
    "Connections closed with 4429 because the client read too slowly and its queue filled.",
)

# -- the broker ---------------------------------------------------------------------------

BROKER_PUBLISHES = Counter(
    "parley_broker_publishes_total",
    "Events published to the broker (Redis, or in-process), by outcome: ok, failed. A "
    "failed publish loses nothing: clients read the log (gap fill, resume).",
    ["outcome"],
)
BROKER_REDELIVERIES = Counter(
    "parley_broker_redeliveries_total",
    "Message events published again once the broker answered, after their first publish "
    "failed (a chat's last lost message would otherwise wait for the next one's gap fill).",
)

BROKER_SUBSCRIPTION_UP = Gauge(
    "parley_broker_subscription_up",
    "1 while this process receives events from the broker, 0 while its subscription is "
    "down (live delivery on this replica has stopped; it resyncs when it returns).",
    multiprocess_mode="livemin",
)

# -- webhooks ------------------------------------------------------------------------------

WEBHOOK_OUTCOMES = (
    "success",  # the endpoint answered 2xx
    "failure",  # it answered anything else, a redirect included
    "timeout",  # no answer within PARLEY_WEBHOOK_TIMEOUT_SECONDS
    "error",  # no connection, TLS refused, the connection dropped
    "refused",  # the host is or resolves to an address that is not public (SSRF guard)
)
WEBHOOK_DELIVERIES = Counter(
    "parley_webhook_deliveries_total",
    "Webhook delivery attempts, by outcome: " + ", ".join(WEBHOOK_OUTCOMES) + ". Every "
    "outcome but success is retried with backoff.",
    ["outcome"],
)
WEBHOOK_LAG = Histogram(
    "parley_webhook_delivery_lag_seconds",
    "From an event's commit (its occurred_at) to its successful delivery to a webhook, "
    "retries included.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 86400.0),
)
WEBHOOKS_FAILING = Gauge(
    "parley_webhooks_failing",
    "Enabled webhooks, of every tenant, paused as failing after retrying one event for "
    "the whole retry window (each replica reads the same count from the database).",
    multiprocess_mode="livemax",
)

# -- the auth service, as a dependency ----------------------------------------------------

CIRCUIT_OPEN = Gauge(
    "parley_circuit_breaker_open",
    "1 while the circuit breaker fails calls to the dependency fast, without trying; 0 "
    "while closed or half-open.",
    ["circuit"],
    multiprocess_mode="livemax",
)
CIRCUIT_TRANSITIONS = Counter(
    "parley_circuit_breaker_transitions_total",
    "Circuit breaker state changes, by the state entered: opened, half-opened, closed.",
    ["circuit", "state"],
)

PEER_OUTCOMES = ("ok", "error", "circuit_open")
PEER_REQUESTS = Counter(
    "parley_peer_requests_total",
    "Calls to another Parley service, by outcome: ok (answered 2xx or 404), error "
    "(no answer, 5xx or refused, after retries), circuit_open (not tried).",
    ["peer", "outcome"],
)
PEER_LATENCY = Histogram(
    "parley_peer_request_duration_seconds",
    "One HTTP attempt to another Parley service, retries counted separately.",
    ["peer"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


def _zeros() -> None:
    for reason in DISCONNECT_REASONS:
        STREAM_DISCONNECTS.labels(reason=reason)
    for source in FRAME_SOURCES:
        FRAMES_SENT.labels(source=source)
    for cause in REPLAY_CAUSES:
        REPLAYED_MESSAGES.labels(cause=cause)
    for outcome in ("ok", "failed"):
        BROKER_PUBLISHES.labels(outcome=outcome)
    for state in ("opened", "half-opened", "closed"):
        CIRCUIT_TRANSITIONS.labels(circuit="auth", state=state)
    CIRCUIT_OPEN.labels(circuit="auth")
    for outcome in WEBHOOK_OUTCOMES:
        WEBHOOK_DELIVERIES.labels(outcome=outcome)
    for outcome in PEER_OUTCOMES:
        PEER_REQUESTS.labels(peer="auth", outcome=outcome)
    PEER_LATENCY.labels(peer="auth")
    RATE_LIMITED.labels(limit="messages_per_minute")
    for name in limits.NAMES:
        RATE_LIMITED.labels(limit=name)
    for reason in ATTACHMENT_DELETION_REASONS:
        ATTACHMENTS_DELETED.labels(reason=reason)


_zeros()
