"""Forged, altered and stale credentials are refused by a live auth server.

The server here signs with a key the test wrote, so the test can also sign with it: a token
made with the real key and valid claims is accepted (the control), and each refused token
differs from it in the one respect under test. Covers the access token on every
authenticated route, refresh-token reuse, and the admin token of the `/internal` routes.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from parley_auth.app import create_app
from support import auth, tokens
from support.auth import ADMIN_TOKEN, Account, AuthApi
from support.servers import ServedApp

AUTHENTICATED_ROUTES = ("/v1/auth/me", "/v1/users")


@dataclass(frozen=True)
class KeyedServer:
    """A live auth server and the private key it signs access tokens with."""

    url: str
    key: Ed25519PrivateKey
    jwk: dict[str, Any]


@pytest.fixture(scope="module")
def keyed_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    # Access tokens are checked before any query, so the backend is not under test here;
    # one SQLite file keeps these many cases fast. Refresh and admin tokens, which are
    # database state, are tested below on both backends.
    return auth.migrated(f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('keyed-db')}/auth.db")


@pytest.fixture(scope="module")
def keyed_server(
    keyed_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KeyedServer]:
    data_dir = tmp_path_factory.mktemp("keyed")
    key = tokens.write_signing_key(data_dir / "signing.pem")
    settings = auth.settings(data_dir, keyed_database, signing_key_file=data_dir / "signing.pem")
    with ServedApp(create_app(settings)) as served, httpx.Client(base_url=served.url) as http:
        (jwk,) = http.get("/.well-known/jwks.json").json()["keys"]
        yield KeyedServer(served.url, key, jwk)


@pytest.fixture
def keyed_api(keyed_server: KeyedServer, keyed_database: str) -> Iterator[AuthApi]:
    client = AuthApi(keyed_server.url)
    try:
        yield client
    finally:
        client.close()
        auth.truncate(keyed_database)


@pytest.fixture
def account(keyed_api: AuthApi) -> Account:
    return keyed_api.account()


def claims_of(account: Account, **changes: Any) -> dict[str, Any]:
    claims = tokens.claims(sub=account.id, tid=account.tenant, username=account.username)
    claims.update(changes)
    return claims


def assert_refused_everywhere(api: AuthApi, token: str) -> None:
    for route in AUTHENTICATED_ROUTES:
        response = api.http.get(route, headers=api.bearer(token))
        assert response.status_code == 401, (route, response.text)
        assert response.json()["status_code"] == 401
        assert response.headers["www-authenticate"].lower().startswith("bearer")


def public_key_of(jwk: dict[str, Any]) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(tokens.b64url_decode(jwk["x"]))


def test_the_jwks_kid_is_the_rfc_7638_thumbprint_of_the_key_the_test_wrote(
    keyed_server: KeyedServer,
) -> None:
    public = keyed_server.key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert keyed_server.jwk["x"] == tokens.b64url(public)
    assert keyed_server.jwk["kid"] == jwt.PyJWK(keyed_server.jwk).key_id
    # RFC 7638 section 3.2: the required members, in lexicographic order, no white space.
    canonical = f'{{"crv":"Ed25519","kty":"OKP","x":"{keyed_server.jwk["x"]}"}}'
    thumbprint = tokens.b64url(hashlib.sha256(canonical.encode()).digest())
    assert keyed_server.jwk["kid"] == thumbprint


def test_a_token_the_test_signs_with_the_servers_key_is_accepted(
    keyed_api: AuthApi, keyed_server: KeyedServer, account: Account
) -> None:
    # The control for every refusal below: hand-made tokens are not refused for their make.
    token = tokens.ed25519(keyed_server.key, claims_of(account), kid=keyed_server.jwk["kid"])
    for route in AUTHENTICATED_ROUTES:
        response = keyed_api.http.get(route, headers=keyed_api.bearer(token))
        assert response.status_code == 200, (route, response.text)
    assert keyed_api.http.get("/v1/auth/me", headers=keyed_api.bearer(token)).json()["id"] == (
        account.id
    )


@pytest.mark.parametrize("index", [3, 20, -10])
def test_a_token_with_one_payload_character_changed_is_refused(
    keyed_api: AuthApi, account: Account, index: int
) -> None:
    header, payload, signature = keyed_api.login(account)["access_token"].split(".")
    assert_refused_everywhere(keyed_api, f"{header}.{tokens.flip_char(payload, index)}.{signature}")


def test_a_token_whose_claims_were_rewritten_under_the_old_signature_is_refused(
    keyed_api: AuthApi, account: Account
) -> None:
    victim = keyed_api.account(account.tenant)
    issued = keyed_api.login(account)["access_token"]
    header, payload, signature = issued.split(".")
    claims = jwt.decode(issued, options={"verify_signature": False})
    claims.update(sub=victim.id, username=victim.username)
    _, forged_payload = tokens.signing_input({}, claims).split(".")
    assert forged_payload != payload
    assert_refused_everywhere(keyed_api, f"{header}.{forged_payload}.{signature}")


@pytest.mark.parametrize("index", [0, 10, 40, -5])
def test_a_token_with_one_signature_character_changed_is_refused(
    keyed_api: AuthApi, account: Account, index: int
) -> None:
    header, payload, signature = keyed_api.login(account)["access_token"].split(".")
    assert_refused_everywhere(keyed_api, f"{header}.{payload}.{tokens.flip_char(signature, index)}")


def test_a_token_with_its_signature_removed_is_refused(
    keyed_api: AuthApi, account: Account
) -> None:
    header, payload, _ = keyed_api.login(account)["access_token"].split(".")
    assert_refused_everywhere(keyed_api, f"{header}.{payload}.")
    assert_refused_everywhere(keyed_api, f"{header}.{payload}")


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_an_unsigned_alg_none_token_with_the_real_kid_is_refused(
    keyed_api: AuthApi, keyed_server: KeyedServer, account: Account, alg: str
) -> None:
    token = tokens.unsigned(claims_of(account), kid=keyed_server.jwk["kid"], alg=alg)
    assert_refused_everywhere(keyed_api, token)


def test_an_alg_none_header_over_a_real_signature_is_refused(
    keyed_api: AuthApi, keyed_server: KeyedServer, account: Account
) -> None:
    _, payload, signature = keyed_api.login(account)["access_token"].split(".")
    header = tokens.b64url(f'{{"alg":"none","kid":"{keyed_server.jwk["kid"]}"}}'.encode())
    assert_refused_everywhere(keyed_api, f"{header}.{payload}.{signature}")


def _public_key_secrets(jwk: dict[str, Any]) -> dict[str, bytes]:
    pem = public_key_of(jwk).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "x as published": jwk["x"].encode(),
        "x decoded": tokens.b64url_decode(jwk["x"]),
        "PEM": pem,
        "PEM without the final newline": pem.rstrip(b"\n"),
        "DER": public_key_of(jwk).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    }


@pytest.mark.parametrize(
    "secret_name",
    ["x as published", "x decoded", "PEM", "PEM without the final newline", "DER"],
)
def test_an_hs256_token_keyed_with_the_servers_public_key_is_refused(
    keyed_api: AuthApi, keyed_server: KeyedServer, account: Account, secret_name: str
) -> None:
    # The key-confusion attack: a verifier that lets the token pick HS256 would use the
    # public key, which everyone can read from the JWKS, as the HMAC secret.
    secret = _public_key_secrets(keyed_server.jwk)[secret_name]
    token = tokens.hs256(secret, claims_of(account), kid=keyed_server.jwk["kid"])
    assert_refused_everywhere(keyed_api, token)


def test_a_token_signed_by_another_ed25519_key_under_the_real_kid_is_refused(
    keyed_api: AuthApi, keyed_server: KeyedServer, account: Account
) -> None:
    token = tokens.ed25519(
        Ed25519PrivateKey.generate(), claims_of(account), kid=keyed_server.jwk["kid"]
    )
    assert_refused_everywhere(keyed_api, token)


@pytest.mark.parametrize("kid", ["unknown-key", "", None])
def test_a_token_naming_an_unknown_or_no_kid_is_refused_even_when_the_real_key_signed_it(
    keyed_api: AuthApi, keyed_server: KeyedServer, account: Account, kid: str | None
) -> None:
    assert_refused_everywhere(
        keyed_api, tokens.ed25519(keyed_server.key, claims_of(account), kid=kid)
    )


def test_a_token_with_an_unknown_kid_signed_by_its_own_key_is_refused(
    keyed_api: AuthApi, keyed_server: KeyedServer, account: Account
) -> None:
    attacker = Ed25519PrivateKey.generate()
    assert_refused_everywhere(keyed_api, tokens.ed25519(attacker, claims_of(account), kid="mine"))
    # The real token still works afterwards: unknown kids do not poison the key cache.
    real = tokens.ed25519(keyed_server.key, claims_of(account), kid=keyed_server.jwk["kid"])
    assert keyed_api.http.get("/v1/auth/me", headers=keyed_api.bearer(real)).status_code == 200


@pytest.mark.parametrize("seconds_ago", [30, 3600, 86_400 * 365])
def test_an_expired_token_signed_with_the_real_key_is_refused(
    keyed_api: AuthApi, keyed_server: KeyedServer, account: Account, seconds_ago: int
) -> None:
    now = int(time.time())
    expired = tokens.claims(
        sub=account.id,
        tid=account.tenant,
        username=account.username,
        now=now - seconds_ago - 60,
        lifetime=60,
    )
    assert expired["exp"] == now - seconds_ago
    assert_refused_everywhere(
        keyed_api, tokens.ed25519(keyed_server.key, expired, kid=keyed_server.jwk["kid"])
    )


@pytest.mark.parametrize("missing", ["sub", "tid", "username", "exp", "iat", "jti"])
def test_a_token_missing_a_required_claim_is_refused(
    keyed_api: AuthApi, keyed_server: KeyedServer, account: Account, missing: str
) -> None:
    claims = claims_of(account)
    del claims[missing]
    assert_refused_everywhere(
        keyed_api, tokens.ed25519(keyed_server.key, claims, kid=keyed_server.jwk["kid"])
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"sub": "not-a-uuid"},
        {"sub": 42},
        {"exp": "tomorrow"},
        {"iat": "today"},
    ],
    ids=["sub-not-a-uuid", "sub-a-number", "exp-a-string", "iat-a-string"],
)
def test_a_token_with_a_malformed_claim_is_refused_not_a_500(
    keyed_api: AuthApi, keyed_server: KeyedServer, account: Account, changes: dict[str, Any]
) -> None:
    token = tokens.ed25519(
        keyed_server.key, claims_of(account, **changes), kid=keyed_server.jwk["kid"]
    )
    assert_refused_everywhere(keyed_api, token)


@pytest.mark.parametrize(
    "garbage",
    [
        "garbage",
        "a.b.c",
        "..",
        "eyJhbGciOiJFZERTQSJ9..",
        tokens.b64url(b'{"alg":"EdDSA","kid":{"a":1}}') + ".e30.AAAA",
        tokens.b64url(b"[1]") + ".e30.AAAA",
        "x" * 4000,
    ],
    ids=[
        "word",
        "three-dots",
        "empty-parts",
        "header-only",
        "kid-not-a-string",
        "header-a-list",
        "long",
    ],
)
def test_a_garbage_bearer_token_is_refused(keyed_api: AuthApi, garbage: str) -> None:
    assert_refused_everywhere(keyed_api, garbage)


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Basic dXNlcjpwYXNz", "Token abc"],
)
def test_a_missing_or_non_bearer_authorization_header_is_refused(
    keyed_api: AuthApi, authorization: str
) -> None:
    for route in AUTHENTICATED_ROUTES:
        response = keyed_api.http.get(route, headers={"Authorization": authorization})
        assert response.status_code == 401, (route, response.text)


def test_a_validly_signed_token_for_a_user_its_tenant_does_not_have_is_refused_by_me(
    keyed_api: AuthApi, keyed_server: KeyedServer, account: Account
) -> None:
    # A validly signed token whose sub does not live in its tid (e.g. the user was deleted).
    other_tenant = keyed_api.tenant()
    claims = claims_of(account, tid=other_tenant)
    token = tokens.ed25519(keyed_server.key, claims, kid=keyed_server.jwk["kid"])
    assert keyed_api.http.get("/v1/auth/me", headers=keyed_api.bearer(token)).status_code == 401


def _refresh(api: AuthApi, refresh_token: str) -> httpx.Response:
    return api.http.post("/v1/auth/refresh", json={"refresh_token": refresh_token})


def test_a_reused_refresh_token_is_refused_and_kills_every_descendant(api: AuthApi) -> None:
    first = api.login(api.account())
    second = _refresh(api, first["refresh_token"])
    assert second.status_code == 200
    third = _refresh(api, second.json()["refresh_token"])
    assert third.status_code == 200
    reused = _refresh(api, first["refresh_token"])
    assert reused.status_code == 401
    assert reused.json()["status_code"] == 401
    # The latest descendant, never used, dies with the family.
    assert _refresh(api, third.json()["refresh_token"]).status_code == 401
    assert _refresh(api, second.json()["refresh_token"]).status_code == 401


def test_reusing_the_latest_rotated_token_also_kills_the_family(api: AuthApi) -> None:
    first = api.login(api.account())
    second = _refresh(api, first["refresh_token"]).json()
    third = _refresh(api, second["refresh_token"]).json()
    assert _refresh(api, second["refresh_token"]).status_code == 401
    assert _refresh(api, third["refresh_token"]).status_code == 401


def test_a_refresh_token_with_a_changed_character_is_refused(api: AuthApi) -> None:
    refresh_token = api.login(api.account())["refresh_token"]
    for index in (0, len(refresh_token) // 2, -2):
        response = _refresh(api, tokens.flip_char(refresh_token, index))
        assert response.status_code == 401, (index, response.text)
    # A refused forgery is not a reuse of the real token: it still rotates.
    assert _refresh(api, refresh_token).status_code == 200


# -- the admin token of /internal ----------------------------------------------------------


def _internal_calls(slug: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("PUT", f"/internal/v1/tenants/{slug}", {"display_name": "x", "self_registration": True}),
        ("GET", f"/internal/v1/tenants/{slug}", None),
        ("DELETE", f"/internal/v1/tenants/{slug}", None),
        ("PUT", f"/internal/v1/tenants/{slug}/users/mallory", {"password": auth.PASSWORD}),
    ]


WRONG_ADMIN_HEADERS: dict[str, Callable[[AuthApi], dict[str, str]]] = {
    "no header": lambda api: {},
    "wrong token": lambda api: {"Authorization": "Bearer not-the-admin-token"},
    "admin token with a character more": lambda api: {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
    "admin token with a character less": lambda api: {
        "Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"
    },
    "admin token under another scheme": lambda api: {"Authorization": f"Basic {ADMIN_TOKEN}"},
    "admin token without a scheme": lambda api: {"Authorization": ADMIN_TOKEN},
    "a users access token": lambda api: api.bearer(api.login(api.account())),
}


@pytest.mark.parametrize("presented", list(WRONG_ADMIN_HEADERS))
def test_every_internal_route_refuses_anything_but_the_admin_token(
    api: AuthApi, presented: str
) -> None:
    slug = api.tenant()
    created = api.http.put(
        f"/internal/v1/tenants/{slug}/users/alice",
        json={"password": auth.PASSWORD},
        headers=api.admin,
    )
    assert created.status_code == 201, created.text
    headers = WRONG_ADMIN_HEADERS[presented](api)
    for method, path, body in [*_internal_calls(slug), *_internal_calls("t-never-made")]:
        response = api.http.request(method, path, json=body, headers=headers)
        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["status_code"] == 401
    # Nothing the refused calls asked for happened.
    tenant = api.http.get(f"/internal/v1/tenants/{slug}", headers=api.admin)
    assert tenant.status_code == 200
    assert tenant.json()["display_name"] == slug
    assert tenant.json()["usage"]["users"] == 1
    assert api.http.get("/internal/v1/tenants/t-never-made", headers=api.admin).status_code == 404
    login = {"tenant": slug, "username": "mallory", "password": auth.PASSWORD}
    assert api.http.post("/v1/auth/login", json=login).status_code == 401


def test_the_admin_token_opens_every_internal_route(api: AuthApi) -> None:
    # The control for the refusals above.
    statuses = [
        api.http.request(method, path, json=body, headers=api.admin).status_code
        for method, path, body in _internal_calls("t-admin-control")
    ]
    assert statuses == [201, 200, 204, 404]
