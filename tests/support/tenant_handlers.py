"""Calling the operator's Tenant handlers as plain functions, as kopf would across attempts:
what tests/operator/test_handlers*.py share."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, cast

import kopf

from parley_operator.handlers import tenants
from parley_operator.reconcile.tenants import Claim
from parley_operator.settings import OperatorSettings
from support import auth
from support.kubernetes import Cluster, Kubectl

LOGGER = logging.getLogger("tests.operator")


@asynccontextmanager
async def connected(settings: OperatorSettings, cluster: Cluster) -> AsyncIterator[tenants.Context]:
    context = tenants.Context(settings)
    await context.kubernetes.connect(kopf.ConnectionInfo(server=cluster.url))
    try:
        yield context
    finally:
        await context.aclose()


class Resource:
    """A Tenant as kopf would see it across attempts: each attempt's status patch is
    merged into the body the next attempt receives, as the API server would."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    @property
    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.raw.setdefault("status", {})
        return status

    async def call(
        self,
        handler: Callable[[tenants.Context, tenants.Event], Awaitable[None]],
        context: tenants.Context,
        *,
        retry: int = 0,
        claims: Iterable[Claim] = (),
    ) -> kopf.Patch:
        patch = kopf.Patch()
        event = tenants.Event(kopf.Body(cast(kopf.RawBody, self.raw)), patch, retry, LOGGER, claims)
        try:
            await handler(context, event)
        finally:
            for key, value in dict(patch.get("status") or {}).items():
                if value is None:
                    self.status.pop(key, None)
                else:
                    self.status[key] = value
        return patch


def ready(status: dict[str, Any]) -> dict[str, Any]:
    condition: dict[str, Any] = next(c for c in status["conditions"] if c["type"] == "Ready")
    return condition


def tenant_in_auth(api: auth.AuthApi, name: str) -> dict[str, Any] | None:
    response = api.http.get(f"/internal/v1/tenants/{name}", headers=api.admin)
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def secret_data(kubectl: Kubectl, namespace: str, name: str) -> dict[str, str]:
    secret = kubectl.get(kubectl.secrets(namespace, name))
    assert secret is not None, f"no Secret {name}"
    return {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
