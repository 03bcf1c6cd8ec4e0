"""The served OpenAPI documents describe every route of docs/api.md with the status codes
the contract gives it, each error with the contract's error body (a problem details object).

Chat serves the public document of the whole API at `/v1/openapi.json`, auth's routes
merged in from `/v1/auth/openapi.json`; each service's `/internal` routes are in its own
document at `/internal/openapi.json`, behind the admin token, and never in the public one.

Beyond the codes API.md's tables name: 401 on every authenticated and `/internal` route,
403 on chat's writes (a suspended tenant), 422 where a value can break a rule, 429 where a
limit counts (docs/architecture.md "Limits"), 413 where a body is read, and 503 wherever a
database, Redis or auth is asked. tests/integration/test_openapi_fuzz.py checks the other
way round: that nothing answers with a code its document leaves out.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from support import auth

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
    ("GET", "/v1/tenant/events"): {200, 401, 410, 422, 503},
    ("DELETE", "/internal/v1/tenants/{slug}"): {204, 401, 503},
}

# The query parameters the contract names, which a client generated from the document needs.
QUERIES = {
    ("GET", "/v1/users"): {"prefix", "limit"},
    ("GET", "/v1/chats"): {"limit", "cursor"},
    ("GET", "/v1/chats/{chat_id}/messages"): {"after_seq", "before_seq", "limit"},
    ("GET", "/v1/tenant/events"): {"after", "limit", "wait"},
}


PUBLIC = {"auth": "/v1/auth/openapi.json", "chat": "/v1/openapi.json"}
INTERNAL = "/internal/openapi.json"


def fetched(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = httpx.get(url, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def internal_document(base_url: str) -> dict[str, Any]:
    admin = {"Authorization": f"Bearer {auth.ADMIN_TOKEN}"}
    return fetched(f"{base_url}{INTERNAL}", admin)


def document(base_url: str, service: str) -> dict[str, Any]:
    """The service's public and internal routes, as one document to check."""
    public = fetched(f"{base_url}{PUBLIC[service]}")
    internal = internal_document(base_url)
    schemas = {
        **public.get("components", {}).get("schemas", {}),
        **internal.get("components", {}).get("schemas", {}),
    }
    return {
        "paths": {**public["paths"], **internal["paths"]},
        "components": {"schemas": schemas},
    }


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
            schema = resolved(doc, content.get("application/problem+json", {}).get("schema", {}))
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
    doc = document(auth_server if service == "auth" else chat_server, service)

    assert problems_with(doc, contract) == []


def test_an_error_body_with_field_errors_matches_its_documented_schema(
    chat_server: str,
) -> None:
    doc = document(chat_server, "chat")
    operation = doc["paths"]["/v1/chats/{chat_id}/messages"]["get"]
    schema = operation["responses"]["422"]["content"]["application/problem+json"]["schema"]
    body = resolved(doc, schema)

    assert body["properties"]["errors"]["type"] == "array"
    assert "errors" not in body["required"]
    assert {"type", "title", "status", "status_code", "detail"} <= set(body["required"])
    field = resolved(doc, body["properties"]["errors"]["items"])
    assert set(field["required"]) == {"field", "source", "message"}


def test_the_public_document_has_every_public_route_of_both_services_and_no_internal_one(
    chat_server: str,
) -> None:
    doc = fetched(f"{chat_server}/v1/openapi.json")
    public = {
        (method, path) for method, path in {*AUTH, *CHAT} if not path.startswith("/internal/")
    }

    assert {(m, p) for m, p in public if p not in doc["paths"]} == set()
    assert [path for path in doc["paths"] if path.startswith("/internal")] == []
    assert doc["info"]["title"] == "Parley API"


@pytest.mark.parametrize("service", ["auth", "chat"])
def test_each_internal_document_has_that_service_internal_routes_only(
    service: str, auth_server: str, chat_server: str
) -> None:
    contract = AUTH if service == "auth" else CHAT
    doc = internal_document(auth_server if service == "auth" else chat_server)
    internal = {path for _, path in contract if path.startswith("/internal/")}

    assert internal - set(doc["paths"]) == set()
    assert [path for path in doc["paths"] if not path.startswith("/internal/")] == []


def test_the_internal_document_answers_401_without_the_admin_token(chat_server: str) -> None:
    response = httpx.get(f"{chat_server}{INTERNAL}", timeout=30)

    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_the_reference_page_renders_every_route_and_loads_nothing_from_elsewhere(
    chat_server: str,
) -> None:
    response = httpx.get(f"{chat_server}/v1/docs", timeout=30)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "/v1/auth/login" in page
    assert "/v1/chats/{chat_id}/messages" in page
    assert "/internal/" not in page
    assert re.findall(r"(?:src|href)=\"(?:https?:)?//[^\"]*\"", page) == []
    assert "<script" not in page
