"""The real operator under kopf's KopfRunner: Tenants in an emulated Kubernetes API,
reconciled against real auth and chat servers."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx

from support import auth, chat
from support.harness import MakeSettings, Restartable, RunOperator
from support.kubernetes import Kubectl, eventually

MakeServer = Callable[[], Restartable]


def status_of(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    found = kubectl.get(kubectl.tenants(namespace, name))
    assert found is not None, f"Tenant {namespace}/{name} is gone"
    status: dict[str, Any] = found.get("status") or {}
    return status


def ready_condition(status: dict[str, Any]) -> dict[str, Any]:
    conditions = [c for c in status.get("conditions", []) if c.get("type") == "Ready"]
    assert conditions, f"no Ready condition yet: {status}"
    condition: dict[str, Any] = conditions[0]
    return condition


def wait_phase(
    kubectl: Kubectl, namespace: str, name: str, phase: str, *, timeout: float = 20
) -> dict[str, Any]:
    def probe() -> dict[str, Any]:
        status = status_of(kubectl, namespace, name)
        assert status.get("phase") == phase, status
        return status

    return eventually(probe, timeout=timeout, what=f"{name} reaching phase {phase}")


def register(api: auth.AuthApi, tenant: str, username: str) -> httpx.Response:
    return api.http.post(
        "/v1/auth/register",
        json={"tenant": tenant, "username": username, "password": auth.PASSWORD},
    )


def login(api: auth.AuthApi, tenant: str, username: str, password: str) -> httpx.Response:
    return api.http.post(
        "/v1/auth/login", json={"tenant": tenant, "username": username, "password": password}
    )


def test_a_new_tenant_becomes_ready_and_its_users_can_register_and_log_in(
    run_operator: RunOperator,
    make_settings: MakeSettings,
    kubectl: Kubectl,
    api: auth.AuthApi,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    with run_operator(make_settings(), namespace):
        kubectl.tenant(namespace, name, {"displayName": "Acme", "selfRegistration": True})
        status = wait_phase(kubectl, namespace, name, "Ready")

        assert ready_condition(status)["status"] == "True"
        assert status["observedGeneration"] == 1
        assert register(api, name, "alice").status_code == 201
        assert login(api, name, "alice", auth.PASSWORD).status_code == 200
        # The timer refreshes the count auth reports.
        eventually(lambda: _users_are(kubectl, namespace, name, 1), what="users refreshed")

        tenant = kubectl.get(kubectl.tenants(namespace, name))
        assert tenant is not None
        assert "parley.dev/purge" in tenant["metadata"]["finalizers"]


def _users_are(kubectl: Kubectl, namespace: str, name: str, users: int) -> None:
    assert status_of(kubectl, namespace, name).get("users") == users


def test_patching_the_limits_makes_auth_enforce_them(
    run_operator: RunOperator,
    make_settings: MakeSettings,
    kubectl: Kubectl,
    api: auth.AuthApi,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    with run_operator(make_settings(), namespace):
        kubectl.tenant(namespace, name, {"selfRegistration": True})
        wait_phase(kubectl, namespace, name, "Ready")

        kubectl.patch(kubectl.tenants(namespace, name), {"spec": {"limits": {"maxUsers": 1}}})
        eventually(
            lambda: _observed(kubectl, namespace, name, 2), what="the new generation applied"
        )

        assert register(api, name, "alice").status_code == 201
        full = register(api, name, "bob")
        assert full.status_code == 403, full.text
        shown = api.http.get(f"/internal/v1/tenants/{name}", headers=api.admin).json()
        assert shown["limits"]["max_users"] == 1


def _observed(kubectl: Kubectl, namespace: str, name: str, generation: int) -> None:
    status = status_of(kubectl, namespace, name)
    assert status.get("observedGeneration") == generation, status
    assert status.get("phase") == "Ready", status


def test_a_suspended_tenant_refuses_logins_and_is_ready_with_a_suspended_condition(
    run_operator: RunOperator,
    make_settings: MakeSettings,
    kubectl: Kubectl,
    api: auth.AuthApi,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    with run_operator(make_settings(), namespace):
        kubectl.tenant(namespace, name, {"selfRegistration": True})
        wait_phase(kubectl, namespace, name, "Ready")
        assert register(api, name, "alice").status_code == 201

        kubectl.patch(kubectl.tenants(namespace, name), {"spec": {"suspended": True}})
        status = wait_phase(kubectl, namespace, name, "Suspended")

        # Ready stays True, so `kubectl wait --for=condition=Ready` ends for it too.
        assert (ready_condition(status)["status"], ready_condition(status)["reason"]) == (
            "True",
            "Suspended",
        )
        suspended = next(c for c in status["conditions"] if c["type"] == "Suspended")
        assert suspended["status"] == "True"
        assert login(api, name, "alice", auth.PASSWORD).status_code == 403

        kubectl.patch(kubectl.tenants(namespace, name), {"spec": {"suspended": False}})
        wait_phase(kubectl, namespace, name, "Ready")
        assert login(api, name, "alice", auth.PASSWORD).status_code == 200


def test_an_admin_with_a_generated_password_gets_a_secret_whose_credentials_log_in(
    run_operator: RunOperator,
    make_settings: MakeSettings,
    kubectl: Kubectl,
    api: auth.AuthApi,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    with run_operator(make_settings(), namespace):
        tenant = kubectl.tenant(namespace, name, {"admin": {"username": "root"}})
        status = wait_phase(kubectl, namespace, name, "Ready")

        assert status["adminSecretName"] == f"{name}-admin"
        secret = kubectl.get(kubectl.secrets(namespace, f"{name}-admin"))
        assert secret is not None
        data = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
        assert data["username"] == "root"
        assert data["tenant"] == name
        assert data["url"] == "https://chat.example.test"
        assert len(data["password"]) >= 16
        owners = secret["metadata"]["ownerReferences"]
        assert [(o["kind"], o["name"], o["uid"]) for o in owners] == [
            ("Tenant", name, tenant["metadata"]["uid"])
        ]
        assert login(api, data["tenant"], data["username"], data["password"]).status_code == 200
        assert status["users"] == 1


def test_deleting_a_tenant_purges_chat_then_auth_and_removes_the_finalizer(
    run_operator: RunOperator,
    make_settings: MakeSettings,
    kubectl: Kubectl,
    api: auth.AuthApi,
    chat_url: str,
    chat_database: str,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    with run_operator(make_settings(chat_url=chat_url), namespace):
        kubectl.tenant(namespace, name, {"selfRegistration": True})
        wait_phase(kubectl, namespace, name, "Ready")
        alice, bob = api.account(name), api.account(name)
        headers = api.bearer(api.login(alice))
        with httpx.Client(base_url=chat_url, headers=headers, timeout=10) as http:
            created = http.post("/v1/chats", json={"kind": "direct", "members": [bob.username]})
            assert created.status_code == 201, created.text
            messages = f"/v1/chats/{created.json()['id']}/messages"
            # A mention and a reaction too: a row in every chat table.
            sent = http.post(messages, json={"body": f"hi @{bob.username}"})
            assert sent.status_code == 201, sent.text
            assert http.put(f"{messages}/1/reactions/%3Aok%3A").status_code == 204
            # And the tenant backend's webhook.
            hook = http.put(
                "/v1/tenant/webhooks/push",
                json={"url": "https://hooks.example.com/parley", "events": ["message"]},
                headers=api.bearer(api.server_key(name)),
            )
            assert hook.status_code == 201, hook.text
        assert all(chat.rows_of_tenant(chat_database, name).values())

        kubectl.delete(kubectl.tenants(namespace, name))
        eventually(lambda: _gone(kubectl, namespace, name), what="the finalizer removed")

        assert chat.rows_of_tenant(chat_database, name) == dict.fromkeys(chat.CHAT_TABLES, 0)
        shown = api.http.get(f"/internal/v1/tenants/{name}", headers=api.admin)
        assert shown.status_code == 404
        assert login(api, name, alice.username, auth.PASSWORD).status_code == 401


def _gone(kubectl: Kubectl, namespace: str, name: str) -> None:
    assert kubectl.get(kubectl.tenants(namespace, name)) is None


def test_a_deletion_keeps_the_finalizer_until_chat_answers_and_leaves_auth_untouched(
    run_operator: RunOperator,
    make_settings: MakeSettings,
    make_chat_server: MakeServer,
    kubectl: Kubectl,
    api: auth.AuthApi,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    # A chat service that is down, at the address where it will come back.
    chat_server = make_chat_server().start()
    chat_server.stop()
    name = slug()
    with run_operator(make_settings(chat_url=chat_server.url), namespace):
        kubectl.tenant(namespace, name, {})
        wait_phase(kubectl, namespace, name, "Ready")

        kubectl.delete(kubectl.tenants(namespace, name))
        status = wait_phase(kubectl, namespace, name, "Deleting")
        assert ready_condition(status)["reason"] == "ChatUnavailable"
        # Chat is purged first: auth keeps the tenant while chat has not answered.
        assert api.http.get(f"/internal/v1/tenants/{name}", headers=api.admin).status_code == 200
        tenant = kubectl.get(kubectl.tenants(namespace, name))
        assert tenant is not None
        assert tenant["metadata"]["finalizers"] == ["parley.dev/purge"]

        with chat_server:
            eventually(lambda: _gone(kubectl, namespace, name), what="deleted once chat is up")
        assert api.http.get(f"/internal/v1/tenants/{name}", headers=api.admin).status_code == 404


def test_an_auth_outage_turns_ready_false_and_the_tenant_recovers_when_auth_returns(
    run_operator: RunOperator,
    make_settings: MakeSettings,
    make_auth_server: MakeServer,
    kubectl: Kubectl,
    api: auth.AuthApi,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    with (
        make_auth_server() as auth_server,
        run_operator(make_settings(auth_url=auth_server.url), namespace),
    ):
        kubectl.tenant(namespace, name, {"selfRegistration": True})
        wait_phase(kubectl, namespace, name, "Ready")

        auth_server.stop()
        status = wait_phase(kubectl, namespace, name, "Pending")
        condition = ready_condition(status)
        assert (condition["status"], condition["reason"]) == ("False", "AuthUnavailable")
        assert "retrying in" in condition["message"]
        # A change made during the outage is applied once auth is back.
        kubectl.patch(kubectl.tenants(namespace, name), {"spec": {"limits": {"maxUsers": 7}}})

        auth_server.start()
        eventually(lambda: _observed(kubectl, namespace, name, 2), what="recovered")
        shown = api.http.get(f"/internal/v1/tenants/{name}", headers=api.admin).json()
        assert shown["limits"]["max_users"] == 7


def test_a_tenant_deleted_behind_the_operators_back_is_recreated_with_its_admin(
    run_operator: RunOperator,
    make_settings: MakeSettings,
    kubectl: Kubectl,
    api: auth.AuthApi,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    with run_operator(make_settings(), namespace):
        kubectl.tenant(namespace, name, {"admin": {"username": "root"}})
        wait_phase(kubectl, namespace, name, "Ready")
        secret = kubectl.get(kubectl.secrets(namespace, f"{name}-admin"))
        assert secret is not None
        password = base64.b64decode(secret["data"]["password"]).decode()

        gone = api.http.delete(f"/internal/v1/tenants/{name}", headers=api.admin)
        assert gone.status_code == 204

        # Wait on what the admin API shows, not by logging in: a failed login counts
        # against the account, and polling faster than the timer runs locked the admin out
        # (429 for a minute) whenever the timer came later than ten attempts.
        def recreated() -> None:
            shown = api.http.get(f"/internal/v1/tenants/{name}", headers=api.admin)
            assert shown.status_code == 200, shown.text
            assert shown.json()["usage"]["users"] == 1, shown.text

        eventually(recreated, what="the timer re-creating the tenant and its admin")
        assert login(api, name, "root", password).status_code == 200


def test_an_invalid_spec_ends_in_phase_error_with_a_message_naming_the_field(
    run_operator: RunOperator,
    make_settings: MakeSettings,
    kubectl: Kubectl,
    api: auth.AuthApi,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    # The API server would refuse this with the CRD's schema; kmock validates nothing,
    # which stands in for a CRD older than the operator.
    name = slug()
    with run_operator(make_settings(), namespace):
        kubectl.tenant(namespace, name, {"limits": {"maxUsers": 0}})
        status = wait_phase(kubectl, namespace, name, "Error")

        condition = ready_condition(status)
        assert condition["reason"] == "InvalidSpec"
        assert "spec.limits.maxUsers" in condition["message"]
        assert api.http.get(f"/internal/v1/tenants/{name}", headers=api.admin).status_code == 404

        kubectl.patch(kubectl.tenants(namespace, name), {"spec": {"limits": {"maxUsers": 5}}})
        wait_phase(kubectl, namespace, name, "Ready")


def test_a_tenant_for_an_existing_tenant_is_refused_and_its_deletion_purges_nothing(
    run_operator: RunOperator,
    make_settings: MakeSettings,
    kubectl: Kubectl,
    api: auth.AuthApi,
    chat_url: str,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    theirs = {"display_name": "Theirs", "self_registration": True}
    created = api.http.put(f"/internal/v1/tenants/{name}", json=theirs, headers=api.admin)
    assert created.status_code == 201
    alice = api.account(name)
    with run_operator(make_settings(chat_url=chat_url), namespace):
        kubectl.tenant(namespace, name, {"displayName": "Mine", "admin": {"username": "root"}})
        status = wait_phase(kubectl, namespace, name, "Error")
        assert ready_condition(status)["reason"] == "TenantExists"
        stalled = next(c for c in status["conditions"] if c["type"] == "Stalled")
        assert (stalled["status"], stalled["reason"]) == ("True", "TenantExists")

        kubectl.delete(kubectl.tenants(namespace, name))
        eventually(lambda: _gone(kubectl, namespace, name), what="the finalizer removed")

    shown = api.http.get(f"/internal/v1/tenants/{name}", headers=api.admin)
    assert shown.status_code == 200
    assert shown.json()["display_name"] == "Theirs"
    assert login(api, name, alice.username, auth.PASSWORD).status_code == 200
    assert kubectl.get(kubectl.secrets(namespace, f"{name}-admin")) is None
