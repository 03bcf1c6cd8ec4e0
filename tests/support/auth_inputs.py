"""The auth routes that take a body, with one each accepts, and the names and fields
docs/api.md gives them: what the auth bad-input suites
(tests/integration/auth/test_bad_input*.py) send their bad input to."""

from __future__ import annotations

import http.client
import json
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import httpx
from hypothesis import strategies as st

from support import problems
from support.auth import PASSWORD, AuthApi
from support.problems import JSON_VALUES

# docs/api.md "Names", as full matches: a trailing newline is not part of any name.
SLUG = r"[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?"
USERNAME = r"[a-z0-9][a-z0-9._-]{2,31}"

TEN_MB = 10 * 1024 * 1024
BODY_ROUTES = (
    "register",
    "login",
    "refresh",
    "logout",
    "put_tenant",
    "put_user",
    "server_key",
    "tenant_user",
    "tenant_tokens",
)
STRING_FIELDS = {
    "register": ("tenant", "username", "password", "display_name"),
    "login": ("tenant", "username", "password"),
    "refresh": ("refresh_token",),
    "logout": ("refresh_token",),
    "put_tenant": ("display_name",),
    "put_user": ("password", "display_name"),
    "server_key": ("name",),
    "tenant_user": ("display_name", "kind"),
    "tenant_tokens": (),
}
REQUIRED_FIELDS = {
    "register": ("tenant", "username", "password"),
    "login": ("tenant", "username", "password"),
    "refresh": ("refresh_token",),
    "logout": ("refresh_token",),
    "put_tenant": (),
    "put_user": ("password",),
    "server_key": ("name",),
    "tenant_user": (),
    "tenant_tokens": (),
}
OPTIONAL_FIELDS = {"display_name", "kind"}
NOT_STRINGS = (*problems.NOT_STRINGS, None)
ODD_STRINGS = (
    "\x00",
    "ab\x00cd",
    "\u202eabc",
    "😀😀😀",
    "e\u0301\u0301\u0301",
    "\uff45\uff56\uff45",
    "\ufeffabc",
    "\u200b",
    "\U0010ffff" * 8,
    " ",
    "\t\r\n",
    '\\"',
    "%00%ff",
    "../../etc/passwd",
    "'; DROP TABLE users; --",
)
LONG_STRING = "x" * 100_000
"""Bigger than any auth body may be (64 KiB): a 413 before anything is decoded."""


@dataclass(frozen=True)
class BodyRoute:
    """One route that takes a JSON body, with a body it accepts."""

    method: str
    path: str
    body: dict[str, Any]
    success: int
    headers: dict[str, str] = field(default_factory=dict)

    def send(self, api: AuthApi, **request: Any) -> httpx.Response:
        return api.http.request(self.method, self.path, headers=self.headers, **request)

    def send_json(self, api: AuthApi, body: Any) -> httpx.Response:
        return self.send(api, json=body)

    def send_bytes(self, api: AuthApi, content: bytes) -> httpx.Response:
        headers = {**self.headers, "Content-Type": "application/json"}
        return api.http.request(self.method, self.path, headers=headers, content=content)


def body_route(api: AuthApi, name: str) -> BodyRoute:
    body: dict[str, Any]
    if name == "register":
        body = {"tenant": api.tenant(), "username": "alice", "password": PASSWORD}
        return BodyRoute("POST", "/v1/auth/register", body, 201)
    if name == "login":
        account = api.account()
        body = {"tenant": account.tenant, "username": account.username, "password": PASSWORD}
        return BodyRoute("POST", "/v1/auth/login", body, 200)
    if name in ("refresh", "logout"):
        tokens = api.login(api.account())
        body = {"refresh_token": tokens["refresh_token"]}
        return BodyRoute("POST", f"/v1/auth/{name}", body, 200 if name == "refresh" else 204)
    if name == "put_tenant":
        body = {
            "display_name": "Acme",
            "self_registration": True,
            "suspended": False,
            "limits": {"max_users": 10, "messages_per_minute": 60, "max_message_chars": 2000},
        }
        return BodyRoute("PUT", "/internal/v1/tenants/acme", body, 201, api.admin)
    if name == "server_key":
        path = f"/internal/v1/tenants/{api.tenant()}/server-keys"
        return BodyRoute("POST", path, {"name": "backend"}, 201, api.admin)
    if name in ("tenant_user", "tenant_tokens"):
        key = api.bearer(api.server_key(api.tenant()))
        path = "/v1/tenant/users/alice"
        if name == "tenant_user":
            return BodyRoute("PUT", path, {"display_name": "Alice", "kind": "bot"}, 201, key)
        assert api.http.put(path, json={}, headers=key).status_code == 201
        return BodyRoute("POST", f"{path}/tokens", {"ttl_seconds": 600}, 200, key)
    assert name == "put_user"
    path = f"/internal/v1/tenants/{api.tenant()}/users/admin"
    body = {"password": PASSWORD, "display_name": "Admin"}
    return BodyRoute("PUT", path, body, 201, api.admin)


def raw_request(
    api: AuthApi, method: str, target: str, headers: dict[str, str], body: bytes | None = None
) -> tuple[int, Any]:
    """A request whose target and headers go out exactly as written: httpx would resolve
    `..` and refuse header values that end in white space."""
    url = httpx.URL(api.url)
    connection = http.client.HTTPConnection(url.host, url.port, timeout=10)
    try:
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


# -- what the generated-body suites check answers against -----------------------------------


def extra_fields(known: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    keys = st.text(max_size=10).filter(lambda key: key not in known)
    return st.dictionaries(keys, JSON_VALUES, max_size=3)


def is_password(value: Any) -> bool:
    return isinstance(value, str) and 8 <= len(value) <= 256


def is_display_name(value: Any) -> bool:
    """Visible text: 1 to 64 characters, not all white space, nothing from Unicode's
    "Other" categories (control, format, surrogate, private use, unassigned) but the
    zero-width joiner and non-joiner that scripts and emoji need."""
    return (
        isinstance(value, str)
        and 1 <= len(value) <= 64
        and bool(value.replace("\u200c", "").replace("\u200d", "").strip())
        and not any(
            unicodedata.category(char).startswith("C") and char not in "\u200c\u200d"
            for char in value
        )
    )
