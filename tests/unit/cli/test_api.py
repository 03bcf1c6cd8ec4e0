"""parley_cli.api: errors as one line with the right exit code, and the 401 refresh path."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from parley_cli import api
from parley_cli.errors import ApiError, AuthError, UsageError

Handler = Callable[[httpx.Request], httpx.Response]


class _Credentials:
    def __init__(self) -> None:
        self.token = "old"
        self.rotations: list[str] = []

    def access_token(self) -> str:
        return self.token

    def rotate(self, stale: str, exchange: Callable[[str], api.TokenPair]) -> str:
        self.rotations.append(stale)
        self.token = exchange("refresh-1")["access_token"]
        return self.token


def _client(handler: Handler, credentials: _Credentials | None = None) -> api.Client:
    return api.Client(
        "http://parley.test", credentials=credentials, transport=httpx.MockTransport(handler)
    )


def _error(status: int, detail: str) -> httpx.Response:
    return httpx.Response(status, json={"status_code": status, "detail": detail})


def test_a_401_rotates_the_pair_once_and_retries_with_the_new_token() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/auth/refresh":
            assert json.loads(request.content) == {"refresh_token": "refresh-1"}
            return httpx.Response(
                200, json={"access_token": "new", "refresh_token": "refresh-2", "expires_in": 900}
            )
        seen.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer old":
            return _error(401, "token expired")
        return httpx.Response(200, json={"chats": []})

    credentials = _Credentials()
    assert _client(handler, credentials).chats() == []
    assert seen == ["Bearer old", "Bearer new"]
    assert credentials.rotations == ["old"]


def test_a_token_refused_even_after_a_refresh_is_an_authentication_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/auth/refresh":
            return httpx.Response(200, json={"access_token": "new", "refresh_token": "r2"})
        return _error(401, "no")

    with pytest.raises(AuthError, match="run 'parley login'"):
        _client(handler, _Credentials()).chats()


def test_a_refused_refresh_token_is_an_authentication_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return _error(401, "refresh token already used")

    with pytest.raises(AuthError, match="session has expired or was ended"):
        _client(handler, _Credentials()).me()


def test_an_error_answer_becomes_its_detail_on_one_line_with_the_status() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return _error(409, "already a\nmember")

    with pytest.raises(ApiError, match=r"^already a member \(HTTP 409\)$") as caught:
        _client(handler, _Credentials()).add_member("c1", "bob")
    assert caught.value.status == 409


def test_a_rate_limit_says_when_to_try_again() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        response = _error(429, "too many messages")
        response.headers["Retry-After"] = "12"
        return response

    with pytest.raises(ApiError, match="try again in 12 s"):
        _client(handler, _Credentials()).send("c1", "hi")


def test_a_server_that_cannot_be_reached_is_named_in_the_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    with pytest.raises(ApiError, match=r"^cannot reach server at http://parley.test \("):
        _client(handler, _Credentials()).chats()


def test_an_answer_that_is_not_parleys_json_is_reported_as_such() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>hello</html>")

    with pytest.raises(ApiError, match="is it a Parley server"):
        _client(handler, _Credentials()).chats()


def test_wrong_credentials_at_login_are_an_authentication_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return _error(401, "invalid credentials")

    with pytest.raises(AuthError, match="wrong tenant, username or password"):
        _client(handler).login("default", "alice", "nope")


def test_path_segments_are_quoted() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path.decode())
        return httpx.Response(204)

    _client(handler, _Credentials()).remove_member("c1", "a/b")
    assert paths == ["/v1/chats/c1/members/a%2Fb"]


@pytest.mark.parametrize("url", ["localhost:8000", "ftp://host", "http://"])
def test_a_server_url_that_is_not_http_is_a_usage_error(url: str) -> None:
    with pytest.raises(UsageError, match="invalid server URL"):
        api.check_server_url(url)


def test_the_stream_url_follows_the_servers_scheme() -> None:
    assert api.stream_url("http://h:8000") == "ws://h:8000/v1/stream"
    assert api.stream_url("https://chat.example.com/") == "wss://chat.example.com/v1/stream"
