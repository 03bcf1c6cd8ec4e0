"""HTTP clients for the auth and chat services' Internal API (docs/api.md "Internal API").

Every failure is sorted here into one of two kinds the handlers act on:
`Unavailable` (no usable answer: refused connection, timeout, 5xx, a rejected admin
token; worth retrying) and `Refused` (the service understood and said no, such as a 422
for a display name it will not take; retrying the same request cannot help).
"""

from __future__ import annotations

from typing import Any

import httpx

from parley_operator.reconcile import tenants


class Unavailable(Exception):
    """No usable answer from a service; the condition reason names which one."""

    def __init__(self, service: str, detail: str, *, reason: str | None = None) -> None:
        self.service = service
        self.detail = detail
        self.reason = reason or f"{service.capitalize()}Unavailable"
        super().__init__(f"{service}: {detail}")


class Refused(Exception):
    """The service refused the request as written (4xx): the Tenant must change."""

    def __init__(self, service: str, status_code: int, detail: str) -> None:
        self.service = service
        self.status_code = status_code
        self.detail = detail
        super().__init__(f"{service} answered {status_code}: {detail}")


class InternalApi:
    """One service's `/internal/v1` routes with the admin bearer token."""

    def __init__(
        self,
        service: str,
        base_url: str,
        admin_token: str,
        *,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.service = service
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {admin_token}"},
            timeout=timeout,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(
        self, method: str, path: str, body: Any = None, *, params: dict[str, str] | None = None
    ) -> httpx.Response:
        try:
            response = await self._http.request(method, path, json=body, params=params)
        except httpx.TransportError as exc:
            where = f"{self._http.base_url}".rstrip("/")
            raise Unavailable(
                self.service, f"{method} {path} did not reach {where}: {_describe(exc)}"
            ) from exc
        if response.status_code in (401, 403):
            # The operator's PARLEY_ADMIN_TOKEN is wrong: nothing the Tenant can fix, and
            # the operator recovers once its token is corrected and it restarts.
            raise Unavailable(
                self.service,
                f"{method} {path} answered {response.status_code}: the admin token was "
                f"refused; PARLEY_ADMIN_TOKEN must equal the {self.service} service's",
                reason=f"{self.service.capitalize()}Unauthorized",
            )
        if response.status_code >= 500:
            raise Unavailable(
                self.service,
                f"{method} {path} answered {response.status_code}: {_detail(response)}",
            )
        return response

    def _refused(self, method: str, path: str, response: httpx.Response) -> Exception:
        if response.status_code in (400, 409, 413, 422):
            return Refused(self.service, response.status_code, _detail(response))
        # Anything else (a 404 route, a redirect) means this is not the API we expect, which
        # a later deployment may fix: keep retrying rather than give up on the Tenant.
        return Unavailable(
            self.service,
            f"{method} {path} answered {response.status_code}: {_detail(response)}",
        )

    async def delete_tenant(self, slug: str) -> None:
        """docs/api.md: 204 once all the tenant's data is gone, and 204 again after."""
        path = f"/internal/v1/tenants/{slug}"
        response = await self._call("DELETE", path)
        if response.status_code != 204:
            raise Unavailable(
                self.service,
                f"DELETE {path} answered {response.status_code}, not 204: {_detail(response)}",
            )


class AuthApi(InternalApi):
    def __init__(self, base_url: str, admin_token: str, **options: Any) -> None:
        super().__init__("auth", base_url, admin_token, **options)

    async def put_tenant(self, slug: str, desired: tenants.AuthTenant) -> tenants.TenantState:
        path = f"/internal/v1/tenants/{slug}"
        response = await self._call("PUT", path, desired.body())
        if response.status_code not in (200, 201):
            raise self._refused("PUT", path, response)
        return _tenant_state(response)

    async def get_tenant(self, slug: str) -> tenants.TenantState | None:
        path = f"/internal/v1/tenants/{slug}"
        response = await self._call("GET", path)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._refused("GET", path, response)
        return _tenant_state(response)

    async def user_exists(self, slug: str, username: str) -> bool:
        """Whether the tenant holds `username` (the route chat resolves members with)."""
        path = f"/internal/v1/tenants/{slug}/users"
        response = await self._call("GET", path, params={"username": username})
        if response.status_code == 404:
            raise Unavailable(self.service, f"GET {path} answered 404: the tenant is gone")
        if response.status_code != 200:
            raise self._refused("GET", path, response)
        users = response.json().get("users") or []
        return any(user.get("username") == username for user in users)

    async def put_user(self, slug: str, username: str, password: str) -> None:
        path = f"/internal/v1/tenants/{slug}/users/{username}"
        response = await self._call("PUT", path, {"password": password})
        if response.status_code == 404:
            # The tenant vanished between our PUTs (deleted behind our back): the next
            # attempt re-creates it first.
            raise Unavailable(self.service, f"PUT {path} answered 404: the tenant is gone")
        if response.status_code not in (200, 201):
            raise self._refused("PUT", path, response)

    async def server_keys(self, slug: str) -> dict[str, str]:
        """The tenant's server keys, name to id (docs/api.md "Tenant backends")."""
        path = f"/internal/v1/tenants/{slug}/server-keys"
        response = await self._call("GET", path)
        if response.status_code == 404:
            raise Unavailable(self.service, f"GET {path} answered 404: the tenant is gone")
        if response.status_code != 200:
            raise self._refused("GET", path, response)
        return {key["name"]: key["id"] for key in response.json().get("server_keys") or []}

    async def create_server_key(self, slug: str, name: str) -> tuple[str, str]:
        """A new key's id and secret; the secret is never readable again."""
        path = f"/internal/v1/tenants/{slug}/server-keys"
        response = await self._call("POST", path, {"name": name})
        if response.status_code in (404, 409):
            # The tenant vanished, or another attempt issued the name a moment ago: the
            # next attempt sees the key and revokes it before issuing again.
            raise Unavailable(
                self.service, f"POST {path} answered {response.status_code}: {_detail(response)}"
            )
        if response.status_code != 201:
            raise self._refused("POST", path, response)
        created = response.json()
        return str(created["id"]), str(created["key"])

    async def revoke_server_key(self, slug: str, key_id: str) -> None:
        """204, or 404 when it is gone already: either way it works no more."""
        path = f"/internal/v1/tenants/{slug}/server-keys/{key_id}"
        response = await self._call("DELETE", path)
        if response.status_code not in (204, 404):
            raise self._refused("DELETE", path, response)


class ChatApi(InternalApi):
    def __init__(self, base_url: str, admin_token: str, **options: Any) -> None:
        super().__init__("chat", base_url, admin_token, **options)


def _tenant_state(response: httpx.Response) -> tenants.TenantState:
    body = response.json()
    limits = body["limits"]
    return tenants.TenantState(
        settings=tenants.AuthTenant(
            display_name=body["display_name"],
            self_registration=body["self_registration"],
            suspended=body["suspended"],
            max_users=limits["max_users"],
            messages_per_minute=limits["messages_per_minute"],
            max_message_chars=limits["max_message_chars"],
            # An auth from before attachments reports none: it holds the default.
            max_attachment_bytes=limits.get("max_attachment_bytes", 26_214_400),
        ),
        users=body["usage"]["users"],
    )


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return str(detail) if detail else (response.text[:200] or response.reason_phrase)


def _describe(exc: httpx.TransportError) -> str:
    return str(exc) or type(exc).__name__
