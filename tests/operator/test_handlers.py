"""The Tenant handlers called as plain functions, without kopf running, against real auth
and chat servers and the emulated Kubernetes API (for Secrets). Each is called twice
where a retry or a resume would call it again, to show the second call changes nothing."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable

import httpx
import kopf
import pytest

from parley_operator.handlers import tenants
from parley_operator.reconcile.tenants import Claim
from support import auth, chat
from support.harness import MakeSettings
from support.kubernetes import Cluster, Kubectl, unused_url
from support.tenant_handlers import Resource, connected, ready, secret_data, tenant_in_auth


def test_applying_a_tenant_twice_creates_it_once_and_reports_ready_both_times(
    make_settings: MakeSettings,
    cluster: Cluster,
    kubectl: Kubectl,
    api: auth.AuthApi,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    spec = {"displayName": "Acme", "selfRegistration": True, "limits": {"maxUsers": 3}}
    tenant = Resource(kubectl.tenant(namespace, name, spec))

    async def scenario() -> None:
        async with connected(make_settings(), cluster) as context:
            await tenant.call(tenants.apply, context)
            first = dict(tenant.status)
            await tenant.call(tenants.apply, context)
            assert tenant.status == first

    asyncio.run(scenario())

    assert tenant.status["phase"] == "Ready"
    assert tenant.status["users"] == 0
    assert tenant.status["observedGeneration"] == 1
    assert ready(tenant.status)["status"] == "True"
    shown = tenant_in_auth(api, name)
    assert shown is not None
    assert (shown["display_name"], shown["self_registration"]) == ("Acme", True)
    assert shown["limits"] == {
        "max_users": 3,
        "messages_per_minute": 120,
        "max_message_chars": 4000,
        "max_attachment_bytes": 26_214_400,
    }


def test_applying_an_admin_twice_keeps_one_secret_and_the_same_password(
    make_settings: MakeSettings,
    cluster: Cluster,
    kubectl: Kubectl,
    api: auth.AuthApi,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    tenant = Resource(kubectl.tenant(namespace, name, {"admin": {"username": "root"}}))

    async def scenario() -> None:
        async with connected(make_settings(), cluster) as context:
            await tenant.call(tenants.apply, context)
            first = secret_data(kubectl, namespace, f"{name}-admin")
            await tenant.call(tenants.apply, context)
            assert secret_data(kubectl, namespace, f"{name}-admin") == first

    asyncio.run(scenario())

    data = secret_data(kubectl, namespace, f"{name}-admin")
    assert data == {
        "username": "root",
        "password": data["password"],
        "tenant": name,
        "url": "https://chat.example.test",
    }
    account = auth.Account(name, "root", data["password"], id="")
    assert api.login(account)["token_type"] == "Bearer"
    assert (tenant.status["adminSecretName"], tenant.status["users"]) == (f"{name}-admin", 1)


def test_a_referenced_password_secret_becomes_the_admins_password(
    make_settings: MakeSettings,
    cluster: Cluster,
    kubectl: Kubectl,
    api: auth.AuthApi,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    password = "a long admin password"
    kubectl.create(
        kubectl.secrets(namespace),
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "acme-admin-password", "namespace": namespace},
            "data": {"secret": base64.b64encode(password.encode()).decode()},
        },
    )
    admin = {
        "username": "root",
        "passwordSecretRef": {"name": "acme-admin-password", "key": "secret"},
    }
    tenant = Resource(kubectl.tenant(namespace, name, {"admin": admin}))

    async def scenario() -> None:
        async with connected(make_settings(), cluster) as context:
            await tenant.call(tenants.apply, context)

    asyncio.run(scenario())

    assert secret_data(kubectl, namespace, f"{name}-admin")["password"] == password
    assert api.login(auth.Account(name, "root", password, id=""))["token_type"] == "Bearer"


def test_a_missing_password_secret_is_an_error_that_names_it_and_keeps_retrying(
    make_settings: MakeSettings,
    cluster: Cluster,
    kubectl: Kubectl,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    admin = {"username": "root", "passwordSecretRef": {"name": "not-there"}}
    tenant = Resource(kubectl.tenant(namespace, name, {"admin": admin}))

    async def scenario() -> None:
        async with connected(make_settings(), cluster) as context:
            for _ in range(2):
                with pytest.raises(kopf.TemporaryError):
                    await tenant.call(tenants.apply, context)

    asyncio.run(scenario())

    assert tenant.status["phase"] == "Error"
    assert ready(tenant.status)["reason"] == "AdminSecretInvalid"
    assert "'not-there'" in ready(tenant.status)["message"]
    assert "key 'password'" in ready(tenant.status)["message"]


def test_an_invalid_spec_is_a_permanent_error_that_says_what_to_fix(
    make_settings: MakeSettings,
    cluster: Cluster,
    kubectl: Kubectl,
    api: auth.AuthApi,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    spec = {"limits": {"maxMessageChars": 0}, "admin": {"username": "No Spaces"}}
    tenant = Resource(kubectl.tenant(namespace, name, spec))

    async def scenario() -> None:
        async with connected(make_settings(), cluster) as context:
            for _ in range(2):
                with pytest.raises(kopf.PermanentError):
                    await tenant.call(tenants.apply, context)

    asyncio.run(scenario())

    assert tenant.status["phase"] == "Error"
    message = ready(tenant.status)["message"]
    assert ready(tenant.status)["reason"] == "InvalidSpec"
    assert "spec.limits.maxMessageChars" in message
    assert "spec.admin.username" in message
    assert message.endswith("Fix the Tenant and apply it again.")
    assert tenant_in_auth(api, name) is None


def test_a_tenant_auth_refuses_is_a_permanent_error_quoting_auth(
    make_settings: MakeSettings,
    cluster: Cluster,
    kubectl: Kubectl,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    # A right-to-left override passes the CRD's length rule but not auth's (422).
    tenant = Resource(kubectl.tenant(namespace, name, {"displayName": "Acme\u202e"}))

    async def scenario() -> None:
        async with connected(make_settings(), cluster) as context:
            with pytest.raises(kopf.PermanentError):
                await tenant.call(tenants.apply, context)
            refused = dict(tenant.status)
            # The timer does not ask again: only a new spec can change auth's answer.
            await tenant.call(tenants.refresh, context)
            assert tenant.status == refused

    asyncio.run(scenario())

    assert tenant.status["phase"] == "Error"
    assert ready(tenant.status)["message"].startswith("auth refused the tenant (422)")


def test_an_unreachable_auth_is_a_temporary_error_whose_delay_doubles_up_to_the_cap(
    make_settings: MakeSettings,
    cluster: Cluster,
    kubectl: Kubectl,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    tenant = Resource(kubectl.tenant(namespace, name, {}))
    settings = make_settings(auth_url=unused_url())
    delays = []

    async def scenario() -> None:
        async with connected(settings, cluster) as context:
            for retry in range(4):
                with pytest.raises(kopf.TemporaryError) as raised:
                    await tenant.call(tenants.apply, context, retry=retry)
                delays.append(raised.value.delay)

    asyncio.run(scenario())

    assert delays == [0.2, 0.4, 0.8, 1.0]
    condition = ready(tenant.status)
    assert (tenant.status["phase"], condition["status"]) == ("Pending", "False")
    assert condition["reason"] == "AuthUnavailable"
    assert condition["message"].endswith("retrying in 1 s")


def test_a_wrong_admin_token_is_reported_as_unauthorized_and_retried(
    make_settings: MakeSettings,
    cluster: Cluster,
    kubectl: Kubectl,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    tenant = Resource(kubectl.tenant(namespace, name, {}))

    async def scenario() -> None:
        async with connected(make_settings(admin_token="not-the-token"), cluster) as context:
            with pytest.raises(kopf.TemporaryError):
                await tenant.call(tenants.apply, context)

    asyncio.run(scenario())

    assert ready(tenant.status)["reason"] == "AuthUnauthorized"
    assert "PARLEY_ADMIN_TOKEN" in ready(tenant.status)["message"]


def test_refresh_counts_users_and_recreates_a_tenant_deleted_behind_the_operators_back(
    make_settings: MakeSettings,
    cluster: Cluster,
    kubectl: Kubectl,
    api: auth.AuthApi,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    tenant = Resource(kubectl.tenant(namespace, name, {"selfRegistration": True}))

    async def scenario() -> None:
        async with connected(make_settings(), cluster) as context:
            await tenant.call(tenants.apply, context)
            await asyncio.to_thread(api.account, name)
            for _ in range(2):
                await tenant.call(tenants.refresh, context)
                assert tenant.status["users"] == 1

            gone = await asyncio.to_thread(
                api.http.delete, f"/internal/v1/tenants/{name}", headers=api.admin
            )
            assert gone.status_code == 204
            for _ in range(2):
                await tenant.call(tenants.refresh, context)
                assert (tenant.status["phase"], tenant.status["users"]) == ("Ready", 0)

    asyncio.run(scenario())

    assert tenant_in_auth(api, name) is not None


def test_refresh_repairs_settings_changed_behind_the_operators_back(
    make_settings: MakeSettings,
    cluster: Cluster,
    kubectl: Kubectl,
    api: auth.AuthApi,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    tenant = Resource(kubectl.tenant(namespace, name, {"limits": {"maxUsers": 5}}))

    async def scenario() -> None:
        async with connected(make_settings(), cluster) as context:
            await tenant.call(tenants.apply, context)
            changed = await asyncio.to_thread(
                api.http.put,
                f"/internal/v1/tenants/{name}",
                json={"display_name": "Hijacked", "limits": {"max_users": 500}},
                headers=api.admin,
            )
            assert changed.status_code == 200
            await tenant.call(tenants.refresh, context)

    asyncio.run(scenario())

    shown = tenant_in_auth(api, name)
    assert shown is not None
    assert (shown["display_name"], shown["limits"]["max_users"]) == (name, 5)


def test_retiring_a_tenant_twice_purges_chat_and_auth_and_succeeds_both_times(
    make_settings: MakeSettings,
    cluster: Cluster,
    kubectl: Kubectl,
    api: auth.AuthApi,
    chat_url: str,
    chat_database: str,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    tenant = Resource(kubectl.tenant(namespace, name, {"selfRegistration": True}))

    async def provision() -> None:
        async with connected(make_settings(), cluster) as context:
            await tenant.call(tenants.apply, context)

    asyncio.run(provision())
    alice, bob = api.account(name), api.account(name)
    with httpx.Client(base_url=chat_url, headers=api.bearer(api.login(alice)), timeout=10) as http:
        created = http.post("/v1/chats", json={"kind": "direct", "members": [bob.username]})
        assert created.status_code == 201, created.text
    assert chat.rows_of_tenant(chat_database, name)["chats"] == 1

    async def retire_twice() -> None:
        async with connected(make_settings(chat_url=chat_url), cluster) as context:
            await tenant.call(tenants.retire, context)
            await tenant.call(tenants.retire, context)

    asyncio.run(retire_twice())

    assert chat.rows_of_tenant(chat_database, name) == dict.fromkeys(chat.CHAT_TABLES, 0)
    assert tenant_in_auth(api, name) is None


def test_retiring_with_chat_unreachable_is_temporary_and_leaves_auth_untouched(
    make_settings: MakeSettings,
    cluster: Cluster,
    kubectl: Kubectl,
    api: auth.AuthApi,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    tenant = Resource(kubectl.tenant(namespace, name, {}))

    async def scenario() -> None:
        async with connected(make_settings(), cluster) as context:
            await tenant.call(tenants.apply, context)
        async with connected(make_settings(chat_url=unused_url()), cluster) as context:
            with pytest.raises(kopf.TemporaryError):
                await tenant.call(tenants.retire, context)

    asyncio.run(scenario())

    assert (tenant.status["phase"], ready(tenant.status)["reason"]) == (
        "Deleting",
        "ChatUnavailable",
    )
    assert tenant_in_auth(api, name) is not None


def test_a_slug_already_claimed_in_another_namespace_is_refused_and_never_purged(
    make_settings: MakeSettings,
    cluster: Cluster,
    kubectl: Kubectl,
    api: auth.AuthApi,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    # The first Tenant with this name, in another namespace, owns the slug in auth.
    created = api.http.put(
        f"/internal/v1/tenants/{name}", json={"display_name": "First"}, headers=api.admin
    )
    assert created.status_code == 201
    tenant = Resource(kubectl.tenant(namespace, name, {"displayName": "Second"}))
    claims = [
        Claim(created="2020-01-01T00:00:00Z", namespace="first"),
        Claim(created=tenant.raw["metadata"]["creationTimestamp"], namespace=namespace),
    ]

    async def scenario() -> None:
        async with connected(make_settings(), cluster) as context:
            with pytest.raises(kopf.PermanentError):
                await tenant.call(tenants.apply, context, claims=claims)
            await tenant.call(tenants.refresh, context, claims=claims)
            await tenant.call(tenants.retire, context, claims=claims)

    asyncio.run(scenario())

    assert (tenant.status["phase"], ready(tenant.status)["reason"]) == ("Error", "SlugTaken")
    assert "namespace 'first'" in ready(tenant.status)["message"]
    shown = tenant_in_auth(api, name)
    assert shown is not None
    assert shown["display_name"] == "First"
