"""The few Kubernetes calls kopf does not make for us: reading, writing, deleting Secrets.

Why not a client library: the operator reads one Secret kind with three verbs, and kopf
already logs in (service account in a pod, KUBECONFIG elsewhere). This client reuses
exactly the credentials kopf's login produced (`kopf.ConnectionInfo`, its headers and
TLS context), so the two can never disagree about which cluster or identity is in use,
and the operator image stays free of the `kubernetes` package and its config loaders.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import kopf


class KubernetesUnavailable(Exception):
    """The API server did not answer usefully (down, or the operator lacks RBAC)."""


class AlreadyExists(Exception):
    pass


@dataclass(frozen=True)
class Secret:
    name: str
    data: dict[str, str]
    """Decoded `data`: the values as text."""
    owner_uids: tuple[str, ...] = ()
    annotations: Mapping[str, str] = field(default_factory=dict)


class Kubernetes:
    def __init__(self, *, timeout: float = 30.0) -> None:
        self._timeout = timeout
        self._http: httpx.AsyncClient | None = None

    async def connect(self, info: kopf.ConnectionInfo) -> None:
        """Use the credentials kopf's login produced; called again when kopf re-logs in."""
        previous, self._http = (
            self._http,
            httpx.AsyncClient(
                base_url=info.server,
                headers=info.as_http_headers(),
                verify=info.as_ssl_context(),
                trust_env=info.trust_env,
                proxy=info.proxy_url,
                timeout=self._timeout,
            ),
        )
        if previous is not None:
            await previous.aclose()

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def read_secret(self, namespace: str, name: str) -> Secret | None:
        response = await self._call("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
        if response.status_code == 404:
            return None
        return _secret(self._expect(response, "get", namespace, 200))

    async def create_secret(self, namespace: str, manifest: Mapping[str, Any]) -> Secret:
        response = await self._call("POST", f"/api/v1/namespaces/{namespace}/secrets", manifest)
        if response.status_code == 409:
            raise AlreadyExists(manifest["metadata"]["name"])
        return _secret(self._expect(response, "create", namespace, 201, 200))

    async def patch_secret(self, namespace: str, name: str, patch: Mapping[str, Any]) -> Secret:
        response = await self._call(
            "PATCH",
            f"/api/v1/namespaces/{namespace}/secrets/{name}",
            patch,
            content_type="application/merge-patch+json",
        )
        return _secret(self._expect(response, "patch", namespace, 200))

    async def delete_secret(self, namespace: str, name: str) -> None:
        """Gone already is as good as deleted."""
        response = await self._call("DELETE", f"/api/v1/namespaces/{namespace}/secrets/{name}")
        if response.status_code != 404:
            self._expect(response, "delete", namespace, 200, 202)

    async def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
    ) -> httpx.Response:
        if self._http is None:
            raise KubernetesUnavailable("not logged in to the Kubernetes API yet")
        try:
            return await self._http.request(
                method,
                path,
                json=body,
                headers={"Content-Type": content_type} if body is not None else None,
            )
        except httpx.TransportError as exc:
            raise KubernetesUnavailable(
                f"{method} {path} did not reach the Kubernetes API: {exc or type(exc).__name__}"
            ) from exc

    @staticmethod
    def _expect(
        response: httpx.Response, verb: str, namespace: str, *statuses: int
    ) -> dict[str, Any]:
        if response.status_code in (401, 403):
            raise KubernetesUnavailable(
                f"the operator may not {verb} Secrets in namespace {namespace!r} "
                f"({response.status_code}): grant its ServiceAccount get, create and patch "
                "(and delete) on secrets"
            )
        if response.status_code not in statuses:
            raise KubernetesUnavailable(
                f"{verb} Secret in {namespace!r} answered {response.status_code}: "
                f"{response.text[:200]}"
            )
        body: dict[str, Any] = response.json()
        return body


def manifest(
    name: str,
    data: Mapping[str, str],
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An Opaque Secret. `data` is written base64-encoded, not as `stringData`, so what is
    stored is what was sent (the API server only converts stringData on write)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": name,
            "labels": dict(labels or {}),
            **({"annotations": dict(annotations)} if annotations else {}),
        },
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
    }


def _secret(body: Mapping[str, Any]) -> Secret:
    raw = body.get("data") or {}
    data = {}
    for key, value in raw.items():
        try:
            data[key] = base64.b64decode(value).decode()
        except (ValueError, UnicodeDecodeError):
            continue  # not text; the operator only reads text keys
    owners = body["metadata"].get("ownerReferences") or []
    return Secret(
        name=body["metadata"]["name"],
        data=data,
        owner_uids=tuple(str(owner.get("uid")) for owner in owners),
        annotations=dict(body["metadata"].get("annotations") or {}),
    )
