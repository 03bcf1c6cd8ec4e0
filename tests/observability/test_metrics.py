"""The metrics mean what docs/observability.md says: each is read from a real service's
/metrics before and after the event it counts."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from parley_auth import app as auth_app
from parley_chat import app as chat_app
from support import auth, chat
from support.observability import Stack, scrape, value
from support.servers import ServedApp
from support.stream import StreamClient, open_stalled, read_frames_until_close, token_of

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Delta:
    """What changed on a service's /metrics since this was made."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.before = scrape(url)

    def __call__(self, name: str, **labels: str) -> float:
        return value(scrape(self.url), name, **labels) - value(self.before, name, **labels)

    def settled(self, name: str, expected: float, **labels: str) -> float:
        """The change once it is `expected`, or after 5 s whatever it is: requests are
        counted just after their answer went out, frames just after they were written."""
        deadline = time.monotonic() + 5
        while (change := self(name, **labels)) != expected and time.monotonic() < deadline:
            time.sleep(0.05)
        return change


@contextmanager
def _two_in_a_group(
    stack: Stack, **tenant_spec: Any
) -> Iterator[tuple[chat.ChatApi, chat.User, chat.User, str]]:
    """Clients on the stack, and alice and bob of a new tenant in a group (its id last)."""
    with (
        auth.AuthApi(stack.auth.url) as accounts,
        closing(chat.ChatApi(stack.chat.url, accounts)) as api,
    ):
        alice, bob = api.users(2, api.tenant(**tenant_spec))
        yield api, alice, bob, api.group(alice, bob)["id"]


def test_a_message_is_counted_persisted_sent_live_and_its_delivery_delay_observed(
    stack: Stack,
) -> None:
    with _two_in_a_group(stack) as (api, alice, bob, room):
        changed = Delta(stack.chat.url)
        with StreamClient(stack.chat.url, token_of(bob)) as stream:
            assert changed.settled("parley_stream_connections", 1) == 1
            for number in range(2):
                api.send(alice, room, f"message {number}")
            stream.messages(2)
        assert changed.settled("parley_chat_messages_persisted_total", 2) == 2
        assert changed.settled("parley_stream_frames_sent_total", 2, source="live") == 2
        assert changed.settled("parley_stream_frames_sent_total", 1, source="control") == 1  # ready
        assert changed.settled("parley_stream_delivery_delay_seconds_count", 2) == 2
        assert 0 < changed("parley_stream_delivery_delay_seconds_sum") < 2
        # The two messages, and bob's presence: online with his stream, offline after it.
        assert changed.settled("parley_broker_publishes_total", 4, outcome="ok") == 4
        assert changed.settled("parley_stream_connections", 0) == 0
        assert changed.settled("parley_stream_disconnects_total", 1, reason="client") == 1


def test_a_resume_is_counted_and_what_it_replays_is_labelled_resume(stack: Stack) -> None:
    with _two_in_a_group(stack) as (api, alice, bob, room):
        for number in range(3):
            api.send(alice, room, f"missed {number}")
        changed = Delta(stack.chat.url)
        with StreamClient(stack.chat.url, token_of(bob)) as stream:
            stream.send({"type": "resume", "cursors": {room: 1}})
            stream.messages(2)
        assert changed.settled("parley_stream_resumes_total", 1) == 1
        assert changed.settled("parley_stream_replayed_messages_total", 2, cause="resume") == 2
        assert changed.settled("parley_stream_frames_sent_total", 2, source="replay") == 2
        assert changed.settled("parley_stream_delivery_delay_seconds_count", 0) == 0


def test_a_bad_token_at_connect_counts_as_unauthorized(stack: Stack) -> None:
    changed = Delta(stack.chat.url)
    url = stack.chat.url.replace("http://", "ws://") + "/v1/stream?access_token=nonsense"
    with connect(url) as socket, pytest.raises(ConnectionClosed) as closed:
        socket.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401
    assert changed.settled("parley_stream_disconnects_total", 1, reason="unauthorized") == 1
    assert changed.settled("parley_stream_connections", 0) == 0


def test_logins_are_counted_by_outcome_and_refusals_by_the_limit_that_refused(
    stack: Stack,
) -> None:
    with auth.AuthApi(stack.auth.url) as accounts:
        account = accounts.account()
        changed = Delta(stack.auth.url)
        wrong = {"tenant": account.tenant, "username": account.username, "password": "wrong!!!"}
        statuses = [accounts.http.post("/v1/auth/login", json=wrong).status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 429]  # the stack allows 3 failures an account
        assert changed.settled("parley_auth_logins_total", 3, outcome="bad_credentials") == 3
        assert changed.settled("parley_auth_logins_total", 1, outcome="rate_limited") == 1
        assert changed.settled("parley_rate_limited_requests_total", 1, limit="login_account") == 1
        other = accounts.account(account.tenant)
        pair = accounts.login(other)
        assert changed.settled("parley_auth_logins_total", 1, outcome="success") == 1
        for _ in range(2):
            accounts.http.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert changed.settled("parley_auth_refresh_token_reuse_total", 1) == 1
        assert changed.settled("parley_auth_registrations_total", 1) == 1


def test_a_send_over_the_tenants_limit_counts_as_rate_limited(stack: Stack) -> None:
    with _two_in_a_group(stack, limits={"messages_per_minute": 1}) as (api, alice, _bob, room):
        changed = Delta(stack.chat.url)
        api.send(alice, room)
        refused = api.http.post(
            f"/v1/chats/{room}/messages", json={"body": "again"}, headers=alice.headers
        )
        assert refused.status_code == 429
        assert (
            changed.settled("parley_rate_limited_requests_total", 1, limit="messages_per_minute")
            == 1
        )
        assert changed.settled("parley_chat_messages_persisted_total", 1) == 1
        assert changed("parley_peer_requests_total", peer="auth", outcome="ok") >= 2


def test_http_requests_are_labelled_by_route_template_and_status_never_by_id(
    stack: Stack,
) -> None:
    with _two_in_a_group(stack) as (api, alice, _bob, room):
        changed = Delta(stack.chat.url)
        api.send(alice, room)
        labels = {"app_name": "parley-chat", "method": "POST", "status_code": "201"}
        path = "/v1/chats/{chat_id}/messages"
        assert changed.settled("parley_http_requests_total", 1, path=path, **labels) == 1
        assert (
            changed.settled("parley_http_request_duration_seconds_count", 1, path=path, **labels)
            == 1
        )
    for url in (stack.auth.url, stack.chat.url):
        for series in scrape(url):
            assert not UUID.search(series), series


def test_readiness_exports_each_dependency_and_the_pool_its_use(stack: Stack) -> None:
    for url, service in ((stack.auth.url, "auth"), (stack.chat.url, "chat")):
        assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200
        samples = scrape(url)
        for dependency in ("database", "redis"):
            up = value(samples, "parley_dependency_up", service=service, dependency=dependency)
            assert up == 1, (service, dependency)
        assert value(samples, "parley_db_pool_max_connections", pool=service) > 0
        idle = value(samples, "parley_db_pool_connections", pool=service, state="idle")
        in_use = value(samples, "parley_db_pool_connections", pool=service, state="in_use")
        assert idle >= 1
        assert in_use >= 0


def test_a_client_that_stops_reading_is_counted_as_a_slow_consumer_dropped(
    tmp_path: Path,
) -> None:
    database_url = chat.migrated(auth.migrated(f"sqlite+aiosqlite:///{tmp_path}/parley.db"))
    auth_settings = auth.settings(tmp_path / "auth", database_url)
    with ServedApp(auth_app.create_app(auth_settings)) as auth_server:
        settings = chat.settings(
            tmp_path / "chat", database_url, auth_server.url, stream={"queue_size": 16}
        )
        with (
            ServedApp(chat_app.create_app(settings)) as chat_server,
            auth.AuthApi(auth_server.url) as accounts,
        ):
            api = chat.ChatApi(chat_server.url, accounts)
            tenant = api.tenant(
                limits={"max_message_chars": 100_000, "messages_per_minute": 100_000}
            )
            alice, bob = api.users(2, tenant)
            room = api.group(alice, bob)["id"]
            changed = Delta(chat_server.url)
            stalled = open_stalled(chat_server.url, token_of(bob))
            with closing(stalled), closing(api):
                for _ in range(200):
                    api.send(alice, room, "x" * 100_000)
                _, code = read_frames_until_close(stalled)
            assert code == 4429
            assert changed.settled("parley_stream_slow_consumers_dropped_total", 1) == 1
            assert (
                changed.settled("parley_stream_disconnects_total", 1, reason="slow_consumer") == 1
            )


def test_the_circuit_breaker_is_exported_open_once_auth_keeps_failing(tmp_path: Path) -> None:
    database_url = chat.migrated(auth.migrated(f"sqlite+aiosqlite:///{tmp_path}/parley.db"))
    with ExitStack() as running:
        auth_settings = auth.settings(tmp_path / "auth", database_url)
        auth_server = running.enter_context(ServedApp(auth_app.create_app(auth_settings)))
        settings = chat.settings(
            tmp_path / "chat",
            database_url,
            auth_server.url,
            auth={"retries": 0, "breaker_failures": 2, "breaker_reset_seconds": 60},
        )
        with ServedApp(chat_app.create_app(settings)) as chat_server:
            accounts = auth.AuthApi(auth_server.url)
            api = chat.ChatApi(chat_server.url, accounts)
            with accounts, closing(api):
                alice, bob = api.users(2)
                api.listed(alice)  # chat has auth's keys, and knows alice's token
                assert value(scrape(chat_server.url), "parley_circuit_breaker_open") == 0
                running.close()  # auth goes away
                changed = Delta(chat_server.url)
                new_chat = {"kind": "group", "members": [bob.username]}
                for _ in range(3):
                    answer = api.http.post("/v1/chats", json=new_chat, headers=alice.headers)
                    assert answer.status_code == 503
                samples = scrape(chat_server.url)
                assert value(samples, "parley_circuit_breaker_open", circuit="auth") == 1
                assert (
                    changed.settled("parley_circuit_breaker_transitions_total", 1, state="opened")
                    == 1
                )
                assert (
                    changed.settled("parley_peer_requests_total", 2, peer="auth", outcome="error")
                    == 2
                )
                # Each POST asks auth twice: the tenant's standing (served stale from the
                # cache once auth fails) and the usernames. The first POST's two failures
                # open the circuit; the other two POSTs meet it twice each.
                assert changed.settled("parley_peer_requests_total", 4, outcome="circuit_open") == 4
