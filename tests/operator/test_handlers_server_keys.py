"""`spec.serverKeys`: the Tenant handlers issue each key once into a Secret owned by the
Tenant, re-issue it when its Secret is lost, and revoke it when it leaves the spec, against
real auth and chat servers and the emulated Kubernetes API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import kopf
import pytest

from parley_operator.handlers import tenants
from support import auth
from support.harness import MakeSettings
from support.kubernetes import Cluster, Kubectl
from support.tenant_handlers import Resource, connected, ready, secret_data


def key_names(api: auth.AuthApi, name: str) -> list[str]:
    response = api.http.get(f"/internal/v1/tenants/{name}/server-keys", headers=api.admin)
    assert response.status_code == 200, response.text
    return [key["name"] for key in response.json()["server_keys"]]


def works(api: auth.AuthApi, key: str) -> bool:
    response = api.http.put("/v1/tenant/users/alice", json={}, headers=api.bearer(key))
    assert response.status_code in (200, 201, 401), response.text
    return response.status_code != 401


def test_a_server_key_is_issued_once_reissued_when_its_secret_is_lost_and_revoked_when_removed(
    make_settings: MakeSettings,
    cluster: Cluster,
    kubectl: Kubectl,
    api: auth.AuthApi,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    secret_name = f"{name}-server-key-backend"
    tenant = Resource(kubectl.tenant(namespace, name, {"serverKeys": [{"name": "backend"}]}))

    async def apply() -> None:
        async with connected(make_settings(), cluster) as context:
            await tenant.call(tenants.apply, context)

    asyncio.run(apply())
    first = secret_data(kubectl, namespace, secret_name)
    assert first["key"].startswith("psk_")
    assert first["tenant"] == name
    assert tenant.status["serverKeys"] == ["backend"]
    assert ready(tenant.status)["status"] == "True"
    secret = kubectl.get(kubectl.secrets(namespace, secret_name))
    assert secret is not None
    assert [owner["kind"] for owner in secret["metadata"]["ownerReferences"]] == ["Tenant"]
    assert works(api, first["key"])

    # Again, as a retry, the timer or a restarted operator would: nothing new is issued.
    asyncio.run(apply())
    assert secret_data(kubectl, namespace, secret_name) == first
    assert key_names(api, name) == ["backend"]

    # The only copy of the key is gone: the timer revokes the key and writes a new one.
    kubectl.delete(kubectl.secrets(namespace, secret_name))

    async def refresh() -> None:
        async with connected(make_settings(), cluster) as context:
            await tenant.call(tenants.refresh, context)

    asyncio.run(refresh())
    second = secret_data(kubectl, namespace, secret_name)
    assert second["key"] != first["key"]
    assert not works(api, first["key"])
    assert works(api, second["key"])
    assert key_names(api, name) == ["backend"]

    # Out of the spec: revoked, and its Secret deleted.
    tenant.raw["spec"] = {"serverKeys": []}
    asyncio.run(apply())
    assert not works(api, second["key"])
    assert key_names(api, name) == []
    assert kubectl.get(kubectl.secrets(namespace, secret_name)) is None
    assert tenant.status["serverKeys"] == []


def test_a_key_issued_but_never_written_to_its_secret_is_revoked_and_issued_again(
    make_settings: MakeSettings,
    cluster: Cluster,
    kubectl: Kubectl,
    api: auth.AuthApi,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    tenant = Resource(kubectl.tenant(namespace, name, {"serverKeys": [{"name": "backend"}]}))

    async def scenario() -> None:
        async with connected(make_settings(), cluster) as context:
            await tenant.call(tenants.apply, context)

    # As if an operator died between issuing the key and writing its Secret.
    asyncio.run(scenario())
    orphan = secret_data(kubectl, namespace, f"{name}-server-key-backend")["key"]
    kubectl.delete(kubectl.secrets(namespace, f"{name}-server-key-backend"))
    tenant.status.pop("serverKeys")
    asyncio.run(scenario())
    assert not works(api, orphan)
    assert works(api, secret_data(kubectl, namespace, f"{name}-server-key-backend")["key"])
    assert key_names(api, name) == ["backend"]


def test_a_secret_of_a_keys_name_that_the_tenant_does_not_own_is_a_conflict(
    make_settings: MakeSettings,
    cluster: Cluster,
    kubectl: Kubectl,
    api: auth.AuthApi,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    kubectl.create(
        kubectl.secrets(namespace),
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"{name}-server-key-backend", "namespace": namespace},
            "data": {},
        },
    )
    tenant = Resource(kubectl.tenant(namespace, name, {"serverKeys": [{"name": "backend"}]}))

    async def scenario() -> None:
        async with connected(make_settings(), cluster) as context:
            with pytest.raises(kopf.PermanentError, match="does not own"):
                await tenant.call(tenants.apply, context)

    asyncio.run(scenario())
    assert ready(tenant.status)["reason"] == "SecretConflict"
    assert key_names(api, name) == []
