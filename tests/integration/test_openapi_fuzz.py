"""Both services fuzzed against their own OpenAPI documents with schemathesis, on SQLite
and PostgreSQL: every generated request, valid or not, is answered without a 5xx, with a
status code the document lists, and with a body its schema describes.

Requests carry a real user's token (the admin token on `/internal`), so the routes' own
logic runs instead of stopping at 401.

Each route lists its error codes with `parley_core.web.errors(...)`, so a status the
document does not name fails here. Schemathesis's pytest loader (`from_fixture`) does
not run under pytest 9, so each test walks the document's operations itself.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from schemathesis.core.result import Err
from schemathesis.specs.openapi import checks as openapi_checks

from support import auth, chat

CHECKS = [
    checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
]
FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


CHAT_PATHS = ("/v1/chats", "/v1/stream", "/internal/")


def documents(base_url: str, service: str) -> dict[str, Any]:
    """The service's routes: its internal document, and its public routes (auth's own
    document; chat's part of the merged one)."""
    public_path = "/v1/auth/openapi.json" if service == "auth" else "/v1/openapi.json"
    public = httpx.get(f"{base_url}{public_path}", timeout=30).json()
    internal = httpx.get(
        f"{base_url}/internal/openapi.json",
        headers={"Authorization": f"Bearer {auth.ADMIN_TOKEN}"},
        timeout=30,
    ).json()
    paths = {**public["paths"], **internal["paths"]}
    if service == "chat":
        paths = {path: item for path, item in paths.items() if path.startswith(CHAT_PATHS)}
    schemas = {**public["components"]["schemas"], **internal["components"]["schemas"]}
    return {**public, "paths": paths, "components": {"schemas": schemas}}


def fuzz(base_url: str, service: str, user: chat.User) -> None:
    schema = schemathesis.openapi.from_dict(documents(base_url, service))
    failures = []
    calls = 0
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            pytest.fail(f"chat's OpenAPI schema has an operation it cannot read: {result.err()}")
        operations.append(result.ok())
    for operation in operations:

        @FUZZ
        @given(case=operation.as_strategy())
        def answers_as_documented(case: Any) -> None:
            nonlocal calls
            calls += 1
            headers = headers_for(case.path, user)
            case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

        try:
            answers_as_documented()
        except (AssertionError, BaseExceptionGroup) as exc:  # schemathesis's failures
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
    assert operations, "the document lists no operation"
    assert calls >= len(operations), "an operation was never called"


def headers_for(path: str, user: chat.User) -> dict[str, str]:
    if path.startswith("/internal/"):
        return {"Authorization": f"Bearer {auth.ADMIN_TOKEN}"}
    return dict(user.headers)


def test_auth_answers_every_generated_request_as_its_document_says(
    auth_server: str, chats: chat.ChatApi
) -> None:
    fuzz(auth_server, "auth", chats.user())


def test_chat_answers_every_generated_request_as_its_document_says(
    chat_server: str, chats: chat.ChatApi
) -> None:
    fuzz(chat_server, "chat", chats.user())
