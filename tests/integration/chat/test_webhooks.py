"""Webhooks end to end (docs/api.md "Tenant backends", docs/integrations.md "Webhooks"):
the `/v1/tenant/webhooks` routes and their rules on the shared server, and real deliveries
from a chat server that delivers to a real HTTP receiver on loopback, on SQLite and
PostgreSQL: signed, in order per chat, retried, paused when failing, one endpoint never
holding up another, and taken over when a replica stops mid-delivery."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
import sqlalchemy as sa

from parley_chat import app as chat_app
from parley_cli import webhooks as verifier
from support import chat, problems, processes
from support.problems import case
from support.servers import ServedApp
from support.webhooks import Behaviour, Delivery, Receiver, TenantApi


@contextmanager
def delivering(
    database_url: str, auth_server: str, tmp_path: Path, **webhook: Any
) -> Iterator[ServedApp]:
    """A chat server that delivers webhooks (the shared one does not), on the same
    database as the shared server."""
    settings = chat.settings(
        tmp_path, database_url, auth_server, webhook={**chat.DELIVERING, **webhook}
    )
    with ServedApp(chat_app.create_app(settings)) as served:
        yield served


@contextmanager
def tenant_api(url: str, chats: chat.ChatApi, tenant: str) -> Iterator[TenantApi]:
    client = TenantApi(url, chats.accounts.server_key(tenant))
    try:
        yield client
    finally:
        client.close()


def messages(deliveries: list[Delivery]) -> list[tuple[str, int]]:
    """(chat id, seq) of each `message` event delivered, in delivery order."""
    return [
        (d.event["chat_id"], d.event["data"]["message"]["seq"])
        for d in deliveries
        if d.event["type"] == "message"
    ]


def first_deliveries(deliveries: list[Delivery]) -> list[Delivery]:
    """Each event's first successful delivery (at least once: a repeat may follow)."""
    seen: set[str] = set()
    first = []
    for delivery in deliveries:
        if delivery.event["id"] not in seen:
            seen.add(delivery.event["id"])
            first.append(delivery)
    return first


def assert_in_order_per_chat(deliveries: list[Delivery]) -> None:
    last: dict[str, int] = {}
    for chat_id, seq in messages(first_deliveries(deliveries)):
        assert seq > last.get(chat_id, 0), f"chat {chat_id}: seq {seq} after {last[chat_id]}"
        last[chat_id] = seq


# -- the routes ---------------------------------------------------------------------------


def test_a_webhook_is_created_with_its_secret_once_then_replaced_listed_and_deleted(
    chats: chat.ChatApi,
) -> None:
    tenant = chats.tenant()
    with tenant_api(chats.url, chats, tenant) as backend:
        created = backend.put("push", "https://hooks.example.com/parley", ["message", "reaction"])
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["secret"].startswith("whsec_")
        assert len(body["secret"]) > 40
        assert {k: v for k, v in body.items() if k != "secret"} == {
            "name": "push",
            "url": "https://hooks.example.com/parley",
            "events": ["message", "reaction"],
            "enabled": True,
            "status": "active",
        }
        replaced = backend.put("push", "https://hooks.example.com/v2", ["member.joined"])
        assert replaced.status_code == 200, replaced.text
        assert "secret" not in replaced.json()
        paused = backend.put("push", "https://hooks.example.com/v2", ["message"], enabled=False)
        assert paused.json()["enabled"] is False
        assert backend.http.get("/v1/tenant/webhooks").json() == {
            "webhooks": [
                {
                    "name": "push",
                    "url": "https://hooks.example.com/v2",
                    "events": ["message"],
                    "enabled": False,
                    "status": "active",
                }
            ]
        }
        assert backend.http.delete("/v1/tenant/webhooks/push").status_code == 204
        problems.problem(backend.http.delete("/v1/tenant/webhooks/push"), 404)
        assert backend.http.get("/v1/tenant/webhooks").json() == {"webhooks": []}


def test_webhooks_are_the_key_tenants_own_and_a_user_token_is_refused(
    chats: chat.ChatApi,
) -> None:
    alice = chats.user()
    other = chats.tenant()
    with (
        tenant_api(chats.url, chats, alice.tenant) as mine,
        tenant_api(chats.url, chats, other) as theirs,
    ):
        mine.create("push", "https://hooks.example.com/a")
        assert theirs.http.get("/v1/tenant/webhooks").json() == {"webhooks": []}
        problems.problem(theirs.http.delete("/v1/tenant/webhooks/push"), 404)
    for headers in [alice.headers, {}, {"Authorization": "Bearer psk_unknown"}]:
        with case(headers):
            response = chats.http.get("/v1/tenant/webhooks", headers=headers)
            problems.problem(response, 401)


def test_a_suspended_tenant_lists_its_webhooks_but_changes_none_and_a_deleted_ones_go(
    chats: chat.ChatApi, database_url: str
) -> None:
    tenant = chats.tenant()
    with tenant_api(chats.url, chats, tenant) as backend:
        backend.create("push", "https://hooks.example.com/a")
        suspend = chats.accounts.http.put(
            f"/internal/v1/tenants/{tenant}",
            json={"display_name": tenant, "suspended": True},
            headers=chats.admin,
        )
        assert suspend.status_code == 200, suspend.text
        # Chat trusts auth's word on a key for up to PARLEY_AUTH_SERVER_KEY_CACHE_SECONDS.
        deadline = time.monotonic() + 10
        while (
            changed := backend.put("push", "https://hooks.example.com/b", ["message"])
        ).is_success:
            assert time.monotonic() < deadline, "the suspension never reached chat"
            time.sleep(0.1)
        problems.problem(changed, 403)
        problems.problem(backend.http.delete("/v1/tenant/webhooks/push"), 403)
        assert backend.webhook("push")["name"] == "push"  # reading is still allowed
    for http in (chats.accounts.http, chats.http):
        deleted = http.delete(f"/internal/v1/tenants/{tenant}", headers=chats.admin)
        assert deleted.status_code == 204, deleted.text
    assert chat.rows_of_tenant(database_url, tenant)["webhooks"] == 0


BAD_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("http", {"url": "http://hooks.example.com/x", "events": ["message"]}, "url"),
    ("loopback", {"url": "https://127.0.0.1/x", "events": ["message"]}, "url"),
    ("ipv6 loopback", {"url": "https://[::1]:8443/x", "events": ["message"]}, "url"),
    ("private", {"url": "https://10.1.2.3/x", "events": ["message"]}, "url"),
    ("metadata", {"url": "https://169.254.169.254/latest", "events": ["message"]}, "url"),
    ("localhost", {"url": "https://localhost:8443/x", "events": ["message"]}, "url"),
    ("credentials", {"url": "https://u:p@hooks.example.com/", "events": ["message"]}, "url"),
    ("not a url", {"url": "hooks.example.com", "events": ["message"]}, "url"),
    ("huge url", {"url": "https://h.example.com/" + "a" * 3000, "events": ["message"]}, "url"),
    ("spaces", {"url": "https://hooks.example.com/a b", "events": ["message"]}, "url"),
    ("unknown event", {"url": "https://hooks.example.com/", "events": ["message.sent"]}, "events"),
    ("no events", {"url": "https://hooks.example.com/", "events": []}, "events"),
    ("events not a list", {"url": "https://hooks.example.com/", "events": "message"}, "events"),
    ("no url", {"events": ["message"]}, "url"),
    (
        "enabled not a bool",
        {"url": "https://x.example.com/", "events": ["message"], "enabled": "maybe"},
        "enabled",
    ),
]


def test_bad_webhooks_are_422_naming_the_field_when_private_addresses_are_not_allowed(
    chats: chat.ChatApi,
) -> None:
    with tenant_api(chats.url, chats, chats.tenant()) as backend:
        for name, body, field in BAD_BODIES:
            with case(name):
                response = backend.http.put("/v1/tenant/webhooks/push", json=body)
                problems.invalid(response, field)
        for bad_name in ["Push", "a" * 33, "-push", "push_1", "pu%20sh"]:
            with case(bad_name):
                response = backend.http.put(
                    f"/v1/tenant/webhooks/{bad_name}",
                    json={"url": "https://hooks.example.com/", "events": ["message"]},
                )
                assert 400 <= response.status_code < 500, response.text
        assert backend.http.get("/v1/tenant/webhooks").json() == {"webhooks": []}


def test_past_twenty_webhooks_a_new_one_is_422_and_a_thousand_never_get_in(
    chats: chat.ChatApi,
) -> None:
    with tenant_api(chats.url, chats, chats.tenant()) as backend:
        for index in range(20):
            backend.create(f"hook-{index}", f"https://hooks.example.com/{index}")
        for index in range(20, 40):
            with case(index):
                response = backend.put(f"hook-{index}", "https://hooks.example.com/x", ["message"])
                problems.problem(response, 422)
                assert "at most 20 webhooks" in response.json()["detail"]
        # Replacing one of the twenty is still allowed.
        assert (
            backend.put("hook-3", "https://hooks.example.com/new", ["message"]).status_code == 200
        )
        assert len(backend.http.get("/v1/tenant/webhooks").json()["webhooks"]) == 20


# -- delivery -----------------------------------------------------------------------------


def test_every_event_arrives_once_signed_in_order_per_chat_with_offline_members(
    chats: chat.ChatApi, database_url: str, auth_server: str, tmp_path: Path
) -> None:
    alice, bob = chats.users(2)
    first = chats.group(alice, bob)["id"]
    second = chats.group(bob, alice)["id"]
    with Receiver() as receiver, delivering(database_url, auth_server, tmp_path) as server:
        with tenant_api(server.url, chats, alice.tenant) as backend:
            secret = backend.create("all", receiver.url, ["message", "member.joined"])
        for index in range(6):
            chats.send(alice if index % 2 else bob, first, f"first {index}")
            chats.send(bob, second, f"second {index}")
        delivered = receiver.wait_for(lambda found: len(messages(found)) >= 12)
    assert sorted(messages(delivered)) == sorted(
        [(first, seq) for seq in range(1, 7)] + [(second, seq) for seq in range(1, 7)]
    ), "each message exactly once"
    assert_in_order_per_chat(delivered)
    for delivery in delivered:
        headers = {name.lower(): value for name, value in delivery.headers.items()}
        event = delivery.event
        assert headers["content-type"] == "application/json"
        assert headers["user-agent"].startswith("Parley-Webhooks/")
        assert headers["parley-event-id"] == event["id"]
        assert verifier.verify(secret, headers["parley-signature"], delivery.body)
        assert not verifier.verify("whsec_wrong", headers["parley-signature"], delivery.body)
        assert event["tenant"] == alice.tenant
        assert event["cursor"]
        assert set(event) == {"id", "cursor", "type", "tenant", "chat_id", "occurred_at", "data"}
        assert sorted(event["data"]["offline_member_ids"]) == sorted([alice.id, bob.id])


def test_a_receiver_that_fails_its_first_calls_gets_every_event_after_retries_in_order(
    chats: chat.ChatApi, database_url: str, auth_server: str, tmp_path: Path
) -> None:
    alice, bob = chats.users(2)
    chat_id = chats.group(alice, bob)["id"]
    with (
        Receiver(Behaviour(fail_first=4)) as receiver,
        delivering(database_url, auth_server, tmp_path) as server,
    ):
        with tenant_api(server.url, chats, alice.tenant) as backend:
            backend.create("flaky", receiver.url)
        for index in range(5):
            chats.send(alice, chat_id, f"message {index}")
        delivered = receiver.wait_for(lambda found: len(messages(found)) >= 5)
        failed = [call for call in receiver.calls if call.status == 500]
    assert len(failed) == 4
    # Every failure was the first message, retried; nothing after it went before it.
    assert {call.event["data"]["message"]["seq"] for call in failed} == {1}
    assert messages(delivered) == [(chat_id, seq) for seq in range(1, 6)]


def test_a_dead_endpoint_does_not_delay_another_webhooks_deliveries(
    chats: chat.ChatApi, database_url: str, auth_server: str, tmp_path: Path
) -> None:
    alice, bob = chats.users(2)
    chat_id = chats.group(alice, bob)["id"]
    hang = threading.Event()
    with (
        Receiver(Behaviour(hold=hang)) as dead,
        Receiver() as alive,
        delivering(
            database_url, auth_server, tmp_path, timeout_seconds=20, lease_seconds=30
        ) as server,
    ):
        with tenant_api(server.url, chats, alice.tenant) as backend:
            backend.create("dead", dead.url)
            backend.create("alive", alive.url)
        for index in range(5):
            chats.send(alice, chat_id, f"message {index}")
        started = time.monotonic()
        delivered = alive.wait_for(lambda found: len(messages(found)) >= 5)
        # All five while the dead endpoint still holds its first delivery.
        assert time.monotonic() - started < 15
        assert dead.calls == []
        hang.set()
        dead.wait_for(lambda found: len(messages(found)) >= 5)
    assert messages(delivered) == [(chat_id, seq) for seq in range(1, 6)]


def test_a_webhook_failing_for_the_whole_retry_window_pauses_until_put_again(
    chats: chat.ChatApi, database_url: str, auth_server: str, tmp_path: Path
) -> None:
    alice, bob = chats.users(2)
    chat_id = chats.group(alice, bob)["id"]
    with (
        Receiver(Behaviour(status=503)) as receiver,
        delivering(database_url, auth_server, tmp_path, retry_seconds=1.0) as server,
        tenant_api(server.url, chats, alice.tenant) as backend,
    ):
        backend.create("down", receiver.url)
        chats.send(alice, chat_id, "first")
        deadline = time.monotonic() + 30
        while backend.webhook("down")["status"] != "failing":
            assert time.monotonic() < deadline, "the webhook never turned failing"
            time.sleep(0.1)
        assert backend.webhook("down")["enabled"] is True
        calls = len(receiver.calls)
        assert calls >= 2, "retried before giving up"
        chats.send(alice, chat_id, "second")
        time.sleep(1.5)  # 15 polls: a paused webhook gets nothing
        assert len(receiver.calls) == calls
        receiver.behaviour.status = 204
        again = backend.put("down", receiver.url, ["message"], enabled=True)
        assert again.status_code == 200
        assert again.json()["status"] == "active"
        delivered = receiver.wait_for(lambda found: len(messages(found)) >= 2)
    assert messages(delivered) == [(chat_id, 1), (chat_id, 2)]


def test_a_replica_stopped_mid_delivery_hands_its_webhook_to_another_that_goes_on_in_order(
    chats: chat.ChatApi, database_url: str, auth_server: str, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("replicas share a PostgreSQL database")
    alice, bob = chats.users(2)
    first = chats.group(alice, bob)["id"]
    second = chats.group(alice, bob)["id"]
    with Receiver(Behaviour(delay_seconds=0.3)) as receiver:
        with delivering(database_url, auth_server, tmp_path / "a") as replica_a:
            with tenant_api(replica_a.url, chats, alice.tenant) as backend:
                backend.create("slow", receiver.url)
            for index in range(8):
                chats.send(alice, first, f"first {index}")
                chats.send(bob, second, f"second {index}")
            receiver.wait_for(lambda found: len(found) >= 3)
            replica_b = delivering(database_url, auth_server, tmp_path / "b")
            replica_b.__enter__()
        # Replica A stopped while the slow receiver held one of its deliveries.
        try:
            delivered = receiver.wait_for(lambda found: len(set(messages(found))) >= 16)
        finally:
            replica_b.__exit__(None, None, None)
    assert sorted(set(messages(delivered))) == sorted(
        [(first, seq) for seq in range(1, 9)] + [(second, seq) for seq in range(1, 9)]
    )
    assert_in_order_per_chat(delivered)


def lines_of(stream: IO[str]) -> queue.Queue[str]:
    """The lines of a child's output as they come, read by a thread (a test never hangs
    on a child that prints nothing)."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    return lines


def test_parley_webhook_listen_verifies_and_prints_a_real_delivery(
    chats: chat.ChatApi, database_url: str, auth_server: str, tmp_path: Path
) -> None:
    alice, bob = chats.users(2)
    chat_id = chats.group(alice, bob)["id"]
    port = processes.free_port()
    with (
        delivering(database_url, auth_server, tmp_path) as server,
        tenant_api(server.url, chats, alice.tenant) as backend,
    ):
        secret = backend.create("cli", f"http://127.0.0.1:{port}/")
        with subprocess.Popen(
            [sys.executable, "-m", "parley_cli", "webhook", "listen", "--port", str(port)],
            env={**os.environ, "PARLEY_WEBHOOK_SECRET": secret},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as listen:
            try:
                assert listen.stderr is not None
                assert listen.stdout is not None
                assert f"127.0.0.1:{port}" in lines_of(listen.stderr).get(timeout=30)
                printed = lines_of(listen.stdout)
                forged = httpx.post(
                    f"http://127.0.0.1:{port}/",
                    content=b"{}",
                    headers={"Parley-Signature": f"t={int(time.time())},v1=00"},
                )
                assert forged.status_code == 401
                chats.send(alice, chat_id, "to the listener")
                line = printed.get(timeout=30)  # the first verified event, as one JSON line
            finally:
                listen.terminate()
    event = json.loads(line)
    assert event["type"] == "message"
    assert event["chat_id"] == chat_id
    assert event["data"]["message"]["body"] == "to the listener"


def save(
    chats: chat.ChatApi,
    tenant: str,
    name: str,
    url: str,
    database_url: str,
    auth_server: str,
    tmp_path: Path,
) -> None:
    """Create a webhook to a loopback receiver through a server that allows private
    addresses and delivers nothing."""
    with (
        delivering(database_url, auth_server, tmp_path / "routes", concurrency=0) as routes,
        tenant_api(routes.url, chats, tenant) as backend,
    ):
        backend.create(name, url)


def webhook_row(database_url: str, tenant: str, name: str) -> dict[str, Any]:
    engine = sa.create_engine(database_url.replace("+aiosqlite", ""))
    try:
        with engine.connect() as connection:
            row = connection.execute(
                sa.text("SELECT * FROM webhooks WHERE tenant = :tenant AND name = :name"),
                {"tenant": tenant, "name": name},
            ).one()
            return dict(row._mapping)
    finally:
        engine.dispose()


def hold_lease(database_url: str, tenant: str, name: str, seconds: float) -> None:
    """What a replica killed mid-delivery leaves: the webhook leased to a process that is
    gone, until the lease expires."""
    engine = sa.create_engine(database_url.replace("+aiosqlite", ""))
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "UPDATE webhooks SET lease_owner = 'killed', lease_until = :until"
                    " WHERE tenant = :tenant AND name = :name"
                ),
                {
                    "until": datetime.now(UTC) + timedelta(seconds=seconds),
                    "tenant": tenant,
                    "name": name,
                },
            )
    finally:
        engine.dispose()


def test_a_webhook_leased_by_a_killed_replica_is_delivered_once_the_lease_expires(
    chats: chat.ChatApi, database_url: str, auth_server: str, tmp_path: Path
) -> None:
    alice, bob = chats.users(2)
    chat_id = chats.group(alice, bob)["id"]
    with Receiver() as receiver:
        save(chats, alice.tenant, "orphan", receiver.url, database_url, auth_server, tmp_path)
        hold_lease(database_url, alice.tenant, "orphan", seconds=8)
        chats.send(alice, chat_id, "while nobody holds it")
        with delivering(database_url, auth_server, tmp_path / "b"):
            time.sleep(1.5)  # 15 polls of a live replica, while the lease still holds
            assert receiver.calls == []
            delivered = receiver.wait_for(lambda found: len(messages(found)) >= 1)
    assert messages(delivered) == [(chat_id, 1)]


def test_with_private_addresses_refused_a_delivery_to_loopback_is_never_made(
    chats: chat.ChatApi, database_url: str, auth_server: str, tmp_path: Path
) -> None:
    alice, bob = chats.users(2)
    chat_id = chats.group(alice, bob)["id"]
    with Receiver() as receiver:
        # Saved while private addresses were allowed; delivered by a replica that refuses them.
        save(chats, alice.tenant, "inside", receiver.url, database_url, auth_server, tmp_path)
        chats.send(alice, chat_id, "must not leave")
        with delivering(database_url, auth_server, tmp_path / "b", allow_private=False):
            deadline = time.monotonic() + 30
            while webhook_row(database_url, alice.tenant, "inside")["attempts"] < 2:
                assert time.monotonic() < deadline, "no delivery was attempted"
                time.sleep(0.1)
    assert receiver.calls == []
