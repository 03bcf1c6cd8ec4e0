"""`make run`'s process, started as a user would: one port, SQLite, tenant `default`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from parley_cli import webhooks
from parley_proto.auth.v1 import auth_pb2, auth_pb2_grpc
from parley_proto.chat.v1 import chat_pb2, chat_pb2_grpc
from support.stream import StreamClient
from support.webhooks import Receiver


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def grpc_port() -> int:
    return _free_port()


@pytest.fixture
def embedded(tmp_path: Path, grpc_port: int) -> Iterator[tuple[str, Path]]:
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PARLEY_") or key == "PARLEY_REQUIRE_SERVICES"
    }
    env["PARLEY_PORT"] = str(port)
    # Not the default 50051: another embedded server of the run may hold it.
    env["PARLEY_GRPC_PORT"] = str(grpc_port)
    log = tmp_path / "embedded.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "parley_embedded"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the embedded server did not become ready:\n{log.read_text()}")
            time.sleep(0.2)
        yield url, tmp_path
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_embedded_default_serves_the_auth_contract_on_one_port(
    embedded: tuple[str, Path],
) -> None:
    url, data_dir = embedded
    with httpx.Client(base_url=url, timeout=30) as http:
        account = {"tenant": "default", "username": "alice", "password": "correct horse"}
        assert http.post("/v1/auth/register", json=account).status_code == 201
        tokens = http.post("/v1/auth/login", json=account).json()
        me = http.get("/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert me.json()["username"] == "alice"
        refreshed = http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200
        assert http.get("/.well-known/jwks.json").json()["keys"]
        assert http.get("/healthz").status_code == 200
        assert "parley_http" in http.get("/metrics").text

    assert (data_dir / ".parley" / "auth.db").exists()
    assert (data_dir / ".parley" / "signing-key.pem").exists()


def test_the_embedded_default_prints_its_url_and_a_working_admin_token(
    embedded: tuple[str, Path],
) -> None:
    url, data_dir = embedded
    printed = (data_dir / "embedded.log").read_text()
    assert url in printed
    token = (data_dir / ".parley" / "admin-token").read_text().strip()
    assert token in printed
    with httpx.Client(base_url=url, timeout=30) as http:
        tenant = http.get(
            "/internal/v1/tenants/default", headers={"Authorization": f"Bearer {token}"}
        )
        assert tenant.status_code == 200
        assert tenant.json()["self_registration"] is True
        assert http.get("/internal/v1/tenants/default").status_code == 401


def test_the_embedded_default_serves_chat_on_the_same_port(
    embedded: tuple[str, Path],
) -> None:
    url, data_dir = embedded
    with httpx.Client(base_url=url, timeout=30) as http:
        bearer = {}
        for name in ("alice", "bob"):
            account = {"tenant": "default", "username": name, "password": "correct horse"}
            assert http.post("/v1/auth/register", json=account).status_code == 201
            token = http.post("/v1/auth/login", json=account).json()["access_token"]
            bearer[name] = {"Authorization": f"Bearer {token}"}
        created = http.post(
            "/v1/chats",
            json={"kind": "group", "title": "Lunch", "members": ["bob"]},
            headers=bearer["alice"],
        )
        assert created.status_code == 201
        chat_id = created.json()["id"]
        for text in ("pizza?", "or ramen"):
            sent = http.post(
                f"/v1/chats/{chat_id}/messages", json={"body": text}, headers=bearer["alice"]
            )
            assert sent.status_code == 201
        page = http.get(f"/v1/chats/{chat_id}/messages", headers=bearer["bob"]).json()
        assert [(m["seq"], m["body"]) for m in page["messages"]] == [(1, "pizza?"), (2, "or ramen")]
        chats = http.get("/v1/chats", headers=bearer["bob"]).json()["chats"]
        assert [(c["title"], c["unread"]) for c in chats] == [("Lunch", 2)]

    assert (data_dir / ".parley" / "chat.db").exists()


def test_deleting_a_tenant_in_the_embedded_default_purges_chat_and_auth(
    embedded: tuple[str, Path],
) -> None:
    url, data_dir = embedded
    admin = {"Authorization": f"Bearer {(data_dir / '.parley' / 'admin-token').read_text()}"}
    with httpx.Client(base_url=url, timeout=30) as http:
        spec = {"self_registration": True}
        assert http.put("/internal/v1/tenants/acme", json=spec, headers=admin).status_code == 201
        account = {"tenant": "acme", "username": "alice", "password": "correct horse"}
        assert http.post("/v1/auth/register", json=account).status_code == 201
        token = http.post("/v1/auth/login", json=account).json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        chat_id = http.post(
            "/v1/chats", json={"kind": "group", "members": []}, headers=bearer
        ).json()["id"]
        assert http.post(f"/v1/chats/{chat_id}/messages", json={"body": "hi"}, headers=bearer)

        assert http.delete("/internal/v1/tenants/acme").status_code == 401
        assert http.delete("/internal/v1/tenants/acme", headers=admin).status_code == 204
        assert http.delete("/internal/v1/tenants/acme", headers=admin).status_code == 204

        # The access token outlives the tenant, but the chat data is gone with it.
        assert http.get(f"/v1/chats/{chat_id}", headers=bearer).status_code == 404
        assert http.get("/internal/v1/tenants/acme", headers=admin).status_code == 404
        assert http.post("/v1/auth/login", json=account).status_code == 401


def test_the_embedded_default_delivers_webhooks_to_a_loopback_receiver(
    embedded: tuple[str, Path],
) -> None:
    url, data_dir = embedded
    admin = {"Authorization": f"Bearer {(data_dir / '.parley' / 'admin-token').read_text()}"}
    with Receiver() as receiver, httpx.Client(base_url=url, timeout=30) as http:
        issued = http.post(
            "/internal/v1/tenants/default/server-keys", json={"name": "backend"}, headers=admin
        )
        assert issued.status_code == 201, issued.text
        key = {"Authorization": f"Bearer {issued.json()['key']}"}
        hook = http.put(
            "/v1/tenant/webhooks/local",
            json={"url": receiver.url, "events": ["message"]},
            headers=key,
        )
        assert hook.status_code == 201, hook.text  # http and loopback: allowed on a laptop
        account = {"tenant": "default", "username": "alice", "password": "correct horse"}
        assert http.post("/v1/auth/register", json=account).status_code == 201
        token = http.post("/v1/auth/login", json=account).json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        chat_id = http.post(
            "/v1/chats", json={"kind": "group", "members": []}, headers=bearer
        ).json()["id"]
        http.post(f"/v1/chats/{chat_id}/messages", json={"body": "hook me"}, headers=bearer)
        delivered = receiver.wait_for(lambda found: len(found) >= 1)
    assert delivered[0].event["data"]["message"]["body"] == "hook me"
    assert webhooks.verify(
        hook.json()["secret"], delivered[0].headers["Parley-Signature"], delivered[0].body
    )


def test_the_embedded_default_streams_on_the_same_port(embedded: tuple[str, Path]) -> None:
    url, _ = embedded
    with httpx.Client(base_url=url, timeout=30) as http:
        tokens = {}
        for name in ("carol", "dave"):
            account = {"tenant": "default", "username": name, "password": "correct horse"}
            assert http.post("/v1/auth/register", json=account).status_code == 201
            tokens[name] = http.post("/v1/auth/login", json=account).json()["access_token"]
        with StreamClient(url, tokens["dave"], via_query=True) as stream:
            chat = http.post(
                "/v1/chats",
                json={"kind": "direct", "members": ["dave"]},
                headers={"Authorization": f"Bearer {tokens['carol']}"},
            ).json()
            http.post(
                f"/v1/chats/{chat['id']}/messages",
                json={"body": "hi dave"},
                headers={"Authorization": f"Bearer {tokens['carol']}"},
            )
            (frame,) = stream.messages(1)
            assert (frame["chat_id"], frame["message"]["body"]) == (chat["id"], "hi dave")


def test_the_embedded_default_serves_one_openapi_document_of_both_services_and_its_reference(
    embedded: tuple[str, Path],
) -> None:
    url, data_dir = embedded
    token = (data_dir / ".parley" / "admin-token").read_text().strip()
    with httpx.Client(base_url=url, timeout=30) as http:
        document = http.get("/v1/openapi.json").json()
        reference = http.get("/v1/docs")
        internal = http.get("/internal/openapi.json", headers={"Authorization": f"Bearer {token}"})

    assert {"/v1/auth/login", "/v1/chats", "/v1/chats/{chat_id}/messages"} <= set(document["paths"])
    assert not [path for path in document["paths"] if path.startswith("/internal")]
    assert reference.status_code == 200
    assert "/v1/auth/login" in reference.text
    assert "/internal/v1/tenants/{slug}" in internal.json()["paths"]


def test_the_embedded_default_serves_both_grpc_services_on_one_port(
    embedded: tuple[str, Path], grpc_port: int
) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        accounts = auth_pb2_grpc.AuthServiceStub(channel)
        chats = chat_pb2_grpc.ChatServiceStub(channel)
        for name in ("alice", "bob"):
            accounts.Register(
                auth_pb2.RegisterRequest(tenant="default", username=name, password="correct horse"),
                timeout=30,
            )
        pair = accounts.Login(
            auth_pb2.LoginRequest(tenant="default", username="alice", password="correct horse"),
            timeout=30,
        ).token_pair
        bearer = (("authorization", f"Bearer {pair.access_token}"),)
        created = chats.CreateChat(
            chat_pb2.CreateChatRequest(kind="direct", members=["bob"]), metadata=bearer, timeout=30
        )
        sent = chats.SendMessage(
            chat_pb2.SendMessageRequest(chat_id=created.chat.id, body="hi"),
            metadata=bearer,
            timeout=30,
        )
        assert (created.created, sent.message.seq) == (True, 1)
        checks: Any = health_pb2_grpc.HealthStub(channel)
        for service in (
            "parley.auth.v1.AuthService",
            "parley.chat.v1.ChatService",
            "parley.auth.v1.TenantUserService",
            "parley.chat.v1.TenantEventService",
        ):
            answer = checks.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
        # The tenant backends' services are there too, and take no user's token.
        feed = chat_pb2_grpc.TenantEventServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            feed.ListEvents(chat_pb2.ListEventsRequest(), metadata=bearer, timeout=30)
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
