"""The gRPC edge every service shares (docs/grpc.md): the server beside uvicorn, the
caller's identity, the error mapping, metrics and traces.

A service's servicer is an edge like its REST controllers: it decodes a request into the
same msgspec body the REST route takes (`decode`, so the same rules refuse the same input
naming the same field), calls the same domain operation, and encodes the same output
struct into the response (`encode`). The domain's `ApiError`s become gRPC statuses here,
with `google.rpc` details (BadRequest naming the field, RetryInfo, ErrorInfo naming an
unavailable dependency), so REST and gRPC cannot disagree on what an operation does.

One wrapper around each Parley method (`_Edge`) authenticates the `authorization`
metadata with the REST code (`web.claims_of`), counts parley_grpc_requests_total and
parley_grpc_request_duration_seconds, opens a server span continuing the caller's W3C
trace context, and maps what the method raised. opentelemetry-instrumentation-grpc is not
used: its aio server interceptor is the whole of what this wrapper does for tracing, and
it would be one more pinned instrumentation beside the ones in parley_core.telemetry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
import msgspec
from google.protobuf import duration_pb2, json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from grpc_status import rpc_status
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import Counter, Histogram
from sqlalchemy import exc as sa_exc

from parley_core import serverkeys, tokens, web
from parley_core.errors import ApiError, DependencyUnavailable, InvalidField, TooManyRequests

logger = logging.getLogger(__name__)

REQUESTS = Counter(
    "parley_grpc_requests_total",
    "gRPC calls to Parley's services by method (/package.Service/Method) and status code "
    "(OK, NOT_FOUND, ...), counted when the call ends; a Subscribe stream counts once.",
    ["method", "code"],
)
DURATION = Histogram(
    "parley_grpc_request_duration_seconds",
    "How long unary gRPC calls took by method, from the first byte to the status.",
    ["method"],
)

Body = TypeVar("Body")
Reply = TypeVar("Reply", bound=Message)

_CLAIMS: ContextVar[tokens.AccessClaims] = ContextVar("parley_rpc_claims")
_SERVER_KEY: ContextVar[serverkeys.ServerKeyIdentity] = ContextVar("parley_rpc_server_key")


def claims() -> tokens.AccessClaims:
    """The verified caller of the current call (the edge set it before the method ran)."""
    return _CLAIMS.get()


def server_key() -> serverkeys.ServerKeyIdentity:
    """The calling server key of a tenant backend's call (a `server_keys` registration)."""
    return _SERVER_KEY.get()


# -- servers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    """One servicer to serve: its full service name, how to add it to a server, and which
    of its methods take no access token (auth's Register, Login, Refresh, Logout)."""

    service: str
    add: Callable[[grpc.aio.Server], None]
    public: frozenset[str] = frozenset()
    """Method names (`Login`), not paths."""
    stopping: Callable[[], None] | None = None
    """Called when the server begins to stop: end the open streams with UNAVAILABLE, so
    that clients resume on another replica (docs/grpc.md "Subscribe")."""
    verifier: tokens.Verifier | None = None
    """Verifies the access tokens of its calls: the service's REST verifier, set by
    `parley_core.service.service_app`."""
    server_keys: serverkeys.KeyResolver | None = None
    """Set for a tenant backend's service: its calls take a server key instead of an access
    token, resolved as the REST routes resolve it (`web.server_key_of`; the identity is
    `server_key()`), and an access token is refused with UNAUTHENTICATED."""
    ready: Callable[[], Awaitable[bool]] | None = None
    """Whether its dependencies answer, as `GET /readyz` says: the health service's status
    for the service's name follows it (`service_app` sets it)."""


SERVER_OPTIONS = [
    # A Subscribe sends nothing after its request: HTTP/2 pings find a peer that vanished
    # (a laptop closed, a NAT that forgot the flow) within a minute and a half, not the
    # two hours of grpcio's default, and end its stream (docs/grpc.md "Subscribe").
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", 1),
    # Clients may ping as often as every 10 s without being told to go away.
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
    # PARLEY_WORKERS processes share the port, as uvicorn's workers share the HTTP one.
    ("grpc.so_reuseport", 1),
]


@dataclass
class Served:
    """A running gRPC server: the port it is bound to (a free one when 0 was asked)."""

    port: int
    server: grpc.aio.Server = field(repr=False)


@asynccontextmanager
async def serving(
    registrations: Sequence[Registration],
    *,
    host: str,
    port: int,
    tracer: trace.Tracer | None = None,
    grace_seconds: float = 5.0,
    readiness_seconds: float = 5.0,
) -> AsyncIterator[Served]:
    """Serve `registrations` on `host:port` with server reflection and the standard health
    service, until exit. Health: `""` is SERVING while the process serves (liveness); each
    service's name is SERVING while its dependencies answer, checked every
    `readiness_seconds` (readiness, as `GET /readyz`); all are NOT_SERVING while stopping."""
    unverified = [r.service for r in registrations if r.verifier is None]
    if unverified:
        # Without one every method would be public: refuse to start instead.
        raise ValueError(f"no token verifier for {', '.join(unverified)}")
    edge = _Edge(registrations, tracer)
    server = grpc.aio.server(interceptors=[edge], options=SERVER_OPTIONS)
    for registration in registrations:
        registration.add(server)
    checks = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checks, server)
    names = [registration.service for registration in registrations]
    reflection.enable_server_reflection(
        [*names, health.SERVICE_NAME, reflection.SERVICE_NAME],
        server,
    )
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    await checks.set("", health_pb2.HealthCheckResponse.SERVING)
    await _check_readiness(checks, registrations)
    watching = asyncio.get_running_loop().create_task(
        _watch_readiness(checks, registrations, readiness_seconds)
    )
    logger.info("grpc serving", extra={"port": bound})
    try:
        yield Served(bound, server)
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
        for name in ["", *names]:
            await checks.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        for registration in registrations:
            if registration.stopping is not None:
                registration.stopping()
        await server.stop(grace_seconds)


async def _check_readiness(
    checks: health.aio.HealthServicer, registrations: Sequence[Registration]
) -> None:
    for registration in registrations:
        ready = registration.ready is None or await registration.ready()
        serving = health_pb2.HealthCheckResponse.SERVING
        await checks.set(
            registration.service,
            serving if ready else health_pb2.HealthCheckResponse.NOT_SERVING,
        )


async def _watch_readiness(
    checks: health.aio.HealthServicer, registrations: Sequence[Registration], every: float
) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await _check_readiness(checks, registrations)
        except Exception:
            logger.exception("grpc readiness check failed")


# -- requests and responses ----------------------------------------------------------------


def decode(request: Message, into: type[Body]) -> Body:
    """`request` as the msgspec body REST decodes, refused by the same rules: a violation
    raises InvalidField naming the field (INVALID_ARGUMENT with a BadRequest detail)."""
    # A proto3 field without presence always has a value (an empty list of members is
    # one); only `optional` fields left unset are left out, as omitted JSON fields are.
    data = json_format.MessageToDict(
        request, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    _int64s(request, data)
    try:
        return msgspec.convert(data, into)
    except msgspec.ValidationError as exc:
        fields = (
            {field.name for field in msgspec.structs.fields(into)}
            if isinstance(into, type) and issubclass(into, msgspec.Struct)
            else set()
        )
        name, message = field_of(str(exc), fields)
        raise InvalidField(name, message) from None


_INT64 = frozenset(
    {
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED64,
    }
)


def _int64s(message: Message, data: dict[str, Any]) -> None:
    """The proto3 JSON mapping writes 64-bit integers as strings: numbers again, as the
    REST body has them (an attachment's `size`)."""
    for described in message.DESCRIPTOR.fields:
        value = data.get(described.name)
        if value is None or described.is_repeated:
            continue
        if described.type in _INT64:
            data[described.name] = int(value)
        elif described.message_type is not None and isinstance(value, dict):
            # A message, not a well-known type's text (a Timestamp).
            _int64s(getattr(message, described.name), value)


_PATH = re.compile(r"^(.*) - at `\$\.?(.*)`$")
_MISSING = re.compile(r"missing required field `([^`]+)`")


def field_of(message: str, fields: Collection[str] = ()) -> tuple[str, str]:
    """The field a msgspec validation message names, and what it says of it; `fields` are
    the body's, which a rule of its own (`__post_init__`) starts its message with."""
    if found := _PATH.match(message):
        return found.group(2) or "request", found.group(1)
    if found := _MISSING.search(message):
        return found.group(1), "required"
    first = message.split(" ", 1)[0]
    return (first, message) if first in fields else ("request", message)


def encode(value: Any, into: Reply) -> Reply:
    """`into` filled from `value`, a REST output (msgspec struct or builtins) whose field
    names are the proto's (docs/grpc.md); null fields stay unset."""
    json_format.ParseDict(msgspec.to_builtins(value), into, ignore_unknown_fields=True)
    return into


def optional(request: Message, name: str) -> Any:
    """A proto3 `optional` field's value, None when unset."""
    return getattr(request, name) if request.HasField(name) else None


def in_range(name: str, value: int | None, low: int, high: int) -> int | None:
    """An optional number of a request, refused out of range as REST refuses its query."""
    if value is not None and not low <= value <= high:
        raise InvalidField(name, f"must be from {low} to {high}")
    return value


# -- errors --------------------------------------------------------------------------------

_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.ALREADY_EXISTS,
    410: grpc.StatusCode.OUT_OF_RANGE,
    413: grpc.StatusCode.INVALID_ARGUMENT,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
}
"""docs/grpc.md "Errors": each REST status of docs/api.md and the gRPC code it is."""

DOMAIN = "parley.dev"
"""ErrorInfo.domain of every Parley error."""

MAX_DETAIL_CHARS = 300
"""Status messages and field descriptions travel in trailers, which clients cap (grpcio at
8 KiB, all metadata together): a refusal that quotes a long input is cut short."""


def _clip(text: str) -> str:
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 1] + "…"


def code_of(exc: ApiError) -> grpc.StatusCode:
    return _CODES.get(exc.status_code, grpc.StatusCode.FAILED_PRECONDITION)


def status_of(exc: ApiError) -> grpc.Status:
    """The gRPC status of a domain refusal, with its `google.rpc` details: ErrorInfo
    (reason: the refusal's name, e.g. CHAT_NOT_FOUND), BadRequest naming an invalid field,
    RetryInfo after a rate limit or an unavailable dependency (named in ErrorInfo)."""
    code = code_of(exc)
    reason = re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).upper()
    info = error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN)
    details: list[Message] = []
    # An invalid field, or a too large one (413, e.g. an attachment's `size`).
    named = exc.field if isinstance(exc, InvalidField) else getattr(exc, "field", None)
    if isinstance(named, str):
        description = exc.message if isinstance(exc, InvalidField) else exc.detail
        details.append(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=_clip(named), description=_clip(description)
                    )
                ]
            )
        )
    if isinstance(exc, DependencyUnavailable):
        info.metadata["dependency"] = exc.dependency
    retry_after = exc.retry_after if isinstance(exc, TooManyRequests) else None
    if isinstance(exc, DependencyUnavailable):
        retry_after = 1
    if retry_after is not None:
        details.append(
            error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=retry_after))
        )
    details.insert(0, info)
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=_clip(exc.detail))
    for detail in details:
        status.details.add().Pack(detail)
    return rpc_status.to_status(status)


def _status_of_any(exc: Exception) -> tuple[grpc.Status, bool]:
    """What the edge answers for an exception, and whether it is a bug (logged)."""
    if isinstance(exc, ApiError):
        return status_of(exc), False
    if isinstance(exc, sa_exc.SQLAlchemyError):
        # As REST: refused connections, a full pool or a locked SQLite file may be retried.
        logger.warning("database unavailable", extra={"error.type": type(exc).__name__})
        return status_of(DependencyUnavailable("database")), False
    status = status_pb2.Status(code=code_pb2.INTERNAL, message="internal error")
    return rpc_status.to_status(status), True


# -- the edge ------------------------------------------------------------------------------

_PROPAGATOR = TraceContextTextMapPropagator()

_Admission = tokens.Verifier | serverkeys.KeyResolver | None
"""How a method admits its caller: an access token, a server key, or not at all."""


class _Edge(grpc.aio.ServerInterceptor):
    """Wraps each method of a registered Parley service; health and reflection pass."""

    def __init__(self, registrations: Sequence[Registration], tracer: trace.Tracer | None) -> None:
        self._verifiers = {
            f"/{registration.service}/": registration.verifier for registration in registrations
        }
        self._server_keys = {
            f"/{registration.service}/": registration.server_keys
            for registration in registrations
            if registration.server_keys is not None
        }
        self._public = {
            f"/{registration.service}/{method}"
            for registration in registrations
            for method in registration.public
        }
        self._tracer = tracer

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        prefix = method[: method.rfind("/") + 1]
        if handler is None or prefix not in self._verifiers:
            return handler
        verifier: _Admission = self._verifiers[prefix] if method not in self._public else None
        if prefix in self._server_keys:
            verifier = self._server_keys[prefix]
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(method, handler.unary_unary, verifier),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(method, handler.unary_stream, verifier),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    @staticmethod
    async def _admit(context: grpc.aio.ServicerContext[Any, Any], verifier: _Admission) -> None:
        """Verify the caller's token, or server key, as REST does; a public method (verifier
        None) has none."""
        if verifier is None:
            return
        metadata = dict(context.invocation_metadata() or ())
        value = metadata.get("authorization")
        authorization = value if isinstance(value, str) else None
        if isinstance(verifier, tokens.Verifier):
            _CLAIMS.set(await web.claims_of(verifier, authorization))
        else:
            _SERVER_KEY.set(await web.server_key_of(verifier, authorization))

    def _start_span(
        self, method: str, context: grpc.aio.ServicerContext[Any, Any]
    ) -> trace.Span | None:
        if self._tracer is None:
            return None
        carrier = {
            key: value
            for key, value in context.invocation_metadata() or ()
            if isinstance(value, str)
        }
        service, _, name = method.strip("/").partition("/")
        return self._tracer.start_span(
            method.strip("/"),
            context=_PROPAGATOR.extract(carrier),
            kind=trace.SpanKind.SERVER,
            attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name},
        )

    def _span(self, method: str, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        """The call's span, current while a unary call runs (its database and Redis spans
        are its children)."""
        span = self._start_span(method, context)
        if span is None:
            return contextlib.nullcontext(trace.INVALID_SPAN)
        return trace.use_span(span, end_on_exit=True)

    def _unary(self, method: str, inner: Any, verifier: _Admission) -> Any:
        async def unary(request: Message, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            with self._span(method, context) as span:
                try:
                    await self._admit(context, verifier)
                    return await inner(request, context)
                except asyncio.CancelledError:
                    code = grpc.StatusCode.CANCELLED
                    raise
                except grpc.aio.AbortError:
                    code = context.code() or grpc.StatusCode.UNKNOWN
                    raise
                except Exception as exc:
                    status, bug = _status_of_any(exc)
                    if bug:
                        logger.exception("grpc call failed", extra={"rpc.method": method})
                    code = status.code
                    span.set_attribute("rpc.grpc.status_code", code.value[0])
                    await context.abort_with_status(status)
                finally:
                    REQUESTS.labels(method=method, code=code.name).inc()
                    DURATION.labels(method=method).observe(time.perf_counter() - started)

        return unary

    def _stream(self, method: str, inner: Any, verifier: _Admission) -> Any:
        async def stream(
            request: Message, context: grpc.aio.ServicerContext[Any, Any]
        ) -> AsyncIterator[Any]:
            code = grpc.StatusCode.OK
            # Not made current: a stream's generator is closed from another context when
            # the client goes, where a current span could not be detached.
            span = self._start_span(method, context)
            try:
                await self._admit(context, verifier)
                async for reply in inner(request, context):
                    yield reply
            except (asyncio.CancelledError, GeneratorExit):
                code = grpc.StatusCode.CANCELLED
                raise
            except grpc.aio.AbortError:
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            except Exception as exc:
                status, bug = _status_of_any(exc)
                if bug:
                    logger.exception("grpc stream failed", extra={"rpc.method": method})
                code = status.code
                await context.abort_with_status(status)
            finally:
                REQUESTS.labels(method=method, code=code.name).inc()
                if span is not None:
                    span.set_attribute("rpc.grpc.status_code", code.value[0])
                    span.end()

        return stream
