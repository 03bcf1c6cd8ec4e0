"""Bad query values, path segments and Authorization headers on the auth routes are a
clear 4xx in docs/api.md's error shape, never a 500 (bodies: test_bad_input.py)."""

from __future__ import annotations

import json

from support.auth import PASSWORD, AuthApi
from support.auth_inputs import raw_request
from support.problems import assert_error_shape, case, invalid, problem

# -- query parameters ---------------------------------------------------------------------


def test_a_limit_outside_1_to_200_is_a_422_naming_limit(api: AuthApi) -> None:
    headers = api.bearer(api.login(api.account()))
    for limit in ("0", "-1", "201", "abc", "1.5", "", "0x10", "9" * 50, "-" + "9" * 50, "½"):
        with case(limit):
            response = api.http.get("/v1/users", params={"limit": limit}, headers=headers)
            invalid(response, "limit")


def test_a_prefix_longer_than_32_characters_is_a_422_naming_prefix(api: AuthApi) -> None:
    headers = api.bearer(api.login(api.account()))
    for prefix in ("a" * 33, "é" * 33, "😀" * 33, "\x00" * 33):
        with case(prefix):
            response = api.http.get("/v1/users", params={"prefix": prefix}, headers=headers)
            invalid(response, "prefix")


def test_odd_unicode_in_the_prefix_finds_nobody_and_is_never_a_500(api: AuthApi) -> None:
    headers = api.bearer(api.login(api.account()))
    for query in (
        "prefix=%00",
        "prefix=a%00",
        "prefix=%ff",
        "prefix=%ED%A0%80",
        "prefix=%E2%80%AE",
        "prefix=%F0%9F%98%80",
        "prefix=e%CC%81",
        "prefix=%25",
        "prefix=_",
        "prefix=%5C",
        "prefix=%zz",
        "prefix=%27%3B--",
        "prefix=" + "x" * 32,
    ):
        with case(query):
            response = api.http.get(f"/v1/users?{query}", headers=headers)
            assert response.status_code == 200, response.text
            assert response.json() == {"users": []}


# -- path parameters ----------------------------------------------------------------------

BAD_SLUGS = (
    "ABC",
    "Abc",
    "a" * 33,
    "-ab",
    "ab-",
    "a_b",
    "a.b",
    "é",
    "%C3%A9",
    "%F0%9F%98%80",
    "%E2%80%AEabc",
    "%00",
    "abc%00",
    "%ff",
    "%zz",
    "%2e%2e",
    "abc%0A",
    "abc%20",
    "%20abc",
    "a%3Fb",
)
BAD_USERNAMES = (
    "AB",
    "ALICE",
    "ab",
    "a" * 33,
    ".abc",
    "-abc",
    "é" * 3,
    "%C3%A9abc",
    "%00abc",
    "abc%00",
    "%ffabc",
    "%2e%2e",
    "abc%0A",
    "abc%0D%0A",
    "a%20bc",
)


def test_an_invalid_slug_in_a_tenant_path_is_a_422_naming_slug(api: AuthApi) -> None:
    for slug in BAD_SLUGS:
        for method, path, body in (
            ("GET", f"/internal/v1/tenants/{slug}", None),
            ("PUT", f"/internal/v1/tenants/{slug}", {"display_name": "x"}),
            ("DELETE", f"/internal/v1/tenants/{slug}", None),
            ("PUT", f"/internal/v1/tenants/{slug}/users/alice", {"password": PASSWORD}),
        ):
            with case(method, path):
                response = api.http.request(method, path, json=body, headers=api.admin)
                invalid(response, "slug")


def test_an_invalid_username_in_a_tenant_user_path_is_a_422_naming_username(
    api: AuthApi,
) -> None:
    tenant = api.tenant()
    for username in BAD_USERNAMES:
        with case(username):
            response = api.http.put(
                f"/internal/v1/tenants/{tenant}/users/{username}",
                json={"password": PASSWORD},
                headers=api.admin,
            )
            invalid(response, "username")
    tenant_state = api.http.get(f"/internal/v1/tenants/{tenant}", headers=api.admin).json()
    assert tenant_state["usage"] == {"users": 0}


def test_dot_segments_in_an_internal_path_are_a_422_not_another_route(api: AuthApi) -> None:
    api.http.put("/internal/v1/tenants/acme", json={}, headers=api.admin)
    headers = {**api.admin, "Content-Type": "application/json"}
    for method, target, field_name in (
        ("GET", "/internal/v1/tenants/..", "slug"),
        ("DELETE", "/internal/v1/tenants/.", "slug"),
        ("PUT", "/internal/v1/tenants/../users/alice", "slug"),
        ("PUT", "/internal/v1/tenants/acme/users/..", "username"),
        ("PUT", "/internal/v1/tenants/acme/users/...", "username"),
    ):
        with case(method, target):
            body = json.dumps({"password": PASSWORD}).encode() if method == "PUT" else None
            status, answer = raw_request(api, method, target, headers, body)
            assert status == 422, answer
            assert_error_shape(status, answer)
            assert field_name in answer["detail"]
    assert api.http.get("/internal/v1/tenants/acme", headers=api.admin).status_code == 200


def test_a_path_with_extra_or_missing_segments_is_a_json_404_or_405(api: AuthApi) -> None:
    # `acme/users/` (no username) is chat's user lookup, which needs a `username` query.
    for path in ("a%2Fb", "a/b/c", "", "acme/users/alice/x"):
        for method in ("GET", "PUT", "DELETE"):
            with case(method, path):
                response = api.http.request(
                    method,
                    f"/internal/v1/tenants/{path}",
                    json={"password": PASSWORD},
                    headers=api.admin,
                )
                problem(response, 404, 405)


# -- authorization headers ----------------------------------------------------------------

BAD_AUTHORIZATION = (
    b"abc",
    b"Basic eDp5",
    b"Basic x",
    b"Bearer",
    b"bearer",
    b"Token abc",
    b"Bearer \xc3\xa9",
    b"Bearer \xff\xfe",
    b"Bearer a.b.c",
    b"Bearer Bearer x",
    b"BEARER garbage",
    b"Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    b"Bearer eyJhbGciOiJFZERTQSIsImtpZCI6MX0.e30.x",
    b"Bearer " + b"x" * 4000,
)
PROTECTED = (
    ("GET", "/v1/auth/me"),
    ("GET", "/v1/users"),
    ("GET", "/internal/v1/tenants/acme"),
    ("PUT", "/internal/v1/tenants/acme"),
    ("DELETE", "/internal/v1/tenants/acme"),
    ("PUT", "/internal/v1/tenants/acme/users/alice"),
)


def test_a_bad_authorization_header_is_a_401(api: AuthApi) -> None:
    body = {"password": PASSWORD}
    for method, path in PROTECTED:
        with case(method, path, None):
            problem(api.http.request(method, path, json=body), 401)
        for value in BAD_AUTHORIZATION:
            with case(method, path, value):
                headers = [(b"Authorization", value)]
                problem(api.http.request(method, path, json=body, headers=headers), 401)
        # Sent raw: httpx refuses header values that end in white space.
        for text in ("Bearer ", "Bearer    ", "Bearer \t"):
            with case(method, path, text):
                status, answer = raw_request(api, method, path, {"Authorization": text})
                assert status == 401, answer
                assert_error_shape(status, answer)
    assert api.http.get("/internal/v1/tenants/acme", headers=api.admin).status_code == 404


def test_a_user_token_opens_no_internal_route_and_the_admin_token_no_user_route(
    api: AuthApi,
) -> None:
    user = api.bearer(api.login(api.account()))
    problem(api.http.get("/internal/v1/tenants/acme", headers=user), 401)
    problem(api.http.get("/v1/auth/me", headers=api.admin), 401)
    problem(api.http.get("/v1/users", headers=api.admin), 401)


def test_a_tampered_access_token_is_a_401(api: AuthApi) -> None:
    token = api.login(api.account())["access_token"]
    head, payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    for forged in (
        f"{head}.{payload}.{flipped}",
        f"{head}.{payload}.",
        f"{head}.{payload}",
        token[:-4],
    ):
        with case(forged):
            problem(api.http.get("/v1/auth/me", headers=api.bearer(forged)), 401)


# -- everything else ----------------------------------------------------------------------


def test_the_jwks_ignores_query_junk_and_stays_a_key_set(api: AuthApi) -> None:
    response = api.http.get("/.well-known/jwks.json?x=%ff&%00=1&limit=-1&prefix=%ED%A0%80")
    assert response.status_code == 200
    assert response.json()["keys"]
    assert response.json() == api.http.get("/.well-known/jwks.json").json()


def test_a_wrong_method_is_a_405_in_the_error_shape(api: AuthApi) -> None:
    for method, path in (
        ("GET", "/v1/auth/register"),
        ("PUT", "/v1/auth/login"),
        ("DELETE", "/v1/auth/refresh"),
        ("POST", "/v1/auth/me"),
        ("POST", "/v1/users"),
        ("POST", "/.well-known/jwks.json"),
        ("PATCH", "/internal/v1/tenants/acme"),
    ):
        with case(method, path):
            problem(api.http.request(method, path, headers=api.admin), 405)
