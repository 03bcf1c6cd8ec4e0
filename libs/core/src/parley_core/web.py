"""Litestar glue every service uses: the error shape, the request id, the caller's identity,
the admin guard and CORS.

Errors are RFC 9457 problem details (`application/problem+json`): `type`, `title`,
`status` and `detail`, plus the members docs/api.md promised before problem details
(`status_code`, and `errors` on a 422) as extension members, so older clients keep
reading them.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, TypedDict

from litestar import Request, Response
from litestar.config.cors import CORSConfig
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_422_UNPROCESSABLE_ENTITY, HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap
from sqlalchemy import exc as sa_exc

from parley_core import logging as parley_logging
from parley_core import requestid, serverkeys, tokens
from parley_core.errors import ApiError, DependencyUnavailable, InvalidField, Unauthorized

logger = logging.getLogger(__name__)

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="parley"'}


class JsonRequest(Request[Any, Any, Any]):
    """A request whose undecodable JSON body is a 400 however msgspec refuses it.

    Litestar maps only msgspec's DecodeError to 400; msgspec raises UnicodeDecodeError for
    invalid UTF-8 inside a string and RecursionError for deep nesting, which were 500s.
    """

    async def json(self) -> Any:
        try:
            return await super().json()
        except UnicodeDecodeError:
            raise SerializationException("JSON is malformed: invalid UTF-8") from None
        except RecursionError:
            raise SerializationException("JSON is malformed: nested too deeply") from None


class FieldError(TypedDict):
    """One offending value of a 422: where it was (`body`, `query`, `path`) and what is wrong."""

    field: str | None
    source: str | None
    message: str


class _Error(TypedDict):
    type: str
    title: str
    status: int
    status_code: int
    detail: str


class ErrorBody(_Error, total=False):
    """docs/api.md's error shape, as `error_response` writes it: an RFC 9457 problem with
    the extension members `status_code` (equal to `status`) and, on a 422, `errors`.
    (`total=False` rather than `NotRequired`, which postponed annotations hide from
    TypedDict on Python 3.11.)"""

    errors: list[FieldError]


PROBLEM_JSON = "application/problem+json"
"""RFC 9457's media type for an error body."""
PROBLEM_TYPE = "about:blank"
"""RFC 9457 section 4.2.1: no type of our own; the status code says what happened, and
the title is then its HTTP reason phrase."""


_ERROR_DESCRIPTIONS = {
    400: "The body is not JSON, or a parameter is malformed.",
    401: "Missing, invalid or expired credentials.",
    403: "Not allowed (for a write: the tenant is suspended).",
    404: "Not found, or not visible to the caller.",
    409: "Conflicts with the current state.",
    410: "What the request names is no longer kept (a feed cursor past retention).",
    413: "The request body is too large.",
    422: "A value breaks the contract's rules; `errors` names it.",
    429: "Too many requests; retry after `Retry-After` seconds.",
    503: "A dependency (database, Redis or auth) did not answer; retry after `Retry-After`.",
}


def errors(*status_codes: int) -> dict[int, ResponseSpec]:
    """A route's `responses=` for the error codes it answers with (docs/api.md), so the
    OpenAPI document lists them with their body: `@get("/", responses=web.errors(401, 404))`."""
    return {
        code: ResponseSpec(
            data_container=ErrorBody,
            description=_ERROR_DESCRIPTIONS[code],
            generate_examples=False,
            media_type=PROBLEM_JSON,
        )
        for code in status_codes
    }


def also(body: type[Any], description: str) -> ResponseSpec:
    """A second success a route answers with besides its `status_code` (docs/api.md: a
    PUT's 201 or 200, a repeated create's 200), for its `responses=`."""
    return ResponseSpec(data_container=body, description=description, generate_examples=False)


def error_response(
    status_code: int, detail: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> Response[dict[str, Any]]:
    """docs/api.md: an error is a problem details object with at least `status_code` and
    `detail`."""
    return Response(
        content={
            "type": PROBLEM_TYPE,
            "title": _title(status_code),
            "status": status_code,
            "status_code": status_code,
            "detail": detail,
            **extra,
        },
        status_code=status_code,
        headers=dict(headers or {}),
        media_type=PROBLEM_JSON,
    )


def _title(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "Error"


def _api_error(_: Request[Any, Any, Any], exc: ApiError) -> Response[dict[str, Any]]:
    if isinstance(exc, InvalidField):
        # The same shape as a schema violation, so clients read one format (docs/api.md).
        error = {"field": exc.field, "source": exc.source, "message": exc.message}
        return error_response(exc.status_code, exc.detail, exc.headers, errors=[error])
    return error_response(exc.status_code, exc.detail, exc.headers)


def _validation_error(
    _: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    # Litestar raises one exception for undecodable bytes (no field) and for a body or
    # query that decodes but breaks the schema (fields listed in `extra`). docs/api.md
    # wants 422 and the offending field for the second; the first stays a plain 400.
    problems = exc.extra if isinstance(exc.extra, list) else []
    errors = [
        {"field": _field(p), "source": p.get("source"), "message": _message(p)}
        for p in problems
        if isinstance(p, dict)
    ]
    if not errors:
        return error_response(exc.status_code, exc.detail)
    detail = "; ".join(f"{error['field']}: {error['message']}" for error in errors)
    return error_response(HTTP_422_UNPROCESSABLE_ENTITY, detail, errors=errors)


_MISSING_FIELD = re.compile(r"missing required field `([^`]+)`")


def _field(problem: dict[str, Any]) -> Any:
    # A missing body field is reported against the whole body ("data"); msgspec's
    # message names the field itself.
    missing = _MISSING_FIELD.search(str(problem.get("message", "")))
    return missing.group(1) if missing else problem.get("key")


def _message(problem: dict[str, Any]) -> Any:
    # Litestar reports an absent body or parameter as the KeyError of its name ("'data'").
    if problem.get("message") == repr(problem.get("key")):
        return "a JSON body is required" if problem.get("source") == "body" else "required"
    return problem.get("message")


def _http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    return error_response(exc.status_code, exc.detail, exc.headers)


def _database_unavailable(
    request: Request[Any, Any, Any], exc: sa_exc.SQLAlchemyError
) -> Response[dict[str, Any]]:
    # Refused connections, a full pool, a dropped link or a locked SQLite file: the
    # request may be retried, so it is a 503 that names the database, not a 500.
    logger.warning(
        "database unavailable",
        extra={
            "url.path_template": request.scope.get("path_template", "?"),
            "error.type": type(exc).__name__,
        },
    )
    return error_response(503, "database unavailable", {"Retry-After": "1"})


def _database_error(
    request: Request[Any, Any, Any], exc: sa_exc.DBAPIError
) -> Response[dict[str, Any]]:
    if exc.connection_invalidated:
        return _database_unavailable(request, exc)
    return _unexpected_error(request, exc)


def _unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # The route template, never the raw path: query strings may carry tokens.
    route = request.scope.get("path_template", "?")
    logger.error(
        "unhandled error",
        exc_info=exc,
        extra={"http.request.method": request.method, "url.path_template": route},
    )
    return error_response(HTTP_500_INTERNAL_SERVER_ERROR, "internal server error")


def exception_handlers() -> ExceptionHandlersMap:
    """Handlers for an app's `exception_handlers=`; domain errors subclass ApiError."""
    return {
        ApiError: _api_error,
        ValidationException: _validation_error,
        HTTPException: _http_error,
        sa_exc.OperationalError: _database_unavailable,
        sa_exc.InterfaceError: _database_unavailable,
        sa_exc.TimeoutError: _database_unavailable,
        sa_exc.DBAPIError: _database_error,
        Exception: _unexpected_error,
    }


def identity_provider(verifier: tokens.Verifier) -> Any:
    """A dependency that yields the caller's AccessClaims or answers 401."""

    async def provide_claims(request: Request[Any, Any, Any]) -> tokens.AccessClaims:
        return await claims_of(verifier, request.headers.get("authorization"))

    return provide_claims


async def claims_of(verifier: tokens.Verifier, authorization: str | None) -> tokens.AccessClaims:
    """The verified claims of an `Authorization: Bearer` value, or the 401 (or 503) REST
    answers; the gRPC edge calls it with the `authorization` metadata (parley_core.rpc)."""
    token = tokens.bearer_token(authorization)
    if token is None:
        raise Unauthorized("missing bearer token", headers=_CHALLENGE)
    try:
        claims = await verifier.verify(token)
    except tokens.JwksUnavailable:
        # The token names a key this process has never fetched and auth is down.
        raise DependencyUnavailable("auth") from None
    except tokens.InvalidToken:
        raise Unauthorized(
            "invalid or expired access token",
            headers={"WWW-Authenticate": 'Bearer realm="parley", error="invalid_token"'},
        ) from None
    parley_logging.bind(tenant=claims.tenant, user_id=claims.user_id)
    return claims


_KEY_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="parley-tenant", error="invalid_token"'}


def server_key_provider(resolve: serverkeys.Resolver) -> Any:
    """A dependency yielding the calling server key's identity, or 401 (docs/api.md "Tenant
    backends"). A user's access token is refused here, as a server key is refused by
    `identity_provider` (it is no JWT)."""
    return introspecting_server_key_provider(lambda key: resolve(serverkeys.digest(key)))


def introspecting_server_key_provider(resolve_key: serverkeys.KeyResolver) -> Any:
    """`server_key_provider` for a service that does not keep the keys and hands the key
    itself to the one that does (chat asks auth's introspection)."""

    async def provide_server_key(request: Request[Any, Any, Any]) -> serverkeys.ServerKeyIdentity:
        return await server_key_of(resolve_key, request.headers.get("authorization"))

    return provide_server_key


async def server_key_of(
    resolve_key: serverkeys.KeyResolver, authorization: str | None
) -> serverkeys.ServerKeyIdentity:
    """The identity of an `Authorization: Bearer psk_...` value, or the 401 REST answers
    (a user's access token included); the gRPC edge calls it with the metadata."""
    key = tokens.bearer_token(authorization)
    if key is None:
        raise Unauthorized("missing server key", headers=_KEY_CHALLENGE)
    if not serverkeys.well_formed(key):
        raise Unauthorized("a server key (psk_...) is required", headers=_KEY_CHALLENGE)
    identity = await resolve_key(key)
    if identity is None:
        raise Unauthorized("unknown or revoked server key", headers=_KEY_CHALLENGE)
    parley_logging.bind(tenant=identity.tenant)
    return identity


def admin_guard(admin_token: str | None) -> Any:
    """Guard for `/internal/` routes (docs/api.md "Internal API"): 401 without the token."""
    expected = admin_token.encode() if admin_token else None

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        presented = tokens.bearer_token(connection.headers.get("authorization"))
        if (
            expected is None
            or presented is None
            or not hmac.compare_digest(presented.encode(), expected)
        ):
            raise Unauthorized("admin token required", headers=_CHALLENGE)

    return guard


def cors_config(origins: list[str]) -> CORSConfig | None:
    """CORS for `PARLEY_CORS_ORIGINS`; none when it is empty."""
    if not origins:
        return None
    return CORSConfig(
        allow_origins=origins,
        allow_headers=["Authorization", "Content-Type", requestid.HEADER],
        # Browsers hide every other response header from scripts unless listed here.
        expose_headers=["Retry-After", requestid.HEADER],
        allow_credentials=False,
        max_age=600,
    )
