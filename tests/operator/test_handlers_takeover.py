"""The Tenant handlers called as plain functions (as in test_handlers.py), on what a Tenant
finds already there: it changes only what it created, unless it sets spec.adopt."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable

import kopf
import pytest

from parley_operator.handlers import tenants
from support import auth
from support.harness import MakeSettings
from support.kubernetes import Cluster, Kubectl
from support.tenant_handlers import Resource, connected, ready, secret_data, tenant_in_auth


def test_a_tenant_made_through_the_internal_api_is_not_taken_over_nor_purged(
    make_settings: MakeSettings,
    cluster: Cluster,
    kubectl: Kubectl,
    api: auth.AuthApi,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    theirs = {"display_name": "Theirs", "self_registration": True}
    created = api.http.put(f"/internal/v1/tenants/{name}", json=theirs, headers=api.admin)
    assert created.status_code == 201
    tenant = Resource(kubectl.tenant(namespace, name, {"displayName": "Mine"}))

    async def scenario() -> None:
        async with connected(make_settings(), cluster) as context:
            with pytest.raises(kopf.PermanentError):
                await tenant.call(tenants.apply, context)
            with pytest.raises(kopf.PermanentError):
                await tenant.call(tenants.refresh, context)
            await tenant.call(tenants.retire, context)

    asyncio.run(scenario())

    assert (tenant.status["phase"], ready(tenant.status)["reason"]) == ("Error", "TenantExists")
    assert "spec.adopt" in ready(tenant.status)["message"]
    assert "ownsTenant" not in tenant.status
    shown = tenant_in_auth(api, name)
    assert shown is not None
    assert (shown["display_name"], shown["self_registration"]) == ("Theirs", True)


def test_with_adopt_a_tenant_takes_over_an_existing_tenant_and_owns_it(
    make_settings: MakeSettings,
    cluster: Cluster,
    kubectl: Kubectl,
    api: auth.AuthApi,
    chat_url: str,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    created = api.http.put(
        f"/internal/v1/tenants/{name}", json={"display_name": "Theirs"}, headers=api.admin
    )
    assert created.status_code == 201
    tenant = Resource(kubectl.tenant(namespace, name, {"displayName": "Mine", "adopt": True}))

    async def scenario() -> None:
        async with connected(make_settings(chat_url=chat_url), cluster) as context:
            await tenant.call(tenants.apply, context)
            # Owned from now on: adopt no longer matters, and deletion purges it.
            tenant.raw["spec"]["adopt"] = False
            await tenant.call(tenants.apply, context)
            assert tenant.status["phase"] == "Ready"
            await tenant.call(tenants.retire, context)

    asyncio.run(scenario())

    assert tenant.status["ownsTenant"] is True
    assert tenant_in_auth(api, name) is None


def test_an_existing_user_keeps_its_password_unless_the_tenant_adopts_it(
    make_settings: MakeSettings,
    cluster: Cluster,
    kubectl: Kubectl,
    api: auth.AuthApi,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    tenant = Resource(kubectl.tenant(namespace, name, {"selfRegistration": True}))
    registered: list[auth.Account] = []

    async def scenario() -> None:
        async with connected(make_settings(), cluster) as context:
            await tenant.call(tenants.apply, context)
            registered.append(await asyncio.to_thread(api.account, name))
            tenant.raw["spec"]["admin"] = {"username": registered[0].username}
            with pytest.raises(kopf.PermanentError):
                await tenant.call(tenants.apply, context)
            assert ready(tenant.status)["reason"] == "AdminUserExists"
            assert kubectl.get(kubectl.secrets(namespace, f"{name}-admin")) is None
            # The user still logs in with the password only they knew.
            assert (await asyncio.to_thread(api.login, registered[0]))["token_type"] == "Bearer"

            tenant.raw["spec"]["adopt"] = True
            await tenant.call(tenants.apply, context)
            # Now managed through the Tenant's own Secret, even without adopt.
            tenant.raw["spec"]["adopt"] = False
            await tenant.call(tenants.apply, context)

    asyncio.run(scenario())

    assert tenant.status["phase"] == "Ready"
    (user,) = registered
    data = secret_data(kubectl, namespace, f"{name}-admin")
    assert data["username"] == user.username
    adopted = auth.Account(name, user.username, data["password"], user.id)
    assert api.login(adopted)["token_type"] == "Bearer"


def test_an_admin_secret_the_tenant_does_not_own_is_left_alone_unless_adopted(
    make_settings: MakeSettings,
    cluster: Cluster,
    kubectl: Kubectl,
    api: auth.AuthApi,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    foreign = {"note": base64.b64encode(b"someone else's").decode()}
    kubectl.create(
        kubectl.secrets(namespace),
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": f"{name}-admin", "namespace": namespace},
            "data": foreign,
        },
    )
    tenant = Resource(kubectl.tenant(namespace, name, {"admin": {"username": "root"}}))

    async def scenario() -> None:
        async with connected(make_settings(), cluster) as context:
            with pytest.raises(kopf.PermanentError):
                await tenant.call(tenants.apply, context)
            assert ready(tenant.status)["reason"] == "SecretConflict"
            untouched = kubectl.get(kubectl.secrets(namespace, f"{name}-admin"))
            assert untouched is not None
            assert untouched["data"] == foreign
            assert not untouched["metadata"].get("ownerReferences")

            tenant.raw["spec"]["adopt"] = True
            await tenant.call(tenants.apply, context)

    asyncio.run(scenario())

    assert tenant.status["phase"] == "Ready"
    adopted = kubectl.get(kubectl.secrets(namespace, f"{name}-admin"))
    assert adopted is not None
    (reference,) = adopted["metadata"]["ownerReferences"]
    assert reference["uid"] == tenant.raw["metadata"]["uid"]
    assert secret_data(kubectl, namespace, f"{name}-admin")["username"] == "root"
