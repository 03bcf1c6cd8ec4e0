"""Generated register, login and refresh bodies: each is answered as docs/api.md says,
a success exactly when every field is valid, otherwise a 4xx, never a 500."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.auth import PASSWORD, AuthApi
from support.auth_inputs import (
    ODD_STRINGS,
    SLUG,
    USERNAME,
    extra_fields,
    is_display_name,
    is_password,
)
from support.problems import HYPOTHESIS, JSON_VALUES, not_a_server_error, problem

# -- generated bodies ---------------------------------------------------------------------

ODD_TEXT = st.text(max_size=80) | st.sampled_from(ODD_STRINGS)
VALID_SLUGS = st.from_regex(SLUG, fullmatch=True)
VALID_USERNAMES = st.from_regex(USERNAME, fullmatch=True)
REGISTER_FIELDS = ("tenant", "username", "password", "display_name")
LOGIN_FIELDS = ("tenant", "username", "password")


def names_like(valid: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """Valid names, near misses of valid names, and anything at all."""
    return (
        valid
        | valid.map(lambda name: name + "\n")
        | valid.map(str.upper)
        | valid.map(lambda name: name + "\x00")
        | ODD_TEXT
        | JSON_VALUES
    )


def is_name(value: Any, pattern: str) -> bool:
    return isinstance(value, str) and re.fullmatch(pattern, value) is not None


@HYPOTHESIS
@given(data=st.data())
def test_generated_register_bodies_succeed_only_when_every_field_is_valid(
    api: AuthApi, data: st.DataObject
) -> None:
    tenant = api.tenant()
    candidates: dict[str, st.SearchStrategy[Any]] = {
        "tenant": st.just(tenant) | st.just(tenant) | names_like(VALID_SLUGS),
        "username": names_like(VALID_USERNAMES),
        "password": st.just(PASSWORD) | st.text(min_size=8, max_size=300) | ODD_TEXT | JSON_VALUES,
        "display_name": st.none() | st.text(max_size=70) | ODD_TEXT | JSON_VALUES,
    }
    present = data.draw(st.sets(st.sampled_from(REGISTER_FIELDS)) | st.just(set(REGISTER_FIELDS)))
    body: dict[str, Any] = data.draw(extra_fields(REGISTER_FIELDS))
    for name in REGISTER_FIELDS:
        if name in present:
            body[name] = data.draw(candidates[name], label=name)

    response = api.http.post("/v1/auth/register", json=body)

    not_a_server_error(response)
    valid = (
        body.get("tenant") == tenant
        and is_name(body.get("username"), USERNAME)
        and is_password(body.get("password"))
        and (body.get("display_name") is None or is_display_name(body.get("display_name")))
    )
    if valid:
        assert response.status_code in (201, 409), response.text
    else:
        assert response.status_code in (404, 422), response.text
    if response.status_code == 201:
        user = response.json()
        assert (user["tenant"], user["username"]) == (tenant, body["username"])
        assert user["display_name"] == (body.get("display_name") or body["username"])


@HYPOTHESIS
@given(data=st.data())
def test_generated_login_bodies_get_a_token_only_for_the_right_credentials(
    api: AuthApi, data: st.DataObject
) -> None:
    account = api.account()
    candidates: dict[str, st.SearchStrategy[Any]] = {
        "tenant": st.just(account.tenant) | names_like(VALID_SLUGS),
        "username": st.just(account.username) | names_like(VALID_USERNAMES),
        "password": st.just(PASSWORD) | ODD_TEXT | JSON_VALUES,
    }
    present = data.draw(st.sets(st.sampled_from(LOGIN_FIELDS)) | st.just(set(LOGIN_FIELDS)))
    body: dict[str, Any] = data.draw(extra_fields(LOGIN_FIELDS))
    for name in LOGIN_FIELDS:
        if name in present:
            body[name] = data.draw(candidates[name], label=name)

    response = api.http.post("/v1/auth/login", json=body)

    not_a_server_error(response)
    well_formed = all(
        isinstance(body.get(name), str) and 1 <= len(body[name]) <= limit
        for name, limit in (("tenant", 64), ("username", 64), ("password", 256))
    )
    if not well_formed:
        # Login checks types and lengths only: a name that breaks "Names" is a typo (401).
        assert response.status_code == 422, response.text
        return
    assert response.status_code in (200, 401, 429), response.text
    if response.status_code == 429:
        assert int(response.headers["Retry-After"]) >= 1
    right = (
        body["tenant"].lower() == account.tenant
        and body["username"].lower() == account.username
        and body["password"] == account.password
    )
    assert (response.status_code == 200) == right or response.status_code == 429, response.text
    if right and response.status_code == 200:
        assert response.json()["token_type"] == "Bearer"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(token=ODD_TEXT | JSON_VALUES | st.text(min_size=500, max_size=600))
def test_generated_refresh_tokens_are_a_401_or_a_422(api: AuthApi, token: Any) -> None:
    response = api.http.post("/v1/auth/refresh", json={"refresh_token": token})
    well_formed = isinstance(token, str) and 1 <= len(token) <= 512
    problem(response, 401 if well_formed else 422)


def test_a_missing_field_is_named_in_the_errors_list(api: AuthApi) -> None:
    response = api.http.post("/v1/auth/register", json={"tenant": "acme", "password": PASSWORD})
    assert response.status_code == 422
    assert {"field": "username", "source": "body"}.items() <= response.json()["errors"][0].items()


# -- docs/api.md "Tenant backends" ----------------------------------------------------

TENANT_USER_FIELDS = ("display_name", "kind")


@HYPOTHESIS
@given(data=st.data())
def test_generated_tenant_user_bodies_succeed_only_when_every_field_is_valid(
    api: AuthApi, data: st.DataObject
) -> None:
    key = api.server_key(api.tenant())
    username = data.draw(
        VALID_USERNAMES | names_like(VALID_USERNAMES).filter(lambda v: isinstance(v, str)),
        label="username",
    )
    candidates: dict[str, st.SearchStrategy[Any]] = {
        "display_name": st.none() | st.text(max_size=70) | ODD_TEXT | JSON_VALUES,
        "kind": st.sampled_from(["person", "bot", None, "Bot", "robot", ""]) | JSON_VALUES,
    }
    present = data.draw(st.sets(st.sampled_from(TENANT_USER_FIELDS)))
    body: dict[str, Any] = data.draw(extra_fields(TENANT_USER_FIELDS))
    for name in TENANT_USER_FIELDS:
        if name in present:
            body[name] = data.draw(candidates[name], label=name)

    response = api.http.put(
        f"/v1/tenant/users/{urllib.parse.quote(username, safe='')}",
        json=body,
        headers=api.bearer(key),
    )

    not_a_server_error(response)
    valid = (
        is_name(username, USERNAME)
        and (body.get("display_name") is None or is_display_name(body.get("display_name")))
        and body.get("kind") in (None, "person", "bot")
    )
    if valid:
        assert response.status_code == 201, response.text
        user = response.json()
        assert user["username"] == username
        assert user["kind"] == (body.get("kind") or "person")
    else:
        assert response.status_code in (400, 404, 405, 422), response.text


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ttl=st.none() | st.integers() | JSON_VALUES)
def test_generated_token_ttls_mint_a_pair_only_within_bounds(api: AuthApi, ttl: Any) -> None:
    key = api.server_key(api.tenant())
    assert api.http.put("/v1/tenant/users/alice", json={}, headers=api.bearer(key)).is_success
    response = api.http.post(
        "/v1/tenant/users/alice/tokens", json={"ttl_seconds": ttl}, headers=api.bearer(key)
    )
    not_a_server_error(response)
    strictly_valid = ttl is None or (
        isinstance(ttl, int) and not isinstance(ttl, bool) and 60 <= ttl <= 86_400
    )
    if strictly_valid:
        assert response.status_code == 200, response.text
    elif isinstance(ttl, int) and not isinstance(ttl, bool):
        problem(response, 422)
    else:
        # Litestar decodes in msgspec's lax mode: "600" or 600.0 may pass as an integer.
        assert response.status_code in (200, 422), response.text
