"""The tenant rules of docs/api.md, through the live API on SQLite and PostgreSQL.

Registration and login against each tenant state (unknown, closed, suspended, full), the
operator's tenant and user upserts, tenant deletion, and that no tenant sees another's users.
"""

from __future__ import annotations

from typing import Any

import httpx

from support.auth import PASSWORD, AuthApi

OTHER_PASSWORD = "a different passphrase"


def register(api: AuthApi, tenant: str, username: str, password: str = PASSWORD) -> httpx.Response:
    return api.http.post(
        "/v1/auth/register", json={"tenant": tenant, "username": username, "password": password}
    )


def login(api: AuthApi, tenant: str, username: str, password: str = PASSWORD) -> httpx.Response:
    return api.http.post(
        "/v1/auth/login", json={"tenant": tenant, "username": username, "password": password}
    )


def put_tenant(api: AuthApi, slug: str, **spec: Any) -> httpx.Response:
    body = {"display_name": slug, "self_registration": True, **spec}
    return api.http.put(f"/internal/v1/tenants/{slug}", json=body, headers=api.admin)


def put_user(api: AuthApi, slug: str, username: str, password: str, **extra: Any) -> httpx.Response:
    return api.http.put(
        f"/internal/v1/tenants/{slug}/users/{username}",
        json={"password": password, **extra},
        headers=api.admin,
    )


def usage(api: AuthApi, slug: str) -> int:
    response = api.http.get(f"/internal/v1/tenants/{slug}", headers=api.admin)
    assert response.status_code == 200, response.text
    users: int = response.json()["usage"]["users"]
    return users


def assert_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status_code"] == status
    assert body["detail"]


# -- registration --------------------------------------------------------------------------


def test_registering_into_an_unknown_tenant_is_404(api: AuthApi) -> None:
    assert_error(register(api, "t-no-such-tenant", "alice"), 404)


def test_registering_while_self_registration_is_off_is_403(api: AuthApi) -> None:
    tenant = api.tenant(self_registration=False)
    assert_error(register(api, tenant, "alice"), 403)
    assert usage(api, tenant) == 0


def test_registering_into_a_suspended_tenant_is_403(api: AuthApi) -> None:
    tenant = api.tenant(suspended=True)
    assert_error(register(api, tenant, "alice"), 403)
    assert usage(api, tenant) == 0


def test_registering_past_max_users_is_403_and_adds_nobody(api: AuthApi) -> None:
    tenant = api.tenant(limits={"max_users": 2})
    assert register(api, tenant, "alice").status_code == 201
    assert register(api, tenant, "bobby").status_code == 201
    assert_error(register(api, tenant, "carol"), 403)
    assert usage(api, tenant) == 2
    assert_error(login(api, tenant, "carol"), 401)


def test_raising_max_users_reopens_registration(api: AuthApi) -> None:
    tenant = api.tenant(limits={"max_users": 1})
    assert register(api, tenant, "alice").status_code == 201
    assert_error(register(api, tenant, "bobby"), 403)
    assert put_tenant(api, tenant, limits={"max_users": 2}).status_code == 200
    assert register(api, tenant, "bobby").status_code == 201


def test_a_taken_username_is_409_and_keeps_the_first_password(api: AuthApi) -> None:
    tenant = api.tenant()
    assert register(api, tenant, "alice").status_code == 201
    assert_error(register(api, tenant, "alice", OTHER_PASSWORD), 409)
    assert usage(api, tenant) == 1
    assert login(api, tenant, "alice").status_code == 200
    assert_error(login(api, tenant, "alice", OTHER_PASSWORD), 401)


def test_the_same_username_in_two_tenants_is_two_accounts(api: AuthApi) -> None:
    first, second = api.tenant(), api.tenant()
    one = register(api, first, "alice")
    two = register(api, second, "alice", OTHER_PASSWORD)
    assert (one.status_code, two.status_code) == (201, 201)
    assert one.json()["id"] != two.json()["id"]
    assert login(api, first, "alice").status_code == 200
    assert login(api, second, "alice", OTHER_PASSWORD).status_code == 200
    # Each password opens only its own tenant's account.
    assert_error(login(api, first, "alice", OTHER_PASSWORD), 401)
    assert_error(login(api, second, "alice"), 401)


# -- login ---------------------------------------------------------------------------------


def test_a_suspended_tenant_refuses_login_with_403_for_the_right_password(api: AuthApi) -> None:
    tenant = api.tenant()
    assert register(api, tenant, "alice").status_code == 201
    assert put_tenant(api, tenant, suspended=True).status_code == 200
    assert_error(login(api, tenant, "alice"), 403)


def test_a_suspended_tenant_answers_a_wrong_password_with_401_not_revealing_suspension(
    api: AuthApi,
) -> None:
    tenant = api.tenant()
    assert register(api, tenant, "alice").status_code == 201
    assert put_tenant(api, tenant, suspended=True).status_code == 200
    wrong = login(api, tenant, "alice", OTHER_PASSWORD)
    unknown = login(api, tenant, "nobody")
    assert_error(wrong, 401)
    assert wrong.json() == unknown.json()
    assert "suspend" not in wrong.text.lower()


def test_suspension_also_stops_refresh_and_lifting_it_restores_login(api: AuthApi) -> None:
    tenant = api.tenant()
    assert register(api, tenant, "alice").status_code == 201
    tokens = login(api, tenant, "alice").json()
    assert put_tenant(api, tenant, suspended=True).status_code == 200
    refreshed = api.http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert_error(refreshed, 401)
    assert put_tenant(api, tenant, suspended=False).status_code == 200
    assert login(api, tenant, "alice").status_code == 200


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(api: AuthApi) -> None:
    tenant = api.tenant()
    assert register(api, tenant, "alice").status_code == 201
    answers = [
        login(api, tenant, "alice", OTHER_PASSWORD),
        login(api, tenant, "nobody"),
        login(api, "t-no-such-tenant", "alice"),
    ]
    for answer in answers:
        assert_error(answer, 401)
    assert answers[0].json() == answers[1].json() == answers[2].json()
    assert (
        answers[0].headers.get("www-authenticate")
        == answers[1].headers.get("www-authenticate")
        == answers[2].headers.get("www-authenticate")
    )


# -- the operator's tenant upsert ----------------------------------------------------------


def test_put_tenant_creates_with_201_then_updates_with_200(api: AuthApi) -> None:
    slug = "t-put-twice"
    created = put_tenant(
        api, slug, display_name="First", limits={"max_users": 7, "max_message_chars": 100}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["slug"] == slug
    assert body["display_name"] == "First"
    assert body["self_registration"] is True
    assert body["suspended"] is False
    assert body["limits"]["max_users"] == 7
    assert body["limits"]["max_message_chars"] == 100
    assert body["usage"] == {"users": 0}

    updated = put_tenant(
        api, slug, display_name="Second", self_registration=False, limits={"max_users": 9}
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["id"] == body["id"]
    assert updated.json()["display_name"] == "Second"
    assert updated.json()["self_registration"] is False
    assert updated.json()["limits"]["max_users"] == 9
    fetched = api.http.get(f"/internal/v1/tenants/{slug}", headers=api.admin)
    assert fetched.status_code == 200
    assert fetched.json()["display_name"] == "Second"
    assert fetched.json()["limits"] == updated.json()["limits"]


def test_tenant_usage_counts_its_users(api: AuthApi) -> None:
    tenant, other = api.tenant(), api.tenant()
    for name in ("alice", "bobby", "carol"):
        assert register(api, tenant, name).status_code == 201
    assert register(api, other, "alice").status_code == 201
    assert usage(api, tenant) == 3
    assert usage(api, other) == 1
    assert put_tenant(api, tenant).json()["usage"] == {"users": 3}
    assert put_user(api, tenant, "admin", PASSWORD).status_code == 201
    assert usage(api, tenant) == 4


def test_getting_an_unknown_tenant_is_404(api: AuthApi) -> None:
    assert_error(api.http.get("/internal/v1/tenants/t-no-such-tenant", headers=api.admin), 404)


# -- tenant deletion -----------------------------------------------------------------------


def test_deleting_a_tenant_is_204_twice_and_ends_its_users_sessions(api: AuthApi) -> None:
    tenant, bystander = api.tenant(), api.tenant()
    assert register(api, tenant, "alice").status_code == 201
    assert register(api, bystander, "alice").status_code == 201
    tokens = login(api, tenant, "alice").json()
    bystander_tokens = login(api, bystander, "alice").json()

    first = api.http.delete(f"/internal/v1/tenants/{tenant}", headers=api.admin)
    again = api.http.delete(f"/internal/v1/tenants/{tenant}", headers=api.admin)
    assert (first.status_code, again.status_code) == (204, 204)
    assert_error(api.http.get(f"/internal/v1/tenants/{tenant}", headers=api.admin), 404)
    assert_error(login(api, tenant, "alice"), 401)
    refreshed = api.http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert_error(refreshed, 401)
    assert_error(api.http.get("/v1/auth/me", headers=api.bearer(tokens)), 401)
    # The other tenant's identical username is untouched.
    assert login(api, bystander, "alice").status_code == 200
    rotated = api.http.post(
        "/v1/auth/refresh", json={"refresh_token": bystander_tokens["refresh_token"]}
    )
    assert rotated.status_code == 200


def test_a_tenant_recreated_under_the_same_slug_inherits_nothing(api: AuthApi) -> None:
    tenant = api.tenant()
    assert register(api, tenant, "alice").status_code == 201
    tokens = login(api, tenant, "alice").json()
    assert api.http.delete(f"/internal/v1/tenants/{tenant}", headers=api.admin).status_code == 204
    recreated = put_tenant(api, tenant)
    assert recreated.status_code == 201
    assert recreated.json()["usage"] == {"users": 0}
    assert_error(login(api, tenant, "alice"), 401)
    refreshed = api.http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert_error(refreshed, 401)
    assert register(api, tenant, "alice", OTHER_PASSWORD).status_code == 201


def test_deleting_an_unknown_tenant_is_204(api: AuthApi) -> None:
    response = api.http.delete("/internal/v1/tenants/t-never-made", headers=api.admin)
    assert response.status_code == 204


# -- the operator's user upsert ------------------------------------------------------------


def test_put_user_creates_with_201_then_updates_with_200_and_rotates_the_password(
    api: AuthApi,
) -> None:
    tenant = api.tenant(self_registration=False)
    created = put_user(api, tenant, "admin", PASSWORD, display_name="The Admin")
    assert created.status_code == 201, created.text
    assert created.json()["username"] == "admin"
    assert created.json()["tenant"] == tenant
    assert created.json()["display_name"] == "The Admin"
    assert login(api, tenant, "admin").status_code == 200

    updated = put_user(api, tenant, "admin", OTHER_PASSWORD)
    assert updated.status_code == 200, updated.text
    assert updated.json()["id"] == created.json()["id"]
    assert updated.json()["display_name"] == "The Admin"
    assert login(api, tenant, "admin", OTHER_PASSWORD).status_code == 200
    assert_error(login(api, tenant, "admin"), 401)
    assert usage(api, tenant) == 1


def test_put_user_into_an_unknown_tenant_is_404(api: AuthApi) -> None:
    assert_error(put_user(api, "t-no-such-tenant", "admin", PASSWORD), 404)


# -- isolation -----------------------------------------------------------------------------


def test_a_user_never_sees_another_tenants_users(api: AuthApi) -> None:
    mine, theirs = api.tenant(), api.tenant()
    for name in ("alice", "amber"):
        assert register(api, mine, name).status_code == 201
    for name in ("alice", "arthur", "zoe"):
        assert register(api, theirs, name).status_code == 201
    headers = api.bearer(login(api, mine, "alice").json())

    for params in ({}, {"prefix": "a"}, {"prefix": "ar"}, {"prefix": "z"}, {"limit": 200}):
        response = api.http.get("/v1/users", params=params, headers=headers)
        assert response.status_code == 200, (params, response.text)
        users = response.json()["users"]
        assert {user["tenant"] for user in users} <= {mine}, params
        assert {user["username"] for user in users} <= {"alice", "amber"}, params
    everyone = api.http.get("/v1/users", headers=headers).json()["users"]
    assert [user["username"] for user in everyone] == ["alice", "amber"]
    mine_ids = {user["id"] for user in everyone}
    their_alice = login(api, theirs, "alice").json()
    their_view = api.http.get("/v1/users", headers=api.bearer(their_alice)).json()["users"]
    assert [user["username"] for user in their_view] == ["alice", "arthur", "zoe"]
    assert mine_ids.isdisjoint(user["id"] for user in their_view)


def test_internal_user_lookup_returns_only_the_named_users_of_that_tenant(api: AuthApi) -> None:
    tenant, other = api.tenant(), api.tenant()
    alice, bob = api.account(tenant), api.account(tenant)
    stranger = api.account(other)
    response = api.http.get(
        f"/internal/v1/tenants/{tenant}/users",
        params={"username": [alice.username, bob.username, stranger.username, "nobody"]},
        headers=api.admin,
    )
    assert response.status_code == 200
    found = {(user["username"], user["id"]) for user in response.json()["users"]}
    assert found == {(alice.username, alice.id), (bob.username, bob.id)}


def test_internal_user_lookup_needs_the_admin_token_a_known_tenant_and_a_name(
    api: AuthApi,
) -> None:
    tenant = api.tenant()
    path = f"/internal/v1/tenants/{tenant}/users"
    assert api.http.get(path, params={"username": "alice"}).status_code == 401
    missing = api.http.get(path, headers=api.admin)
    assert missing.status_code == 400
    assert "username" in missing.json()["detail"]
    unknown = "/internal/v1/tenants/no-such-tenant/users"
    assert api.http.get(unknown, params={"username": "x"}, headers=api.admin).status_code == 404


def test_a_token_of_a_deleted_tenant_cannot_list_the_users_of_its_successor(
    api: AuthApi,
) -> None:
    tenant = api.tenant()
    assert register(api, tenant, "ghost").status_code == 201
    old = api.bearer(login(api, tenant, "ghost").json())
    deleted = api.http.delete(f"/internal/v1/tenants/{tenant}", headers=api.admin)
    assert deleted.status_code == 204
    assert put_tenant(api, tenant, self_registration=True).status_code == 201
    assert register(api, tenant, "newcomer").status_code == 201

    assert api.http.get("/v1/users", headers=old).status_code == 401
    new = api.bearer(login(api, tenant, "newcomer").json())
    listed = api.http.get("/v1/users", headers=new).json()["users"]
    assert [user["username"] for user in listed] == ["newcomer"]
