"""Bad path segments and query values on the chat routes are a clear 4xx in docs/api.md's
error shape, never a 500 (bodies: test_bad_input.py)."""

from __future__ import annotations

from support.chat import ChatApi
from support.chat_inputs import FLOATS, HISTORY_PARAMS, MAX_SEQ, NOT_INTEGERS, Scene, history
from support.problems import case, invalid, not_a_server_error, problem

# -- path segments -------------------------------------------------------------------------


def test_odd_usernames_in_the_member_path_are_a_404_or_a_422_never_a_500(
    chats: ChatApi, scene: Scene
) -> None:
    for username in (
        "nobody",
        "ABC",
        "%00",
        "abc%00",
        "bob%00x",
        "%ff",
        "%E2%80%AE",
        "%F0%9F%98%80",
        "x" * 65,
    ):
        with case(username):
            response = chats.http.delete(
                f"/v1/chats/{scene.chat_id}/members/{username}", headers=scene.alice.headers
            )
            problem(response, 404, 422)
    assert len(chats.chat(scene.alice, scene.chat_id)["members"]) == 2


def test_odd_seqs_in_the_message_path_are_a_4xx_never_a_500(chats: ChatApi, scene: Scene) -> None:
    for seq in ("0", "-1", str(MAX_SEQ + 1), str(10**30), "abc", "1.5", "1e2", "%00", "%ff"):
        for method in ("PATCH", "DELETE"):
            with case(method, seq):
                response = chats.http.request(
                    method,
                    f"{scene.messages}/{seq}",
                    json={"body": "x"},
                    headers=scene.alice.headers,
                )
                problem(response, 404, 405, 422)
    [message] = chats.history(scene.bob, scene.chat_id)["messages"]
    assert (message["body"], message["deleted"]) == ("first", False)


def test_odd_seqs_in_the_thread_and_reaction_paths_are_a_4xx_never_a_500(
    chats: ChatApi, scene: Scene
) -> None:
    chat = f"/v1/chats/{scene.chat_id}"
    for seq in ("0", "-1", str(MAX_SEQ + 1), str(10**30), "abc", "1.5", "1e2", "%00", "%ff"):
        for method, path in (
            ("GET", f"{chat}/threads/{seq}"),
            ("PUT", f"{scene.messages}/{seq}/reactions/%F0%9F%91%8D"),
            ("DELETE", f"{scene.messages}/{seq}/reactions/%3Aok%3A"),
        ):
            with case(method, path):
                response = chats.http.request(method, path, headers=scene.alice.headers)
                problem(response, 404, 405, 422)
    [message] = chats.history(scene.bob, scene.chat_id)["messages"]
    assert message["reactions"] == []


def test_a_bad_limit_or_cursor_on_the_thread_route_is_a_422_naming_it(
    chats: ChatApi, scene: Scene
) -> None:
    thread = f"/v1/chats/{scene.chat_id}/threads/1"
    for name, values in (
        ("limit", (*NOT_INTEGERS, *FLOATS, *OUT_OF_RANGE["limit"])),
        ("after_seq", (*NOT_INTEGERS, *FLOATS, *OUT_OF_RANGE["after_seq"])),
    ):
        for value in values:
            with case(name, value):
                response = chats.http.get(thread, params={name: value}, headers=scene.bob.headers)
                invalid(response, name)


def test_a_wrong_method_is_a_405_in_the_error_shape(chats: ChatApi, scene: Scene) -> None:
    chat = f"/v1/chats/{scene.chat_id}"
    for method, path in (
        ("PUT", "/v1/chats"),
        ("DELETE", "/v1/chats"),
        ("POST", chat),
        ("PATCH", chat),
        ("GET", f"{chat}/members"),
        ("PATCH", f"{chat}/messages"),
        ("GET", f"{chat}/messages/1"),
        ("GET", f"{chat}/read"),
        ("GET", f"/internal/v1/tenants/{scene.alice.tenant}"),
    ):
        with case(method, path):
            problem(chats.http.request(method, path, headers=scene.alice.headers), 405)


# -- query values --------------------------------------------------------------------------

OUT_OF_RANGE = {
    "limit": ("0", "-1", "201", "1000", str(MAX_SEQ + 1), str(10**30), "-" + str(10**30)),
    "after_seq": ("-1", str(MAX_SEQ + 1), str(10**30), "-" + str(10**30)),
    "before_seq": ("0", "-1", str(MAX_SEQ + 1), str(10**30), "-" + str(10**30)),
}
IN_RANGE = {
    "limit": ("1", "200"),
    "after_seq": ("0", "1", str(MAX_SEQ)),
    "before_seq": ("1", "2", str(MAX_SEQ)),
}


def test_a_limit_or_cursor_that_is_not_a_number_is_a_422_naming_it(
    chats: ChatApi, scene: Scene
) -> None:
    for name in HISTORY_PARAMS:
        for value in NOT_INTEGERS:
            with case(name, value):
                invalid(history(chats, scene, {name: value}), name)


def test_a_limit_or_cursor_written_as_a_float_is_a_422_naming_it(
    chats: ChatApi, scene: Scene
) -> None:
    for name in HISTORY_PARAMS:
        for value in FLOATS:
            with case(name, value):
                invalid(history(chats, scene, {name: value}), name)


def test_a_limit_or_cursor_out_of_range_is_a_422_naming_it(chats: ChatApi, scene: Scene) -> None:
    for name, values in OUT_OF_RANGE.items():
        for value in values:
            with case(name, value):
                invalid(history(chats, scene, {name: value}), name)


def test_a_limit_or_cursor_at_either_end_of_its_range_is_accepted(
    chats: ChatApi, scene: Scene
) -> None:
    for name, values in IN_RANGE.items():
        for value in values:
            with case(name, value):
                response = history(chats, scene, {name: value})
                assert response.status_code == 200, response.text
                assert set(response.json()) == {"messages", "has_more"}


def test_odd_bytes_in_the_query_string_are_a_200_or_a_422_never_a_500(
    chats: ChatApi, scene: Scene
) -> None:
    for query in (
        "limit=%00",
        "limit=%ff",
        "limit=%ED%A0%80",
        "after_seq=%zz",
        "before_seq=%",
        "limit=1&limit=2",
        "limit",
        "=1",
        "&&&",
        "after_seq=1;before_seq=2",
        "x=%ff&%00=1",
    ):
        with case(query):
            response = chats.http.get(f"{scene.messages}?{query}", headers=scene.bob.headers)
            assert response.status_code in (200, 422), (response.status_code, response.text)
            not_a_server_error(response)
