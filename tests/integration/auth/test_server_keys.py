"""docs/api.md "Tenant backends" as auth serves it: server keys issued and revoked by the
operator, and the users and tokens a tenant's backend makes with one, on a real server
over SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from parley_auth.app import create_app
from support import auth
from support.auth import PASSWORD, AuthApi
from support.problems import case, invalid, problem
from support.servers import ServedApp


def keys_path(tenant: str) -> str:
    return f"/internal/v1/tenants/{tenant}/server-keys"


def put_user(api: AuthApi, key: str, username: str, **body: Any) -> Any:
    return api.http.put(f"/v1/tenant/users/{username}", json=body, headers=api.bearer(key))


def mint(api: AuthApi, key: str, username: str, **body: Any) -> Any:
    return api.http.post(f"/v1/tenant/users/{username}/tokens", json=body, headers=api.bearer(key))


# -- the operator's routes ------------------------------------------------------------


def test_a_new_server_key_is_shown_once_and_listed_without_its_secret(api: AuthApi) -> None:
    tenant = api.tenant()
    response = api.http.post(keys_path(tenant), json={"name": "backend"}, headers=api.admin)
    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == {"id", "name", "key", "created_at"}
    assert created["name"] == "backend"
    assert created["key"].startswith("psk_")
    assert len(created["key"]) >= 4 + 43  # 256 random bits, base64url
    listed = api.http.get(keys_path(tenant), headers=api.admin).json()["server_keys"]
    assert listed == [{k: created[k] for k in ("id", "name", "created_at")}]
    assert created["key"] not in str(listed)


def test_a_second_key_of_the_same_name_in_a_tenant_is_a_409_but_another_tenant_may_have_it(
    api: AuthApi,
) -> None:
    tenant, other = api.tenant(), api.tenant()
    api.server_key(tenant, "backend")
    again = api.http.post(keys_path(tenant), json={"name": "backend"}, headers=api.admin)
    problem(again, 409)
    assert api.server_key(other, "backend").startswith("psk_")


def test_server_key_routes_need_the_admin_token_and_a_known_tenant(api: AuthApi) -> None:
    tenant = api.tenant()
    problem(api.http.post(keys_path(tenant), json={"name": "x1"}), 401)
    problem(api.http.get(keys_path(tenant)), 401)
    key = api.server_key(tenant)
    problem(api.http.get(keys_path(tenant), headers=api.bearer(key)), 401)
    problem(api.http.post(keys_path("nobody"), json={"name": "x1"}, headers=api.admin), 404)
    problem(api.http.get(keys_path("nobody"), headers=api.admin), 404)


def test_a_revoked_key_is_refused_at_once_and_revoking_it_again_is_a_404(api: AuthApi) -> None:
    tenant = api.tenant()
    key = api.server_key(tenant)
    assert put_user(api, key, "alice").status_code == 201
    key_id = api.http.get(keys_path(tenant), headers=api.admin).json()["server_keys"][0]["id"]
    revoked = api.http.delete(f"{keys_path(tenant)}/{key_id}", headers=api.admin)
    assert revoked.status_code == 204, revoked.text
    problem(put_user(api, key, "alice"), 401)
    problem(mint(api, key, "alice"), 401)
    problem(api.http.delete(f"{keys_path(tenant)}/{key_id}", headers=api.admin), 404)
    assert api.http.get(keys_path(tenant), headers=api.admin).json() == {"server_keys": []}


def test_a_key_cannot_be_revoked_through_another_tenant(api: AuthApi) -> None:
    tenant, other = api.tenant(), api.tenant()
    key = api.server_key(tenant)
    key_id = api.http.get(keys_path(tenant), headers=api.admin).json()["server_keys"][0]["id"]
    problem(api.http.delete(f"{keys_path(other)}/{key_id}", headers=api.admin), 404)
    assert put_user(api, key, "alice").status_code == 201


def test_deleting_a_tenant_ends_its_keys(api: AuthApi) -> None:
    tenant = api.tenant()
    key = api.server_key(tenant)
    assert api.http.delete(f"/internal/v1/tenants/{tenant}", headers=api.admin).status_code == 204
    api.tenant()  # another tenant, so the key's lookup has rows to miss
    problem(put_user(api, key, "alice"), 401)


def test_introspection_names_a_live_key_and_404s_anything_else(api: AuthApi) -> None:
    tenant = api.tenant()
    key = api.server_key(tenant, "events")
    url = "/internal/v1/server-keys/introspect"
    found = api.http.post(url, json={"key": key}, headers=api.admin)
    assert found.status_code == 200, found.text
    assert found.json()["tenant"] == tenant
    assert found.json()["name"] == "events"
    assert found.json()["suspended"] is False
    for bogus in ("psk_" + "A" * 43, "not-a-key", key + "x", "psk_\x00"):
        with case(bogus):
            problem(api.http.post(url, json={"key": bogus}, headers=api.admin), 404)
    problem(api.http.post(url, json={"key": key}, headers=api.bearer(key)), 401)


# -- scope: server keys only on /v1/tenant, and nothing else there ---------------------


def test_a_server_key_is_refused_on_user_routes(api: AuthApi) -> None:
    key = api.server_key(api.tenant())
    problem(api.http.get("/v1/auth/me", headers=api.bearer(key)), 401)
    problem(api.http.get("/v1/users/", headers=api.bearer(key)), 401)


def test_user_tokens_and_the_admin_token_are_refused_on_tenant_routes(api: AuthApi) -> None:
    account = api.account()
    access = api.login(account)["access_token"]
    for bearer in (access, auth.ADMIN_TOKEN):
        with case(bearer[:12]):
            problem(put_user(api, bearer, "alice"), 401)
            problem(mint(api, bearer, account.username), 401)


def test_bogus_and_malformed_server_keys_are_a_401(api: AuthApi) -> None:
    api.server_key(api.tenant())
    for header in (
        b"Bearer psk_" + b"A" * 43,
        b"Bearer psk_",
        b"Bearer psk_" + b"x" * 10_000,
        "Bearer psk_\u00e9".encode("latin-1"),
        b"Basic psk_abc",
        b"Bearer",
        b"psk_abc",
        b"Bearer psk_ x",
    ):
        with case(header[:40]):
            response = api.http.put(
                "/v1/tenant/users/alice", json={}, headers={b"Authorization": header}
            )
            problem(response, 401)
    problem(api.http.put("/v1/tenant/users/alice", json={}), 401)


def test_a_key_of_one_tenant_never_sees_nor_touches_the_users_of_another(api: AuthApi) -> None:
    mine, theirs = api.tenant(), api.tenant()
    their_account = api.account(theirs)
    key = api.server_key(mine)
    problem(mint(api, key, their_account.username), 404)
    # The same username in the key's tenant is a new user there, not theirs.
    created = put_user(api, key, their_account.username, display_name="Mine")
    assert created.status_code == 201, created.text
    assert created.json()["tenant"] == mine
    assert created.json()["id"] != their_account.id
    theirs_now = api.http.get("/v1/auth/me", headers=api.bearer(api.login(their_account)))
    assert theirs_now.json()["display_name"] == their_account.username


# -- users and tokens ------------------------------------------------------------------


def test_a_tenant_user_is_created_then_updated_and_keeps_what_is_not_given(api: AuthApi) -> None:
    tenant = api.tenant()
    key = api.server_key(tenant)
    created = put_user(api, key, "helper.bot", display_name="Helper", kind="bot")
    assert created.status_code == 201, created.text
    assert created.json()["kind"] == "bot"
    assert created.json()["display_name"] == "Helper"
    assert created.json()["tenant"] == tenant
    updated = put_user(api, key, "helper.bot", display_name="Helper 2")
    assert updated.status_code == 200, updated.text
    assert updated.json()["id"] == created.json()["id"]
    assert updated.json()["kind"] == "bot"
    assert updated.json()["display_name"] == "Helper 2"
    default = put_user(api, key, "carol")
    assert default.json()["kind"] == "person"
    assert default.json()["display_name"] == "carol"


def test_a_tenant_user_cannot_log_in_with_a_password(api: AuthApi) -> None:
    tenant = api.tenant()
    key = api.server_key(tenant)
    put_user(api, key, "alice")
    for password in (PASSWORD, "", "x"):
        with case(password):
            response = api.http.post(
                "/v1/auth/login",
                json={"tenant": tenant, "username": "alice", "password": password or "?"},
            )
            wrong = api.http.post(
                "/v1/auth/login",
                json={"tenant": tenant, "username": "nobody", "password": PASSWORD},
            )
            assert problem(response, 401)["detail"] == problem(wrong, 401)["detail"]


def test_minted_tokens_work_like_a_login_and_refresh(api: AuthApi) -> None:
    tenant = api.tenant()
    key = api.server_key(tenant)
    user = put_user(api, key, "alice", display_name="Alice").json()
    pair = mint(api, key, "alice")
    assert pair.status_code == 200, pair.text
    tokens = pair.json()
    assert tokens["token_type"] == "Bearer"
    me = api.http.get("/v1/auth/me", headers=api.bearer(tokens))
    assert me.status_code == 200, me.text
    assert me.json()["id"] == user["id"]
    refreshed = api.http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text


def test_the_ttl_sets_the_access_tokens_lifetime_within_bounds(api: AuthApi) -> None:
    key = api.server_key(api.tenant())
    put_user(api, key, "alice")
    assert mint(api, key, "alice", ttl_seconds=120).json()["expires_in"] == 120
    assert mint(api, key, "alice", ttl_seconds=86_400).json()["expires_in"] == 86_400
    for ttl in (0, 59, -1, 86_401, 10**12, "ten minutes", [600], 1.5):
        with case(ttl):
            invalid(mint(api, key, "alice", ttl_seconds=ttl), "ttl_seconds")


def test_minting_for_an_unknown_user_is_a_404(api: AuthApi) -> None:
    key = api.server_key(api.tenant())
    problem(mint(api, key, "nobody"), 404)


def test_a_tenant_users_names_follow_the_contract(api: AuthApi) -> None:
    key = api.server_key(api.tenant())
    for username in ("ab", "Alice", "a" * 33, "x" * 10_000, "-ab", "al ice", "al%00ice"):
        with case(username[:40]):
            response = put_user(api, key, username)
            problem(response, 400, 404, 422)
    for kind in ("robot", "", 1, "x" * 10_000, ["bot"], "BOT"):
        with case(kind):
            invalid(put_user(api, key, "alice", kind=kind), "kind")
    invalid(put_user(api, key, "alice", display_name="x" * 10_000), "display_name")


def test_a_server_key_name_follows_the_slug_rules(api: AuthApi) -> None:
    tenant = api.tenant()
    for name in ("", "Backend", "-x", "x" * 33, "x" * 10_000, "a b", "a_b", "\x00", 7, None):
        with case(name):
            response = api.http.post(keys_path(tenant), json={"name": name}, headers=api.admin)
            invalid(response, "name")


def test_max_users_holds_for_tenant_users(api: AuthApi) -> None:
    tenant = api.tenant(limits={"max_users": 1})
    key = api.server_key(tenant)
    assert put_user(api, key, "alice").status_code == 201
    problem(put_user(api, key, "bob"), 403)
    assert put_user(api, key, "alice", display_name="Still Alice").status_code == 200


def test_a_suspended_tenants_key_writes_nothing(api: AuthApi) -> None:
    tenant = api.tenant()
    key = api.server_key(tenant)
    put_user(api, key, "alice")
    api.http.put(f"/internal/v1/tenants/{tenant}", json={"suspended": True}, headers=api.admin)
    problem(put_user(api, key, "bob"), 403)
    problem(mint(api, key, "alice"), 403)


def test_past_the_per_key_limit_tenant_routes_are_a_429_with_retry_after(
    tmp_path: Path, database_url: str
) -> None:
    settings = auth.settings(tmp_path, database_url, server_key_requests_per_minute=3)
    with ServedApp(create_app(settings)) as served, AuthApi(served.url) as api:
        tenant = api.tenant()
        key, other = api.server_key(tenant, "one"), api.server_key(tenant, "two")
        for _ in range(3):
            assert put_user(api, key, f"u{uuid.uuid4().hex[:8]}").status_code == 201
        refused = mint(api, key, "nobody")
        problem(refused, 429)
        assert int(refused.headers["retry-after"]) >= 1
        # Each key has its own budget.
        assert put_user(api, other, "alice").status_code == 201


def test_a_server_key_is_refused_on_chat_routes(api: AuthApi, chat_server: str) -> None:
    key = api.server_key(api.tenant())
    for method, path in (("GET", "/v1/chats"), ("POST", "/v1/chats")):
        with case(method, path):
            response = httpx.request(
                method, f"{chat_server}{path}", json={}, headers=api.bearer(key), timeout=10
            )
            problem(response, 401)
