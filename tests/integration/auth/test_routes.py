"""Every Auth API route of docs/api.md, on a live server, on SQLite and PostgreSQL."""

from __future__ import annotations

import jwt

from support.auth import PASSWORD, AuthApi


def test_register_returns_the_user_in_the_contract_shape(api: AuthApi) -> None:
    tenant = api.tenant()
    response = api.http.post(
        "/v1/auth/register",
        json={
            "tenant": tenant,
            "username": "alice",
            "password": PASSWORD,
            "display_name": "Alice A.",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "tenant", "username", "display_name", "created_at", "kind"}
    assert (body["tenant"], body["username"], body["display_name"]) == (tenant, "alice", "Alice A.")
    assert body["created_at"].endswith("Z") or body["created_at"].endswith("+00:00")


def test_display_name_defaults_to_the_username(api: AuthApi) -> None:
    account = api.account()
    me = api.http.get("/v1/auth/me", headers=api.bearer(api.login(account))).json()
    assert me["display_name"] == account.username


def test_login_returns_a_bearer_pair_whose_access_token_carries_the_contract_claims(
    api: AuthApi,
) -> None:
    account = api.account()
    tokens = api.login(account)
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 900
    header = jwt.get_unverified_header(tokens["access_token"])
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert header["alg"] == "EdDSA"
    jwks = api.http.get("/.well-known/jwks.json").json()
    assert header["kid"] in {key["kid"] for key in jwks["keys"]}
    assert claims["sub"] == account.id
    assert claims["tid"] == account.tenant
    assert claims["username"] == account.username
    assert {"exp", "iat", "jti"} <= set(claims)


def test_the_access_token_verifies_against_the_published_jwks(api: AuthApi) -> None:
    tokens = api.login(api.account())
    jwks = jwt.PyJWKSet.from_dict(api.http.get("/.well-known/jwks.json").json())
    kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
    claims = jwt.decode(tokens["access_token"], jwks[kid], algorithms=["EdDSA"])
    assert claims["tid"]


def test_me_returns_the_caller(api: AuthApi) -> None:
    account = api.account()
    response = api.http.get("/v1/auth/me", headers=api.bearer(api.login(account)))
    assert response.status_code == 200
    assert response.json()["id"] == account.id


def test_me_without_a_token_is_401(api: AuthApi) -> None:
    response = api.http.get("/v1/auth/me")
    assert response.status_code == 401
    assert response.json()["status_code"] == 401
    assert response.json()["detail"]


def test_refresh_rotates_the_pair(api: AuthApi) -> None:
    first = api.login(api.account())
    response = api.http.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 200
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert api.http.get("/v1/auth/me", headers=api.bearer(second)).status_code == 200


def test_a_refresh_token_is_single_use(api: AuthApi) -> None:
    first = api.login(api.account())
    assert (
        api.http.post(
            "/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
        ).status_code
        == 200
    )
    again = api.http.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert again.status_code == 401


def test_reused_refresh_token_revokes_the_whole_family(api: AuthApi) -> None:
    first = api.login(api.account())
    second = api.http.post(
        "/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    ).json()
    # The thief replays the old token; the legitimate holder's newer one dies with it.
    assert (
        api.http.post(
            "/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
        ).status_code
        == 401
    )
    assert (
        api.http.post(
            "/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
        ).status_code
        == 401
    )


def test_reuse_in_one_login_leaves_other_logins_alone(api: AuthApi) -> None:
    account = api.account()
    stolen, other = api.login(account), api.login(account)
    api.http.post("/v1/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
    api.http.post("/v1/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
    response = api.http.post("/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})
    assert response.status_code == 200


def test_logout_revokes_the_family(api: AuthApi) -> None:
    tokens = api.login(api.account())
    rotated = api.http.post(
        "/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    ).json()
    assert (
        api.http.post(
            "/v1/auth/logout", json={"refresh_token": rotated["refresh_token"]}
        ).status_code
        == 204
    )
    assert (
        api.http.post(
            "/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
        ).status_code
        == 401
    )


def test_logout_with_an_unknown_token_is_401(api: AuthApi) -> None:
    tenant_hex = api.http.get(f"/internal/v1/tenants/{api.tenant()}", headers=api.admin).json()[
        "id"
    ]
    forged = tenant_hex.replace("-", "") + ".not-a-real-secret"
    assert api.http.post("/v1/auth/logout", json={"refresh_token": forged}).status_code == 401
    assert api.http.post("/v1/auth/logout", json={"refresh_token": "garbage"}).status_code == 401


def test_users_directory_lists_the_callers_tenant_by_prefix(api: AuthApi) -> None:
    tenant = api.tenant()
    for name in ("abby", "abel", "zed"):
        api.http.post(
            "/v1/auth/register", json={"tenant": tenant, "username": name, "password": PASSWORD}
        )
    other_tenant = api.tenant()
    api.http.post(
        "/v1/auth/register",
        json={"tenant": other_tenant, "username": "abner", "password": PASSWORD},
    )
    tokens = api.http.post(
        "/v1/auth/login", json={"tenant": tenant, "username": "zed", "password": PASSWORD}
    ).json()
    response = api.http.get("/v1/users", params={"prefix": "ab"}, headers=api.bearer(tokens))
    assert response.status_code == 200
    assert [user["username"] for user in response.json()["users"]] == ["abby", "abel"]
    everyone = api.http.get("/v1/users", headers=api.bearer(tokens)).json()["users"]
    assert [user["username"] for user in everyone] == ["abby", "abel", "zed"]


def test_users_directory_treats_like_wildcards_literally(api: AuthApi) -> None:
    account = api.account()
    response = api.http.get(
        "/v1/users", params={"prefix": "%"}, headers=api.bearer(api.login(account))
    )
    assert response.json()["users"] == []
    response = api.http.get(
        "/v1/users", params={"prefix": "_"}, headers=api.bearer(api.login(account))
    )
    assert response.json()["users"] == []


def test_users_directory_honours_limit(api: AuthApi) -> None:
    tenant = api.tenant()
    accounts = [api.account(tenant) for _ in range(3)]
    response = api.http.get(
        "/v1/users", params={"limit": 2}, headers=api.bearer(api.login(accounts[0]))
    )
    assert len(response.json()["users"]) == 2


def test_users_directory_needs_a_token(api: AuthApi) -> None:
    assert api.http.get("/v1/users").status_code == 401
