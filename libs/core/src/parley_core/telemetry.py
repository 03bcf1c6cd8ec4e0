"""The web side of observability (docs/observability.md): traces, the HTTP metrics, and the
one log line per request.

Where it sits: each process's `serve` command calls `from_env(service)` once and hands the
result to its app's `create_app`, which instruments what it builds: incoming HTTP and
WebSocket (Litestar's OpenTelemetry plugin), its SQLAlchemy engine, its Redis client and
its httpx client. Tracing is configured only by the standard `OTEL_*` variables
(docs/api.md "Running it"); when none asks for it, `from_env` returns None and nothing
is installed: no middleware, no event hooks, no spans.

Every provider, tracer and instrumentation here is per app rather than global, so one
test process can run several apps, each reporting to an exporter of the test's own.

`http_metrics` (Litestar's Prometheus middleware) and `RequestLog` run for every request
whether tracing is on or not; `RequestLog` writes the request's summary line and gives the
server span its route-template name.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.middleware.base import DefineMiddleware
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from opentelemetry import trace
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from parley_core import logging as parley_logging
from parley_core import requestid
from parley_core.metrics import UNSCRAPED_PATHS

if TYPE_CHECKING:
    # The SDK, the exporters and the instrumentations load only when tracing is on.
    import httpx
    import redis.asyncio as aioredis
    from litestar.plugins.opentelemetry import OpenTelemetryPlugin
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("parley.access")

# Any of these set means someone asked for traces; OTEL_SDK_DISABLED=true overrides them.
_ASKING_VARIABLES = (
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
)
# Span attributes that the ASGI instrumentation fills from the raw URL, query included.
_URL_ATTRIBUTES = ("http.url", "http.target", "url.full", "url.query")

_W3C = TraceContextTextMapPropagator()


class Tracing:
    """One process's tracer provider and the instrumentation that reports to it."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider

    def tracer(self, name: str) -> trace.Tracer:
        return self.provider.get_tracer(name)

    def plugin(self) -> OpenTelemetryPlugin:
        """Server spans for HTTP requests and WebSocket sessions, continuing the caller's
        W3C trace context; probes and scrapes are not traced."""
        from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin

        return OpenTelemetryPlugin(
            OpenTelemetryConfig(
                tracer_provider=self.provider,
                # Metrics are Prometheus's (parley_core.metrics), not OpenTelemetry's.
                meter_provider=NoOpMeterProvider(),
                exclude=UNSCRAPED_PATHS,
                # One span per ASGI message would be one per WebSocket frame.
                exclude_spans=["receive", "send"],
                scope_span_details_extractor=_span_details,
                server_request_hook_handler=_redact_url,
            )
        )

    def instrument_engine(self, engine: AsyncEngine) -> None:
        """A client span per statement (its text with placeholders, never the values)."""
        # The per-engine tracer of the SQLAlchemy instrumentation; its instrumentor would
        # also patch `create_engine` for the whole process, with the first caller's provider.
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

        meter = NoOpMeterProvider().get_meter(__name__)
        # The instrumentation ships this class without annotations.
        EngineTracer(  # type: ignore[no-untyped-call]
            self.tracer("opentelemetry.instrumentation.sqlalchemy"),
            engine.sync_engine,
            meter.create_up_down_counter("db.client.connections.usage"),
        )

    def instrument_redis(self, client: aioredis.Redis | aioredis.RedisCluster) -> None:
        """A client span per command (the command name; its arguments are masked)."""
        from opentelemetry.instrumentation.redis import RedisInstrumentor

        RedisInstrumentor.instrument_client(client, tracer_provider=self.provider)

    def instrument_httpx(self, client: httpx.AsyncClient) -> None:
        """A client span per call, and the W3C `traceparent` header that lets the callee
        continue the trace."""
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor.instrument_client(
            client, tracer_provider=self.provider, meter_provider=NoOpMeterProvider()
        )

    def shutdown(self) -> None:
        self.provider.shutdown()


def http_metrics(app_name: str) -> DefineMiddleware:
    """Litestar's Prometheus middleware: parley_http_requests_total and
    parley_http_request_duration_seconds by method, route template (`path`) and status.

    WebSocket sessions are left out: their "duration" is the session's and would swamp the
    latency histogram; the stream has its own metrics (parley_stream_*).
    """
    return PrometheusConfig(
        app_name=app_name,
        prefix="parley_http",
        group_path=True,
        exclude=UNSCRAPED_PATHS,
        scopes={ScopeType.HTTP},
    ).middleware


class MetricsController(PrometheusController):
    """`/metrics` for Prometheus. Kept out of the OpenAPI document like the probes: it is
    for the platform, not part of the contract, and it answers Prometheus's text format
    where Litestar would document JSON."""

    include_in_schema = False


def from_env(service_name: str, environ: Mapping[str, str] = os.environ) -> Tracing | None:
    """Tracing as the standard OTEL_* variables describe it, or None when they don't ask.

    - On when `OTEL_TRACES_EXPORTER`, `OTEL_EXPORTER_OTLP_ENDPOINT` or
      `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, unless `OTEL_SDK_DISABLED=true`.
    - `OTEL_TRACES_EXPORTER`: `otlp` (the default), `console`, or `none` (spans are made,
      so trace ids reach the logs and the callees, but none is exported).
    - OTLP over `http/protobuf` (Jaeger's port 4318), the default of the specification.
    - `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` name the service (default
      `service_name`); `OTEL_TRACES_SAMPLER`, `OTEL_BSP_*`, `OTEL_EXPORTER_OTLP_HEADERS`
      and the rest are read by the SDK itself.
    """
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if not any(environ.get(name, "").strip() for name in _ASKING_VARIABLES):
        return None
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider

    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service_name}))
    provider = TracerProvider(resource=resource)
    for processor in _processors(environ):
        provider.add_span_processor(processor)
    logger.info(
        "tracing on",
        extra={
            "service.name": resource.attributes.get(SERVICE_NAME),
            "otel.exporters": _names(environ),
        },
    )
    return Tracing(provider)


def _names(environ: Mapping[str, str]) -> list[str]:
    value = environ.get("OTEL_TRACES_EXPORTER", "").strip() or "otlp"
    return [name.strip().lower() for name in value.split(",") if name.strip()]


def _processors(environ: Mapping[str, str]) -> list[SpanProcessor]:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    processors: list[SpanProcessor] = []
    for name in _names(environ):
        exporter: SpanExporter
        if name == "none":
            continue
        if name == "console":
            exporter = ConsoleSpanExporter()
        elif name == "otlp":
            exporter = _otlp_exporter(environ)
        else:
            raise ValueError(f"OTEL_TRACES_EXPORTER: unsupported exporter {name!r}")
        processors.append(BatchSpanProcessor(exporter))
    return processors


def _otlp_exporter(environ: Mapping[str, str]) -> SpanExporter:
    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if protocol != "http/protobuf":
        # Only the HTTP exporter is installed: grpc would add grpcio to every image.
        raise ValueError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported; use http/protobuf "
            "(Jaeger and the OpenTelemetry Collector take it on port 4318)"
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def traceparent() -> str | None:
    """The W3C `traceparent` of the current span, to carry where HTTP headers don't go."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get("traceparent")


def span_context(traceparent: str) -> trace.SpanContext | None:
    """The span a `traceparent` names, or None when it names none (malformed)."""
    context = trace.get_current_span(_W3C.extract({"traceparent": traceparent})).get_span_context()
    return context if context.is_valid else None


def _span_details(scope: Scope) -> tuple[str, dict[str, Any]]:
    # The route is not known yet (this middleware runs before routing): the method for now,
    # and RequestLog renames the span once the router has found the route template. Never
    # the raw path: it holds ids, and would make every chat its own operation.
    method = scope.get("method") or "WEBSOCKET"
    return str(method), {}


def _redact_url(span: trace.Span, scope: dict[str, Any]) -> None:
    # Browsers send the access token in the query of /v1/stream (docs/api.md).
    attributes = getattr(span, "attributes", None) or {}
    for key in _URL_ATTRIBUTES:
        value = attributes.get(key)
        if isinstance(value, str) and "access_token=" in value:
            span.set_attribute(key, parley_logging.redact(value))


_PROBES_AND_SCRAPES = frozenset(path.strip("^$") for path in UNSCRAPED_PATHS)


def _unscraped(scope: Scope) -> bool:
    return scope["path"] in _PROBES_AND_SCRAPES


class RequestLog(ASGIMiddleware):
    """One JSON line per HTTP request and per WebSocket session, at its end.

    The line carries the request id (parley_core.requestid), the method, the route
    template (never the raw path or query: ids and, on /v1/stream, tokens), the status (or
    the WebSocket close code), the duration in nanoseconds (ECS `event.duration`), and,
    through `parley_core.logging`, the service, the tenant and user id bound by the
    request's code, and the trace and span ids.
    Runs after routing, so the route template is known.
    """

    scopes = (ScopeType.HTTP, ScopeType.WEBSOCKET)

    def __init__(self, service: str) -> None:
        self._service = service
        self.should_bypass_for_scope = _unscraped

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        websocket = scope["type"] == ScopeType.WEBSOCKET
        method = "WEBSOCKET" if websocket else str(scope.get("method", "?"))
        route = str(scope.get("path_template") or "?")
        request_id = requestid.of(scope)
        span = trace.get_current_span()
        if span.is_recording():
            span.update_name(f"{method} {route}")
            span.set_attribute("http.route", route)
            span.set_attribute("http.request.id", request_id)
        outcome: dict[str, int] = {}

        async def watch(message: Message) -> None:
            event = cast("dict[str, Any]", message)
            if event["type"] == "http.response.start":
                outcome["status"] = int(event["status"])
            elif event["type"] == "websocket.close":
                outcome.setdefault("close", int(event.get("code", 1000)))
            await send(message)

        async def watch_receive() -> Any:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                outcome.setdefault("close", message.get("code", 1005))
            return message

        started = time.perf_counter_ns()
        fields = {"service.name": self._service, "http.request.id": request_id}
        with parley_logging.request_scope(**fields):
            try:
                await next_app(scope, watch_receive if websocket else receive, watch)
            except BaseException:
                outcome.setdefault("status", 500)
                raise
            finally:
                self._log(method, route, outcome, time.perf_counter_ns() - started, websocket)

    @staticmethod
    def _log(
        method: str, route: str, outcome: dict[str, int], duration_ns: int, websocket: bool
    ) -> None:
        fields: dict[str, Any] = {
            "http.request.method": method,
            "url.path_template": route,
            "event.duration": duration_ns,
        }
        if websocket:
            code = outcome.get("close", 1006)
            fields["websocket.close.code"] = code
            access_logger.info(f"{method} {route} closed {code}", extra=fields)
            return
        status = outcome.get("status", 500)
        fields["http.response.status_code"] = status
        level = logging.WARNING if status >= 500 else logging.INFO
        access_logger.log(level, f"{method} {route} {status}", extra=fields)
