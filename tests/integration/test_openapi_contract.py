"""Both services' served OpenAPI documents describe every route of docs/api.md with the
status codes the contract gives it, each error with the contract's error body.

Beyond the codes API.md's tables name: 401 on every authenticated and `/internal` route,
403 on chat's writes (a suspended tenant), 422 where a value can break a rule, 429 where a
limit counts (docs/architecture.md "Limits"), 413 where a body is read, and 503 wherever a
database, Redis or auth is asked. tests/integration/test_openapi_fuzz.py checks the other
way round: that nothing answers with a code its document leaves out.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

Contract = dict[tuple[str, str], set[int]]

AUTH: Contract = {
    ("POST", "/v1/auth/register"): {201, 403, 404, 409, 413, 422, 429, 503},
    ("POST", "/v1/auth/login"): {200, 401, 403, 413, 422, 429, 503},
    ("POST", "/v1/auth/refresh"): {200, 401, 413, 422, 503},
    ("POST", "/v1/auth/logout"): {204, 401, 413, 422, 503},
    ("GET", "/v1/auth/me"): {200, 401, 503},
    ("GET", "/v1/users"): {200, 401, 422, 503},
    ("GET", "/.well-known/jwks.json"): {200},
    ("PUT", "/internal/v1/tenants/{slug}"): {200, 201, 401, 413, 422, 503},
    ("GET", "/internal/v1/tenants/{slug}"): {200, 401, 404, 503},
    ("DELETE", "/internal/v1/tenants/{slug}"): {204, 401, 503},
    ("PUT", "/internal/v1/tenants/{slug}/users/{username}"): {200, 201, 401, 413, 422, 503},
}

CHAT: Contract = {
    ("POST", "/v1/chats"): {200, 201, 401, 403, 404, 413, 422, 429, 503},
    ("GET", "/v1/chats"): {200, 401, 422, 503},
    ("GET", "/v1/chats/{chat_id}"): {200, 401, 404, 503},
    ("POST", "/v1/chats/{chat_id}/members"): {201, 401, 403, 404, 409, 413, 422, 429, 503},
    ("DELETE", "/v1/chats/{chat_id}/members/{username}"): {204, 401, 403, 404, 503},
    ("POST", "/v1/chats/{chat_id}/messages"): {200, 201, 401, 403, 404, 413, 422, 429, 503},
    ("GET", "/v1/chats/{chat_id}/messages"): {200, 401, 404, 422, 503},
    ("PATCH", "/v1/chats/{chat_id}/messages/{seq}"): {200, 401, 403, 404, 413, 422, 429, 503},
    ("DELETE", "/v1/chats/{chat_id}/messages/{seq}"): {204, 401, 403, 404, 429, 503},
    ("POST", "/v1/chats/{chat_id}/read"): {204, 401, 403, 404, 413, 422, 429, 503},
    ("POST", "/v1/stream/ticket"): {201, 401, 403, 503},
    ("DELETE", "/internal/v1/tenants/{slug}"): {204, 401, 503},
}

# The query parameters the contract names, which a client generated from the document needs.
QUERIES = {
    ("GET", "/v1/users"): {"prefix", "limit"},
    ("GET", "/v1/chats"): {"limit", "cursor"},
    ("GET", "/v1/chats/{chat_id}/messages"): {"after_seq", "before_seq", "limit"},
}


def document(base_url: str) -> dict[str, Any]:
    response = httpx.get(f"{base_url}/schema/openapi.json", timeout=30)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def resolved(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def problems_with(doc: dict[str, Any], contract: Contract) -> list[str]:
    problems = []
    for (method, path), codes in contract.items():
        route = f"{method} {path}"
        operation = doc["paths"].get(path, {}).get(method.lower())
        if operation is None:
            problems.append(f"{route}: not in the document")
            continue
        documented = {int(code) for code in operation.get("responses", {})}
        if missing := codes - documented:
            problems.append(f"{route}: lists no {sorted(missing)}")
        for code in sorted(codes & documented - {200, 201, 204}):
            content = operation["responses"][str(code)].get("content", {})
            schema = resolved(doc, content.get("application/json", {}).get("schema", {}))
            if not {"status_code", "detail"} <= set(schema.get("required", [])):
                problems.append(f"{route}: {code} is not described as the error body")
        named = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        if missing_query := QUERIES.get((method, path), set()) - named:
            problems.append(f"{route}: lists no query parameter {sorted(missing_query)}")
    return problems


@pytest.mark.parametrize(
    ("service", "contract"), [("auth", AUTH), ("chat", CHAT)], ids=["auth", "chat"]
)
def test_the_openapi_document_describes_every_route_of_the_contract_with_its_codes(
    service: str, contract: Contract, auth_server: str, chat_server: str
) -> None:
    doc = document(auth_server if service == "auth" else chat_server)

    assert problems_with(doc, contract) == []


def test_an_error_body_with_field_errors_matches_its_documented_schema(
    chat_server: str,
) -> None:
    doc = document(chat_server)
    operation = doc["paths"]["/v1/chats/{chat_id}/messages"]["get"]
    schema = operation["responses"]["422"]["content"]["application/json"]["schema"]
    body = resolved(doc, schema)

    assert body["properties"]["errors"]["type"] == "array"
    assert "errors" not in body["required"]
    field = resolved(doc, body["properties"]["errors"]["items"])
    assert set(field["required"]) == {"field", "source", "message"}
