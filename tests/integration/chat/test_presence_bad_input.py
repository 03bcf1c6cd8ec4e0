"""Generated `PUT /v1/presence` bodies and `GET /v1/presence` queries: each is answered as
docs/api.md "Presence" says, a success exactly when the input is valid, otherwise a 4xx
naming the field, never a 500."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from support.chat import ChatApi
from support.problems import HYPOTHESIS, JSON_VALUES, not_a_server_error

STATUSES = ("online", "away", "dnd")
ODD_IDS = st.text(max_size=40) | st.sampled_from(
    ("", " ", "null", "0", "-1", "\x00", "{}", "%00", str(uuid.uuid4()).upper() + "\n")
)


@HYPOTHESIS
@given(data=st.data())
def test_generated_status_bodies_are_taken_only_when_the_status_is_one_of_three(
    chats: ChatApi, data: st.DataObject
) -> None:
    user = chats.user()
    body: dict[str, Any] = data.draw(
        st.dictionaries(
            st.text(max_size=10).filter(lambda k: k != "status"), JSON_VALUES, max_size=2
        )
    )
    if data.draw(st.booleans(), label="present"):
        body["status"] = data.draw(
            st.sampled_from(STATUSES) | st.text(max_size=12) | JSON_VALUES, label="status"
        )

    response = chats.http.put("/v1/presence", json=body, headers=user.headers)

    not_a_server_error(response)
    if body.get("status") in STATUSES:
        assert response.status_code == 204, response.text
    else:
        assert response.status_code == 422, response.text
        assert "status" in response.json()["detail"]


@HYPOTHESIS
@given(data=st.data())
def test_generated_id_lists_are_answered_only_when_every_id_is_a_uuid_and_at_most_100(
    chats: ChatApi, data: st.DataObject
) -> None:
    user = chats.user()
    good = st.builds(lambda: str(uuid.uuid4())) | st.just(user.id)
    ids = data.draw(
        st.lists(good | ODD_IDS, max_size=8) | st.lists(good, min_size=99, max_size=102),
        label="ids",
    )

    response = chats.http.get("/v1/presence", params={"user_id": ids}, headers=user.headers)

    not_a_server_error(response)
    valid = 1 <= len(ids) <= 100 and all(_is_uuid(value) for value in ids)
    if valid:
        assert response.status_code == 200, response.text
        shown = [entry["user_id"] for entry in response.json()["presence"]]
        # Strangers are left out; the caller always sees themselves when asked.
        assert shown == ([user.id] if user.id in ids else [])
    else:
        assert response.status_code == 422, response.text
        assert "user_id" in response.json()["detail"]


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
