"""Traces: configured only by OTEL_* variables, and, when on, one POST of a message is one
trace through chat, auth and both databases, whose delivery over the stream links back to it.

Auth and chat run as real servers in this process, each with a tracer provider of its own
(its own `service.name`) reporting to the SDK's in-memory exporter, on SQLite and the
test Redis: the same instrumentation `parley-* serve` installs from the environment.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from opentelemetry.util.types import AttributeValue

from parley_auth import app as auth_app
from parley_chat import app as chat_app
from parley_core import telemetry
from support import auth, chat, services
from support.servers import ServedApp
from support.stream import StreamClient, token_of


@dataclass
class Traced:
    api: chat.ChatApi
    exporter: InMemorySpanExporter
    auth_url: str
    chat_url: str

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())


def _tracing(service: str, exporter: InMemorySpanExporter) -> telemetry.Tracing:
    provider = TracerProvider(resource=Resource({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return telemetry.Tracing(provider)


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traced]:
    redis_url = services.redis_url()
    work = tmp_path_factory.mktemp("traced")
    database_url = chat.migrated(auth.migrated(f"sqlite+aiosqlite:///{work}/parley.db"))
    exporter = InMemorySpanExporter()
    redis = {"redis": {"url": redis_url, "prefix": services.redis_prefix()}}
    auth_settings = auth.settings(work / "auth", database_url, **redis)
    with ServedApp(
        auth_app.create_app(auth_settings, tracing=_tracing("parley-auth", exporter))
    ) as auth_server:
        chat_settings = chat.settings(work / "chat", database_url, auth_server.url, **redis)
        chat_tracing = _tracing("parley-chat", exporter)
        with (
            ServedApp(chat_app.create_app(chat_settings, tracing=chat_tracing)) as chat_server,
            auth.AuthApi(auth_server.url) as accounts,
        ):
            api = chat.ChatApi(chat_server.url, accounts)
            try:
                yield Traced(api, exporter, auth_server.url, chat_server.url)
            finally:
                api.close()


def _service(span: ReadableSpan) -> AttributeValue:
    return span.resource.attributes["service.name"]


def _wait_for(
    traced: Traced, found: Callable[[list[ReadableSpan]], bool], timeout: float = 5
) -> list[ReadableSpan]:
    """The finished spans, once `found(spans)` holds (server spans end after the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        spans = traced.spans()
        if found(spans) or time.monotonic() > deadline:
            return spans
        time.sleep(0.05)


def test_one_post_is_one_trace_through_chat_auth_and_the_database_and_its_delivery_links_to_it(
    traced: Traced,
) -> None:
    api = traced.api
    alice, bob = api.users(2)
    room = api.group(alice, bob)["id"]
    with StreamClient(api.url, token_of(bob)) as stream:
        traced.exporter.clear()
        api.send(alice, room, "traced")
        stream.messages(1)

    def complete(spans: list[ReadableSpan]) -> bool:
        names = {span.name for span in spans}
        return {"POST /v1/chats/{chat_id}/messages", "WEBSOCKET /v1/stream"} <= names

    spans = _wait_for(traced, complete)
    (post,) = [s for s in spans if s.name == "POST /v1/chats/{chat_id}/messages"]
    assert post.kind == SpanKind.SERVER
    assert _service(post) == "parley-chat"
    assert post.attributes is not None
    assert post.attributes["http.route"] == "/v1/chats/{chat_id}/messages"
    trace_id = post.context.trace_id
    in_trace = [span for span in spans if span.context.trace_id == trace_id]

    # Chat asked auth for the tenant's limits: auth's server span is in the same trace.
    auth_side = [s for s in in_trace if _service(s) == "parley-auth" and s.kind == SpanKind.SERVER]
    assert [s.name for s in auth_side] == ["GET /internal/v1/tenants/{slug}"]
    # Both services' database statements, and chat's broker publish, are in it too.
    statements = {
        (_service(s), str(s.attributes.get("db.system")))
        for s in in_trace
        if s.kind == SpanKind.CLIENT and s.attributes and "db.statement" in s.attributes
    }
    assert ("parley-chat", "sqlite") in statements
    assert ("parley-auth", "sqlite") in statements
    assert ("parley-chat", "redis") in statements
    (publish,) = [s for s in in_trace if s.kind == SpanKind.PRODUCER]
    assert publish.name == "publish message"
    # Every span of the trace hangs off the POST: one tree, no orphans.
    ids = {span.context.span_id for span in in_trace}
    roots = [s for s in in_trace if s.parent is None or s.parent.span_id not in ids]
    assert roots == [post]

    # The fan-out wrote the frame in a trace of its own (one span per event and process,
    # whatever the number of sockets), by a span that links to the publish.
    (deliver,) = [s for s in spans if s.name == "deliver message"]
    assert deliver.kind == SpanKind.CONSUMER
    assert deliver.context.trace_id != trace_id
    assert deliver.parent is None
    (link,) = deliver.links
    assert link.context.trace_id == trace_id
    assert link.context.span_id == publish.context.span_id
    assert deliver.attributes is not None
    assert "parley.stream.sockets_written" in deliver.attributes


def test_no_span_carries_a_password_a_token_or_a_message_body(traced: Traced) -> None:
    api = traced.api
    traced.exporter.clear()
    alice, bob = api.users(2)
    room = api.group(alice, bob)["id"]
    body = "a body that must stay out of every trace"
    with StreamClient(api.url, token_of(bob), via_query=True) as stream:
        api.send(alice, room, body)
        stream.messages(1)
    pair = api.accounts.login(alice.account)
    api.accounts.http.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    spans = _wait_for(traced, lambda spans: any(s.name == "WEBSOCKET /v1/stream" for s in spans))
    secrets = [
        auth.PASSWORD,
        auth.ADMIN_TOKEN,
        body,
        token_of(alice),
        token_of(bob),
        pair["access_token"],
        pair["refresh_token"],
    ]
    for span in spans:
        recorded = (
            f"{span.name} {dict(span.attributes or {})} {[e.attributes for e in span.events]}"
        )
        for secret in secrets:
            assert secret not in recorded, (span.name, secret[:12])
    (socket,) = [s for s in spans if s.name == "WEBSOCKET /v1/stream"]
    assert socket.attributes is not None
    assert "access_token=[redacted]" in str(socket.attributes["http.url"])


def test_probes_and_scrapes_make_no_spans(traced: Traced) -> None:
    traced.exporter.clear()
    for url in (traced.auth_url, traced.chat_url):
        for path in ("/healthz", "/readyz", "/metrics"):
            assert traced.api.http.get(f"{url}{path}").status_code == 200
    time.sleep(0.2)
    assert traced.spans() == []


def test_tracing_is_off_unless_a_standard_otel_variable_asks_for_it() -> None:
    assert telemetry.from_env("parley-chat", {}) is None
    assert telemetry.from_env("parley-chat", {"PARLEY_LOG_LEVEL": "INFO"}) is None
    disabled = {"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318"}
    assert telemetry.from_env("parley-chat", disabled) is None


def test_an_otlp_endpoint_turns_tracing_on_under_the_services_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    tracing = telemetry.from_env("parley-chat", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"})
    assert tracing is not None
    try:
        assert tracing.provider.resource.attributes["service.name"] == "parley-chat"
    finally:
        tracing.shutdown()


def test_otel_service_name_wins_over_the_default_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK reads the resource variables from the process environment itself.
    monkeypatch.setenv("OTEL_SERVICE_NAME", "chat-eu-west")
    tracing = telemetry.from_env("parley-chat", {"OTEL_TRACES_EXPORTER": "none"})
    assert tracing is not None
    try:
        assert tracing.provider.resource.attributes["service.name"] == "chat-eu-west"
    finally:
        tracing.shutdown()


def test_an_unsupported_exporter_or_protocol_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="zipkin"):
        telemetry.from_env("parley-chat", {"OTEL_TRACES_EXPORTER": "zipkin"})
    grpc = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    with pytest.raises(ValueError, match="http/protobuf"):
        telemetry.from_env("parley-chat", grpc)


def test_an_app_without_tracing_installs_no_tracing_middleware(tmp_path: Path) -> None:
    settings = chat.settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/chat.db", "http://x")
    app = chat_app.create_app(settings)
    assert "OpenTelemetryPlugin" not in {type(plugin).__name__ for plugin in app.plugins}


def test_the_server_span_carries_the_request_id_the_caller_sent(traced: Traced) -> None:
    alice = traced.api.users(1)[0]
    request_id = f"trace-{time.monotonic_ns()}"
    response = traced.api.http.get(
        "/v1/chats", headers={**alice.headers, "X-Request-Id": request_id}
    )
    assert response.headers["x-request-id"] == request_id

    def found(spans: list[ReadableSpan]) -> bool:
        return any(
            span.kind == SpanKind.SERVER
            and (span.attributes or {}).get("http.request.id") == request_id
            for span in spans
        )

    assert found(_wait_for(traced, found))
