"""Generated `PATCH /v1/auth/me` and `POST /v1/auth/password` bodies: each is answered as
docs/api.md "Accounts" says, a success exactly when every field is valid, otherwise a 4xx
naming the field, never a 500."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from support.auth import PASSWORD, AuthApi
from support.auth_inputs import ODD_STRINGS, extra_fields, is_display_name, is_password
from support.problems import HYPOTHESIS, JSON_VALUES, not_a_server_error

ODD_TEXT = st.text(max_size=80) | st.sampled_from(ODD_STRINGS)
PASSWORD_FIELDS = ("current_password", "new_password")


@HYPOTHESIS
@given(data=st.data())
def test_generated_profile_bodies_rename_only_with_a_valid_display_name(
    api: AuthApi, data: st.DataObject
) -> None:
    headers = api.bearer(api.login(api.account()))
    body: dict[str, Any] = data.draw(extra_fields(("display_name",)))
    if data.draw(st.booleans(), label="present"):
        body["display_name"] = data.draw(
            st.text(max_size=70) | ODD_TEXT | JSON_VALUES, label="display_name"
        )

    response = api.http.patch("/v1/auth/me", json=body, headers=headers)

    not_a_server_error(response)
    if is_display_name(body.get("display_name")):
        assert response.status_code == 200, response.text
        assert response.json()["display_name"] == body["display_name"]
    else:
        assert response.status_code == 422, response.text
        assert "display_name" in response.json()["detail"]


@HYPOTHESIS
@given(data=st.data())
def test_generated_password_bodies_change_it_only_with_the_right_password_and_a_valid_one(
    api: AuthApi, data: st.DataObject
) -> None:
    account = api.account()
    headers = api.bearer(api.login(account))
    candidates: dict[str, st.SearchStrategy[Any]] = {
        "current_password": st.just(PASSWORD) | ODD_TEXT | JSON_VALUES,
        "new_password": st.text(min_size=8, max_size=300) | ODD_TEXT | JSON_VALUES,
    }
    present = data.draw(st.sets(st.sampled_from(PASSWORD_FIELDS)) | st.just(set(PASSWORD_FIELDS)))
    body: dict[str, Any] = data.draw(extra_fields(PASSWORD_FIELDS))
    for name in PASSWORD_FIELDS:
        if name in present:
            body[name] = data.draw(candidates[name], label=name)

    response = api.http.post("/v1/auth/password", json=body, headers=headers)

    not_a_server_error(response)
    current = body.get("current_password")
    well_formed = isinstance(current, str) and 1 <= len(current) <= 256
    if not (well_formed and is_password(body.get("new_password"))):
        assert response.status_code == 422, response.text
        return
    if current == PASSWORD:
        assert response.status_code == 204, response.text
    else:
        assert response.status_code == 401, response.text
