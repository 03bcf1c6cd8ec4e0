"""`GET /v1/tenant/events` on one chat server, on SQLite and PostgreSQL (docs/api.md
"Tenant backends", docs/integrations.md "The event feed"): which changes make events, in
what order, the cursor rules, long polls, retention and who may read."""

from __future__ import annotations

import base64
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from parley_chat import app as chat_app
from support import auth, chat, chat_routes, problems
from support.servers import ServedApp


def _key(chats: chat.ChatApi, tenant: str) -> dict[str, str]:
    return auth.AuthApi.bearer(chats.accounts.server_key(tenant))


def _read(
    http: httpx.Client, key: dict[str, str], **params: Any
) -> tuple[list[dict[str, Any]], str]:
    response = http.get("/v1/tenant/events", params=params, headers=key, timeout=40)
    assert response.status_code == 200, response.text
    body = response.json()
    return body["events"], body["cursor"]


def test_each_change_a_backend_sees_is_an_event_in_the_order_it_committed(
    chats: chat.ChatApi,
) -> None:
    alice, bob, carol = chats.users(3)
    key = _key(chats, alice.tenant)
    chat_id = chats.group(alice, bob)["id"]
    sent = chats.send(alice, chat_id, "hello")
    http = chats.http
    edited = http.patch(
        f"/v1/chats/{chat_id}/messages/{sent['seq']}", json={"body": "hi"}, headers=alice.headers
    )
    assert edited.status_code == 200, edited.text
    reacted = chat_routes.react(chats, bob, chat_id, sent["seq"], "👍")
    assert reacted.status_code in (200, 201, 204), reacted.text
    added = http.post(
        f"/v1/chats/{chat_id}/members", json={"username": carol.username}, headers=alice.headers
    )
    assert added.status_code == 201, added.text
    left = http.delete(f"/v1/chats/{chat_id}/members/{carol.username}", headers=carol.headers)
    assert left.status_code in (200, 204), left.text
    deleted = http.delete(f"/v1/chats/{chat_id}/messages/{sent['seq']}", headers=alice.headers)
    assert deleted.status_code in (200, 204), deleted.text

    events, cursor = _read(http, key)

    assert [(e["type"], e["chat_id"]) for e in events] == [
        ("member.joined", chat_id),
        ("member.joined", chat_id),
        ("message", chat_id),
        ("message.updated", chat_id),
        ("reaction", chat_id),
        ("member.joined", chat_id),
        ("member.left", chat_id),
        ("message.updated", chat_id),
    ]
    assert {e["tenant"] for e in events} == {alice.tenant}
    assert len({e["id"] for e in events}) == len(events)
    assert cursor == events[-1]["cursor"]
    message = events[2]["data"]
    assert message["type"] == "message"
    assert message["message"]["seq"] == sent["seq"]
    assert message["message"]["body"] == "hello"
    # Nobody has a stream open: every member is offline, for push notifications.
    assert sorted(message["offline_member_ids"]) == sorted([alice.id, bob.id])
    assert events[3]["data"]["message"]["body"] == "hi"
    assert events[4]["data"]["emoji"] == "👍"
    assert events[4]["data"]["count"] == 1
    assert events[5]["data"]["member"]["username"] == carol.username
    assert events[7]["data"]["message"]["deleted"] is True
    assert "offline_member_ids" not in events[3]["data"]

    # Reading on from a cursor gives what came after it, and nothing twice.
    chats.send(bob, chat_id, "again")
    later, _ = _read(http, key, after=cursor)
    assert [e["type"] for e in later] == ["message"]
    paged, paged_cursor = _read(http, key, limit=3)
    assert [e["id"] for e in paged] == [e["id"] for e in events[:3]]
    rest, _ = _read(http, key, after=paged_cursor, limit=1000)
    assert [e["id"] for e in rest] == [e["id"] for e in events[3:] + later]


def test_a_reply_and_its_root_update_are_events_of_the_same_transaction_in_order(
    chats: chat.ChatApi,
) -> None:
    alice, bob = chats.users(2)
    key = _key(chats, alice.tenant)
    chat_id = chats.group(alice, bob)["id"]
    root = chats.send(alice, chat_id, "root")
    _, cursor = _read(chats.http, key)
    reply = chats.send(bob, chat_id, f"yes @{alice.username}", reply_to=root["seq"])

    events, _ = _read(chats.http, key, after=cursor)

    assert [e["type"] for e in events] == ["message", "message.updated"]
    assert events[0]["data"]["message"]["seq"] == reply["seq"]
    assert events[1]["data"]["message"]["thread"]["replies"] == 1


def test_another_tenants_events_are_not_in_the_feed(chats: chat.ChatApi) -> None:
    alice, bob = chats.users(2)
    stranger, other = chats.users(2)
    chats.send(alice, chats.group(alice, bob)["id"])
    chats.send(stranger, chats.group(stranger, other)["id"])

    events, _ = _read(chats.http, _key(chats, alice.tenant))

    assert {e["tenant"] for e in events} == {alice.tenant}
    assert len(events) == 3


def test_a_long_poll_returns_as_soon_as_an_event_is_written(chats: chat.ChatApi) -> None:
    alice, bob = chats.users(2)
    key = _key(chats, alice.tenant)
    chat_id = chats.group(alice, bob)["id"]
    _, cursor = _read(chats.http, key)
    answered: list[tuple[list[dict[str, Any]], float]] = []

    def poll() -> None:
        with httpx.Client(base_url=chats.url, timeout=40) as client:
            started = time.monotonic()
            events, _ = _read(client, key, after=cursor, wait=25)
            answered.append((events, time.monotonic() - started))

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.5)  # let the poll start waiting: what it must do then is the test
    chats.send(alice, chat_id, "wake up")
    poller.join(timeout=40)

    ((events, took),) = answered
    assert [e["data"]["message"]["body"] for e in events] == ["wake up"]
    assert took < 20


def test_a_long_poll_with_nothing_new_answers_empty_with_the_same_cursor(
    chats: chat.ChatApi,
) -> None:
    alice = chats.user()
    key = _key(chats, alice.tenant)
    _, cursor = _read(chats.http, key)

    started = time.monotonic()
    events, again = _read(chats.http, key, after=cursor, wait=1)

    assert events == []
    assert again == cursor
    assert time.monotonic() - started >= 0.9


def test_cursors_that_are_not_this_tenants_and_limits_out_of_range_are_422(
    chats: chat.ChatApi,
) -> None:
    alice, bob = chats.users(2)
    stranger = chats.user()
    chats.group(alice, bob)
    key = _key(chats, alice.tenant)
    _, theirs = _read(chats.http, _key(chats, stranger.tenant))
    _, mine = _read(chats.http, key)
    beyond = base64.urlsafe_b64encode(f"{alice.tenant}/99".encode()).decode().rstrip("=")

    for params in (
        {"after": theirs},
        {"after": "not-a-cursor"},
        {"after": "!!"},
        {"after": beyond},
        {"after": mine, "limit": "0"},
        {"after": mine, "limit": "1001"},
        {"after": mine, "wait": "31"},
    ):
        response = chats.http.get("/v1/tenant/events", params=params, headers=key)
        problems.problem(response, 422)
    problems.problem(chats.http.get("/v1/tenant/events?limit=ten", headers=key), 422)


def test_only_a_live_server_key_of_the_tenant_reads_its_feed(chats: chat.ChatApi) -> None:
    alice = chats.user()
    for headers in (
        {},
        alice.headers,  # a user's access token is no server key
        {"Authorization": "Bearer psk_" + "x" * 43},
        {"Authorization": "Bearer " + chats.accounts.admin["Authorization"].split()[1]},
    ):
        problems.problem(chats.http.get("/v1/tenant/events", headers=headers), 401)
    key = chats.accounts.server_key(alice.tenant)
    # ...and a server key is no user token on the other routes.
    problems.problem(chats.http.get("/v1/chats", headers=auth.AuthApi.bearer(key)), 401)


def test_purging_a_tenant_deletes_its_events(chats: chat.ChatApi, database_url: str) -> None:
    alice, bob = chats.users(2)
    chats.send(alice, chats.group(alice, bob)["id"])
    assert chat.rows_of_tenant(database_url, alice.tenant)["events"] == 3

    purged = chats.http.delete(f"/internal/v1/tenants/{alice.tenant}", headers=chats.admin)

    assert purged.status_code == 204, purged.text
    rows = chat.rows_of_tenant(database_url, alice.tenant)
    assert rows["events"] == rows["event_positions"] == 0


def test_retention_deletes_old_events_and_a_cursor_before_what_is_kept_is_410(
    chats: chat.ChatApi, database_url: str, tmp_path: Path
) -> None:
    alice, bob = chats.users(2)
    key = _key(chats, alice.tenant)
    chat_id = chats.group(alice, bob)["id"]
    _, first_cursor = _read(chats.http, key, limit=1)
    chats.send(alice, chat_id, "old")
    _age_events(database_url, alice.tenant, timedelta(days=8))
    chats.send(alice, chat_id, "new")
    settings = chat.settings(
        tmp_path,
        database_url,
        chats.accounts.url,
        event_retention_seconds=7 * 86_400,
        event_purge_interval_seconds=0.1,
    )

    with ServedApp(chat_app.create_app(settings)) as purger:
        deadline = time.monotonic() + 20
        while chat.rows_of_tenant(database_url, alice.tenant)["events"] != 1:
            assert time.monotonic() < deadline, "old events were not deleted"
            time.sleep(0.05)
        with httpx.Client(base_url=purger.url, timeout=10) as http:
            kept, _ = _read(http, key)
            gone = http.get("/v1/tenant/events", params={"after": first_cursor}, headers=key)

    assert [e["data"]["message"]["body"] for e in kept] == ["new"]
    problems.problem(gone, 410)


def _age_events(database_url: str, tenant: str, age: timedelta) -> None:
    engine = sa.create_engine(database_url.replace("+aiosqlite", ""))
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text("UPDATE events SET occurred_at = :at WHERE tenant = :tenant"),
                {"at": datetime.now(UTC) - age, "tenant": tenant},
            )
    finally:
        engine.dispose()
