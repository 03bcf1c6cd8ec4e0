"""The canary's Prometheus metrics (docs/observability.md "Delivery canary"), in a registry
of its own. No per-replica label: replicas come and go with their pods, and the numbers
that matter (lost, duplicated, out of order, delay) are the service's, not a pod's."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

SENT = Counter("parley_canary_messages_sent", "Messages the API acknowledged.", registry=REGISTRY)
SEND_ERRORS = Counter(
    "parley_canary_send_errors", "Sends refused or unanswered.", registry=REGISTRY
)
RECEIVED = Counter(
    "parley_canary_messages_received", "Message frames the streams delivered.", registry=REGISTRY
)
LOST = Counter(
    "parley_canary_messages_lost",
    "Acknowledged messages a stream did not deliver within the loss timeout.",
    registry=REGISTRY,
)
DUPLICATED = Counter(
    "parley_canary_messages_duplicated",
    "Messages a stream delivered more than once.",
    registry=REGISTRY,
)
OUT_OF_ORDER = Counter(
    "parley_canary_messages_out_of_order",
    "Messages a stream delivered after a later seq of the same chat.",
    registry=REGISTRY,
)
DELAY = Histogram(
    "parley_canary_delivery_delay_seconds",
    "From the send to the delivery on a stream.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
RECONNECTS = Counter(
    "parley_canary_stream_reconnects", "Streams lost and opened again.", registry=REGISTRY
)
STREAMS = Gauge(
    "parley_canary_streams", "Streams the canary holds, one per replica.", registry=REGISTRY
)
CONNECTED = Gauge("parley_canary_streams_connected", "Streams open right now.", registry=REGISTRY)
