"""Traces of the gRPC API (docs/grpc.md "Observability"): each call is a server span named
after its method that continues the caller's `traceparent` metadata, and the database
work it does is inside it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from parley_auth import app as auth_app
from parley_chat import app as chat_app
from parley_core import telemetry
from parley_proto.chat.v1 import chat_pb2, chat_pb2_grpc
from support import auth, chat
from support.servers import ServedApp
from support.stream import token_of

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@dataclass
class Traced:
    api: chat.ChatApi
    exporter: InMemorySpanExporter
    chat_grpc: str


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traced]:
    work = tmp_path_factory.mktemp("traced")
    database_url = chat.migrated(auth.migrated(f"sqlite+aiosqlite:///{work}/parley.db"))
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource({"service.name": "parley-chat"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with ServedApp(auth_app.create_app(auth.settings(work / "auth", database_url))) as auth_server:
        settings = chat.settings(work / "chat", database_url, auth_server.url, grpc_port=0)
        app = chat_app.create_app(settings, tracing=telemetry.Tracing(provider))
        with ServedApp(app) as chat_server, auth.AuthApi(auth_server.url) as accounts:
            api = chat.ChatApi(chat_server.url, accounts)
            try:
                yield Traced(api, exporter, f"127.0.0.1:{app.state.grpc_port}")
            finally:
                api.close()


def _server_span(traced: Traced, name: str, timeout: float = 5) -> ReadableSpan:
    deadline = time.monotonic() + timeout
    while True:
        for span in traced.exporter.get_finished_spans():
            if span.name == name and span.kind is SpanKind.SERVER:
                return span
        assert time.monotonic() < deadline, "no server span for the call"
        time.sleep(0.05)


def test_a_grpc_call_is_a_server_span_in_the_callers_trace_around_its_database_work(
    traced: Traced,
) -> None:
    alice, bob = traced.api.users(2)
    chat_id = traced.api.group(alice, bob)["id"]
    traced.exporter.clear()
    metadata = (
        ("authorization", f"Bearer {token_of(alice)}"),
        ("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01"),
    )
    with grpc.insecure_channel(traced.chat_grpc) as channel:
        chat_pb2_grpc.ChatServiceStub(channel).SendMessage(
            chat_pb2.SendMessageRequest(chat_id=chat_id, body="traced"),
            metadata=metadata,
            timeout=30,
        )
    span = _server_span(traced, "parley.chat.v1.ChatService/SendMessage")
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == PARENT_ID
    assert span.attributes is not None
    assert span.attributes["rpc.system"] == "grpc"
    assert span.attributes["rpc.method"] == "SendMessage"
    inside = [
        child
        for child in traced.exporter.get_finished_spans()
        if child.parent is not None and child.parent.span_id == span.context.span_id
    ]
    assert inside, "the call's database work is not inside its span"
