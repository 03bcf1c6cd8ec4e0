"""The contract's core over both APIs (docs/grpc.md): each test runs once over REST and
once over gRPC against the same servers, and expects the same answers and the same
refusals, bad input naming its field and never an internal error."""

from __future__ import annotations

import concurrent.futures
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from parley_auth.app import create_app as create_auth_app
from parley_chat.app import create_app as create_chat_app
from parley_proto.auth.v1 import auth_pb2, auth_pb2_grpc
from support import auth, chat
from support.attachments import MotoServer, png, s3_store
from support.observability import scrape, value
from support.parity import TRANSPORTS, Client, Endpoints, Refused, RestClient
from support.processes import RedisProcess
from support.servers import ServedApp


@pytest.fixture(scope="session")
def endpoints(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    """An auth and a chat server with their gRPC APIs on (PARLEY_GRPC_PORT=0: free ports)."""
    auth_app = create_auth_app(
        auth.settings(tmp_path_factory.mktemp("auth-grpc"), database_url, grpc_port=0)
    )
    with ServedApp(auth_app) as auth_served:
        chat_settings = chat.settings(
            tmp_path_factory.mktemp("chat-grpc"), database_url, auth_served.url, grpc_port=0
        )
        chat_app = create_chat_app(chat_settings)
        with ServedApp(chat_app) as chat_served:
            yield Endpoints(
                auth_served.url,
                chat_served.url,
                f"127.0.0.1:{auth_app.state.grpc_port}",
                f"127.0.0.1:{chat_app.state.grpc_port}",
            )


@pytest.fixture(params=TRANSPORTS)
def client(
    request: pytest.FixtureRequest, endpoints: Endpoints, database_url: str
) -> Iterator[Client]:
    api = endpoints.client(request.param)
    try:
        yield api
    finally:
        api.close()
        chat.truncate(database_url)
        auth.truncate(database_url)


@pytest.fixture
def admin(endpoints: Endpoints) -> Iterator[auth.AuthApi]:
    with auth.AuthApi(endpoints.auth_url) as api:
        yield api


class Person:
    def __init__(self, client: Client, tenant: str) -> None:
        self.username = f"u{uuid.uuid4().hex[:10]}"
        self.user = client.register(tenant, self.username, auth.PASSWORD)
        self.tokens = client.login(tenant, self.username, auth.PASSWORD)
        self.token: str = self.tokens["access_token"]


def people(client: Client, tenant: str, count: int) -> list[Person]:
    return [Person(client, tenant) for _ in range(count)]


PNG = png(3, 2)


def refused(call: Any, *args: Any, **kwargs: Any) -> Refused:
    with pytest.raises(Refused) as caught:
        call(*args, **kwargs)
    return caught.value


def test_register_login_refresh_and_me_answer_alike(client: Client, admin: auth.AuthApi) -> None:
    tenant = admin.tenant()
    alice = Person(client, tenant)
    assert alice.user["username"] == alice.username
    assert alice.user["tenant"] == tenant
    assert alice.user["kind"] == "person"
    assert alice.tokens["token_type"] == "Bearer"
    assert alice.tokens["expires_in"] > 0
    renewed = client.refresh(alice.tokens["refresh_token"])
    assert renewed["refresh_token"] != alice.tokens["refresh_token"]
    assert client.me(renewed["access_token"])["id"] == alice.user["id"]
    # docs/api.md: a used refresh token is refused (and revokes the family).
    assert refused(client.refresh, alice.tokens["refresh_token"]).kind == "unauthenticated"
    assert refused(client.login, tenant, alice.username, "wrong-password").kind == (
        "unauthenticated"
    )
    assert refused(client.register, tenant, alice.username, auth.PASSWORD).kind == "conflict"
    assert refused(client.me, "not-a-token").kind == "unauthenticated"


def test_chats_and_members_answer_alike(client: Client, admin: auth.AuthApi) -> None:
    alice, bob, carol = people(client, admin.tenant(), 3)
    chat_ = client.create_chat(alice.token, "group", [bob.username], title="team")
    assert chat_["title"] == "team"
    assert sorted(member["username"] for member in chat_["members"]) == sorted(
        [alice.username, bob.username]
    )
    assert client.chat(bob.token, chat_["id"])["id"] == chat_["id"]
    assert [listed["id"] for listed in client.chats(alice.token)] == [chat_["id"]]
    member = client.add_member(alice.token, chat_["id"], carol.username)
    assert member["username"] == carol.username
    assert member["role"] == "member"
    assert refused(client.add_member, alice.token, chat_["id"], carol.username).kind == ("conflict")
    assert refused(client.add_member, bob.token, chat_["id"], alice.username).kind in (
        "forbidden",
        "conflict",
    )
    client.remove_member(alice.token, chat_["id"], carol.username)
    # docs/api.md: a non-member gets 404, whether or not the chat exists.
    assert refused(client.chat, carol.token, chat_["id"]).kind == "not_found"
    assert refused(client.chat, carol.token, str(uuid.uuid4())).kind == "not_found"


def test_send_history_edit_and_delete_answer_alike(client: Client, admin: auth.AuthApi) -> None:
    alice, bob = people(client, admin.tenant(), 2)
    chat_id = client.create_chat(alice.token, "group", [bob.username])["id"]
    sent = [client.send(alice.token, chat_id, f"hello {n}") for n in range(3)]
    assert [message["seq"] for message in sent] == [1, 2, 3]
    again = client.send(alice.token, chat_id, "once", client_msg_id="k1")
    assert client.send(alice.token, chat_id, "once", client_msg_id="k1")["id"] == again["id"]
    page = client.history(bob.token, chat_id, after_seq=1, limit=2)
    assert [message["seq"] for message in page["messages"]] == [2, 3]
    assert page["has_more"] is True
    edited = client.edit(alice.token, chat_id, 2, "changed")
    assert edited["body"] == "changed"
    assert edited["edited_at"]
    assert refused(client.edit, bob.token, chat_id, 2, "mine now").kind == "forbidden"
    client.delete(alice.token, chat_id, 3)
    gone = client.history(bob.token, chat_id, after_seq=2, limit=1)["messages"][0]
    assert gone["deleted"] is True
    assert gone["body"] == ""
    assert refused(client.delete, alice.token, chat_id, 99).kind == "not_found"


def test_threads_reactions_and_search_answer_alike(client: Client, admin: auth.AuthApi) -> None:
    alice, bob = people(client, admin.tenant(), 2)
    chat_id = client.create_chat(alice.token, "group", [bob.username])["id"]
    root = client.send(alice.token, chat_id, "the quarterly plan")
    client.send(bob.token, chat_id, f"agreed @{alice.username}", reply_to=root["seq"])
    thread = client.thread(alice.token, chat_id, root["seq"])
    assert [reply["reply_to"] for reply in thread["messages"]] == [root["seq"]]
    assert thread["messages"][0]["mentions"] == [alice.user["id"]]
    client.react(bob.token, chat_id, root["seq"], "👍", add=True)
    client.react(bob.token, chat_id, root["seq"], "👍", add=True)  # idempotent
    seen = client.history(alice.token, chat_id, after_seq=0)["messages"][0]
    assert seen["reactions"] == [{"emoji": "👍", "count": 1, "me": False}]
    assert seen["thread"]["replies"] == 1
    client.react(bob.token, chat_id, root["seq"], "👍", add=False)
    found = client.search(alice.token, "quarterly")
    assert [result["message"]["seq"] for result in found["results"]] == [root["seq"]]
    assert refused(
        client.react, bob.token, chat_id, root["seq"], "not an emoji", add=True
    ).kind == ("invalid")


def test_another_tenant_sees_nothing(client: Client, admin: auth.AuthApi) -> None:
    alice, bob = people(client, admin.tenant(), 2)
    (mallory,) = people(client, admin.tenant(), 1)
    chat_id = client.create_chat(alice.token, "group", [bob.username])["id"]
    client.send(alice.token, chat_id, "secret plans")
    assert refused(client.chat, mallory.token, chat_id).kind == "not_found"
    assert refused(client.history, mallory.token, chat_id).kind == "not_found"
    assert refused(client.send, mallory.token, chat_id, "hi").kind == "not_found"
    assert client.search(mallory.token, "secret")["results"] == []
    # Usernames are per tenant: alice's name means nothing in mallory's.
    assert refused(client.create_chat, mallory.token, "group", [alice.username]).kind == (
        "not_found"
    )


def test_a_suspended_tenant_may_read_but_not_write(client: Client, admin: auth.AuthApi) -> None:
    tenant = admin.tenant()
    alice, bob = people(client, tenant, 2)
    chat_id = client.create_chat(alice.token, "group", [bob.username])["id"]
    client.send(alice.token, chat_id, "before")
    suspended = {"display_name": tenant, "self_registration": True, "suspended": True}
    answer = admin.http.put(f"/internal/v1/tenants/{tenant}", json=suspended, headers=admin.admin)
    assert answer.status_code == 200, answer.text
    # docs/api.md: a suspended tenant refuses every write with 403.
    assert refused(client.send, alice.token, chat_id, "after").kind == "forbidden"
    assert [message["body"] for message in client.history(bob.token, chat_id)["messages"]] == [
        "before"
    ]


BAD_INPUT = [
    ("register", "username", lambda c, t, p: c.register(t, "X!", auth.PASSWORD)),
    ("register", "password", lambda c, t, p: c.register(t, "someone", "short")),
    ("create_chat", "kind", lambda c, t, p: c.create_chat(p.token, "crowd", [])),
    ("create_chat", "members", lambda c, t, p: c.create_chat(p.token, "group", ["NO SPACES"])),
    ("history", "limit", lambda c, t, p: c.history(p.token, str(uuid.uuid4()), limit=500)),
    ("history", "after_seq", lambda c, t, p: c.history(p.token, str(uuid.uuid4()), after_seq=-1)),
    ("search", "limit", lambda c, t, p: c.search(p.token, "x", limit=0)),
]


@pytest.mark.parametrize(
    ("case", "field", "call"), BAD_INPUT, ids=[f"{case}-{field}" for case, field, _ in BAD_INPUT]
)
def test_bad_input_is_refused_naming_the_field(
    client: Client, admin: auth.AuthApi, case: str, field: str, call: Any
) -> None:
    tenant = admin.tenant()
    (person,) = people(client, tenant, 1)
    problem = refused(call, client, tenant, person)
    assert problem.kind == "invalid", case
    assert problem.field is not None
    assert problem.field.split("[")[0] == field, (case, problem)


def test_a_malformed_chat_id_is_invalid_over_grpc_and_no_route_over_rest(
    client: Client, admin: auth.AuthApi
) -> None:
    # REST routes only UUID paths, so anything else is 404 there; gRPC has no paths.
    (person,) = people(client, admin.tenant(), 1)
    problem = refused(client.chat, person.token, "not-a-uuid")
    if client.transport == "rest":
        assert problem.kind == "not_found"
    else:
        assert (problem.kind, problem.field) == ("invalid", "chat_id")


def test_an_overlong_body_is_invalid_argument_naming_body(
    client: Client, admin: auth.AuthApi
) -> None:
    alice, bob = people(client, admin.tenant(limits={"max_message_chars": 10}), 2)
    chat_id = client.create_chat(alice.token, "group", [bob.username])["id"]
    problem = refused(client.send, alice.token, chat_id, "x" * 11)
    assert problem.kind == "invalid"
    assert problem.field == "body"


def test_health_and_reflection_answer(endpoints: Endpoints) -> None:
    for target, services in [
        (endpoints.auth_grpc, {"parley.auth.v1.AuthService", "parley.auth.v1.TenantUserService"}),
        (endpoints.chat_grpc, {"parley.chat.v1.ChatService", "parley.chat.v1.TenantEventService"}),
    ]:
        with grpc.insecure_channel(target) as channel:
            # The health and reflection stubs are typed loosely: Any, read by the asserts.
            checks: Any = health_pb2_grpc.HealthStub(channel)
            for name in ("", *services):
                answer = checks.Check(health_pb2.HealthCheckRequest(service=name), timeout=10)
                assert answer.status == health_pb2.HealthCheckResponse.SERVING
            reflection: Any = reflection_pb2_grpc.ServerReflectionStub(channel)
            request = reflection_pb2.ServerReflectionRequest(list_services="")
            (answer,) = list(reflection.ServerReflectionInfo(iter([request]), timeout=10))
            names = {found.name for found in answer.list_services_response.service}
            assert services <= names
            assert "grpc.health.v1.Health" in names


def test_grpc_calls_are_counted_by_method_and_code(
    endpoints: Endpoints, admin: auth.AuthApi, database_url: str
) -> None:
    method = "/parley.chat.v1.ChatService/GetChat"
    client = endpoints.client("grpc")
    try:
        (person,) = people(client, admin.tenant(), 1)
        before = scrape(endpoints.chat_url)
        refused(client.chat, person.token, str(uuid.uuid4()))
        refused(client.chat, "not-a-token", str(uuid.uuid4()))
        after = scrape(endpoints.chat_url)
    finally:
        client.close()
        auth.truncate(database_url)
    for code in ("NOT_FOUND", "UNAUTHENTICATED"):
        counted = value(after, "parley_grpc_requests_total", method=method, code=code)
        assert counted - value(before, "parley_grpc_requests_total", method=method, code=code) == 1
    timed = value(after, "parley_grpc_request_duration_seconds_count", method=method)
    assert timed - value(before, "parley_grpc_request_duration_seconds_count", method=method) == 2


def _details(error: grpc.RpcError) -> dict[str, Any]:
    """The google.rpc details of a failed call, by type name."""
    status = rpc_status.from_call(cast(grpc.Call, error))
    assert status is not None
    found: dict[str, Any] = {}
    for detail in status.details:
        for kind in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.RetryInfo,
            error_details_pb2.BadRequest,
        ):
            if detail.Is(kind.DESCRIPTOR):
                message = kind()
                detail.Unpack(message)
                found[kind.__name__] = message
    return found


def test_refusals_carry_error_info_and_rate_limits_retry_info(
    endpoints: Endpoints, admin: auth.AuthApi, database_url: str
) -> None:
    tenant = admin.tenant()
    with grpc.insecure_channel(endpoints.auth_grpc) as channel:
        accounts = auth_pb2_grpc.AuthServiceStub(channel)
        accounts.Register(
            auth_pb2.RegisterRequest(tenant=tenant, username="alice", password=auth.PASSWORD),
            timeout=30,
        )
        wrong = auth_pb2.LoginRequest(tenant=tenant, username="alice", password="wrong-password")
        errors = []
        # docs/api.md: 10 failed logins a minute per account by default, then 429.
        for _ in range(11):
            try:
                accounts.Login(wrong, timeout=30)
            except grpc.RpcError as error:
                errors.append(error)
    auth.truncate(database_url)
    codes = [cast(grpc.Call, error).code() for error in errors]
    assert codes == [grpc.StatusCode.UNAUTHENTICATED] * 10 + [grpc.StatusCode.RESOURCE_EXHAUSTED]
    first, last = _details(errors[0]), _details(errors[-1])
    assert first["ErrorInfo"].reason == "BAD_CREDENTIALS"
    assert first["ErrorInfo"].domain == "parley.dev"
    assert last["RetryInfo"].retry_delay.seconds >= 1


def test_a_services_health_follows_its_readiness_and_the_process_stays_serving(
    endpoints: Endpoints, database_url: str, tmp_path: Path
) -> None:
    with RedisProcess(tmp_path) as redis:
        settings = chat.settings(
            tmp_path, database_url, endpoints.auth_url, grpc_port=0, redis={"url": redis.url}
        )
        app = create_chat_app(settings)
        with (
            ServedApp(app),
            grpc.insecure_channel(f"127.0.0.1:{app.state.grpc_port}") as channel,
        ):
            checks: Any = health_pb2_grpc.HealthStub(channel)

            def status(service: str) -> Any:
                request = health_pb2.HealthCheckRequest(service=service)
                return checks.Check(request, timeout=10).status

            service = "parley.chat.v1.ChatService"
            assert status(service) == health_pb2.HealthCheckResponse.SERVING
            redis.stop()
            # Checked every 5 s, as the kubelet probes /readyz.
            deadline = time.monotonic() + 30
            while status(service) != health_pb2.HealthCheckResponse.NOT_SERVING:
                assert time.monotonic() < deadline, "still SERVING without Redis"
                time.sleep(0.2)
            assert status("") == health_pb2.HealthCheckResponse.SERVING


# -- attachments (docs/grpc.md "Attachments": declared and described over gRPC, bytes on HTTP)


def _upload(endpoints: Endpoints, declared: dict[str, Any], content: bytes) -> None:
    url = declared["upload_url"]
    response = httpx.request(
        declared["upload_method"],
        url if url.startswith("http") else endpoints.chat_url + url,
        content=content,
        headers=declared["upload_headers"],
        timeout=30,
    )
    assert response.is_success, response.text


def test_attachments_go_up_with_a_message_and_come_back_alike(
    client: Client, admin: auth.AuthApi, endpoints: Endpoints
) -> None:
    alice, bob, carol = people(client, admin.tenant(), 3)
    chat_id = client.create_chat(alice.token, "group", [bob.username])["id"]
    content = b"the notes\n" * 100
    declared = client.create_attachment(alice.token, "notes.txt", "text/plain", len(content))
    assert declared["upload_method"] == "PUT"
    assert set(declared) >= {"id", "upload_url", "upload_headers", "expires_at"}
    _upload(endpoints, declared, content)
    image = client.create_attachment(alice.token, "dot.png", "image/png", len(PNG))
    _upload(endpoints, image, PNG)

    sent = client.send(alice.token, chat_id, "see", attachments=[declared["id"], image["id"]])
    assert [a["filename"] for a in sent["attachments"]] == ["notes.txt", "dot.png"]
    [message] = client.history(bob.token, chat_id)["messages"]
    notes, dot = message["attachments"]
    assert notes == {
        "id": declared["id"],
        "filename": "notes.txt",
        "content_type": "text/plain",
        "size": len(content),
        "url": f"/v1/attachments/{declared['id']}",
    }
    assert (dot["width"], dot["height"]) == (3, 2)
    assert client.attachment(bob.token, declared["id"])["content"] == content
    # Not a member of the chat it was sent in: as if it did not exist.
    assert refused(client.attachment, carol.token, declared["id"]).kind == "not_found"
    assert refused(client.attachment, carol.token, str(uuid.uuid4())).kind == "not_found"


def test_attachments_a_send_may_not_carry_are_invalid_naming_attachments(
    client: Client, admin: auth.AuthApi, endpoints: Endpoints
) -> None:
    alice, bob = people(client, admin.tenant(), 2)
    chat_id = client.create_chat(alice.token, "group", [bob.username])["id"]
    bobs = client.create_attachment(bob.token, "b.txt", "text/plain", 1)
    _upload(endpoints, bobs, b"b")
    unsent = client.create_attachment(alice.token, "a.txt", "text/plain", 1)
    eleven = [str(uuid.uuid4()) for _ in range(11)]
    for ids in (eleven, [bobs["id"]], [unsent["id"]], [str(uuid.uuid4())], ["not-a-uuid"]):
        problem = refused(client.send, alice.token, chat_id, "x", attachments=ids)
        assert problem.kind == "invalid", (ids, problem)
        assert problem.field is not None
        assert problem.field.split("[")[0] == "attachments", (ids, problem)
    assert client.history(alice.token, chat_id)["messages"] == []


def test_an_attachment_over_the_tenants_limit_is_refused_naming_size(
    client: Client, admin: auth.AuthApi
) -> None:
    (alice,) = people(client, admin.tenant(limits={"max_attachment_bytes": 100}), 1)
    problem = refused(client.create_attachment, alice.token, "big.bin", "text/plain", 101)
    # REST's 413 names it in its detail; gRPC's INVALID_ARGUMENT in a BadRequest too.
    assert problem.kind == "invalid"
    assert problem.detail.startswith("size: ")
    assert "max_attachment_bytes" in problem.detail
    assert problem.field == ("size" if client.transport == "grpc" else None)


# -- tenant backends (server keys): TenantUserService and TenantEventService


def test_a_server_key_puts_users_and_mints_their_tokens(
    client: Client, admin: auth.AuthApi
) -> None:
    tenant = admin.tenant()
    key = admin.server_key(tenant)
    user, created = client.put_user(key, "botty", display_name="Botty", kind="bot")
    assert created is True
    assert (user["username"], user["display_name"], user["kind"]) == ("botty", "Botty", "bot")
    again, created = client.put_user(key, "botty", display_name="Bot")
    assert (again["id"], again["display_name"], created) == (user["id"], "Bot", False)
    pair = client.mint_tokens(key, "botty", ttl_seconds=120)
    assert pair["expires_in"] == 120
    assert client.me(pair["access_token"])["id"] == user["id"]
    assert refused(client.mint_tokens, key, "nobody").kind == "not_found"
    assert refused(client.mint_tokens, key, "botty", ttl_seconds=5).field == "ttl_seconds"
    assert refused(client.put_user, key, "Not Valid").kind == "invalid"
    # A user's token is no server key, and a server key is no user's token.
    assert refused(client.put_user, pair["access_token"], "other").kind == "unauthenticated"
    assert refused(client.me, key).kind == "unauthenticated"


def test_the_feed_reads_the_same_events_over_both_apis(
    client: Client, admin: auth.AuthApi, endpoints: Endpoints
) -> None:
    tenant = admin.tenant()
    key = admin.server_key(tenant)
    alice, bob = people(client, tenant, 2)
    chat_id = client.create_chat(alice.token, "group", [bob.username])["id"]
    client.send(alice.token, chat_id, "one")
    rest = RestClient(endpoints.auth_url, endpoints.chat_url)
    try:
        first = client.events(key, limit=10)
        assert first == rest.events(key, limit=10)
        assert [event["type"] for event in first["events"]] == [
            "member.joined",
            "member.joined",
            "message",
        ]
        message = first["events"][-1]
        assert message["data"]["message"]["seq"] == 1
        assert message["data"]["message"]["body"] == "one"
        # A long poll: nothing yet, then the send it waits for.
        started = time.monotonic()
        empty = client.events(key, after=first["cursor"], wait=0.3)
        assert empty["events"] == []
        assert time.monotonic() - started >= 0.25
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(client.events, key, after=first["cursor"], wait=20)
            time.sleep(0.2)  # the poll is waiting (a late start only finds it sooner)
            client.send(bob.token, chat_id, "two")
            woken = waiting.result(timeout=25)
        assert [event["data"]["message"]["body"] for event in woken["events"]] == ["two"]
        assert woken == rest.events(key, after=first["cursor"])
        assert refused(client.events, key, wait=31).field == "wait"
        assert refused(client.events, key, limit=0).field == "limit"
        assert refused(client.events, key, after="garbage").kind == "invalid"
        assert refused(client.events, alice.token).kind == "unauthenticated"
    finally:
        rest.close()


def test_webhooks_are_put_listed_and_deleted_by_server_key(
    client: Client, admin: auth.AuthApi
) -> None:
    tenant = admin.tenant()
    key = admin.server_key(tenant)
    url = "https://hooks.example.com/parley"
    created, new = client.put_webhook(key, "ops", url=url, events=["message"])
    assert new is True
    assert created["secret"].startswith("whsec_")
    assert (created["url"], created["events"], created["enabled"]) == (url, ["message"], True)
    changed, new = client.put_webhook(key, "ops", url=url, events=["message"], enabled=False)
    assert new is False
    assert "secret" not in changed
    assert changed["enabled"] is False
    assert [(hook["name"], hook["enabled"]) for hook in client.webhooks(key)] == [("ops", False)]
    # Another tenant's key sees none of them.
    assert client.webhooks(admin.server_key(admin.tenant())) == []
    problem = refused(client.put_webhook, key, "bad", url="http://127.0.0.1/", events=["message"])
    assert (problem.kind, problem.field) == ("invalid", "url")
    client.delete_webhook(key, "ops")
    assert client.webhooks(key) == []
    assert refused(client.delete_webhook, key, "ops").kind == "not_found"
    (alice,) = people(client, tenant, 1)
    assert refused(client.webhooks, alice.token).kind == "unauthenticated"


def test_a_revoked_server_key_is_refused_within_a_second(
    client: Client, admin: auth.AuthApi
) -> None:
    tenant = admin.tenant()
    created = admin.http.post(
        f"/internal/v1/tenants/{tenant}/server-keys", json={"name": "soon"}, headers=admin.admin
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    client.put_user(key, "botty")
    client.events(key)  # known to chat, and cached there
    revoked = admin.http.delete(
        f"/internal/v1/tenants/{tenant}/server-keys/{created.json()['id']}", headers=admin.admin
    )
    assert revoked.status_code == 204, revoked.text
    assert refused(client.put_user, key, "botty").kind == "unauthenticated"
    # Chat's introspection cache keeps a key at most a second (a condition, not a sleep).
    deadline = time.monotonic() + 1.5
    outcome = None
    while outcome is None and time.monotonic() < deadline:
        try:
            client.events(key)
        except Refused as problem:
            outcome = problem.kind
        else:
            time.sleep(0.05)
    assert outcome == "unauthenticated"


@pytest.fixture(scope="module")
def s3_endpoints(
    endpoints: Endpoints, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Endpoints]:
    """A second chat server, keeping attachments in an S3 bucket (moto), beside the first."""
    moto = MotoServer()
    try:
        settings = chat.settings(
            tmp_path_factory.mktemp("chat-grpc-s3"),
            database_url,
            endpoints.auth_url,
            grpc_port=0,
            **s3_store(moto).overrides,
        )
        app = create_chat_app(settings)
        with ServedApp(app) as served:
            yield Endpoints(
                endpoints.auth_url,
                served.url,
                endpoints.auth_grpc,
                f"127.0.0.1:{app.state.grpc_port}",
            )
    finally:
        moto.stop()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_with_an_object_store_the_download_url_is_presigned(
    transport: str, s3_endpoints: Endpoints, admin: auth.AuthApi, database_url: str
) -> None:
    client = s3_endpoints.client(transport)
    try:
        alice, bob = people(client, admin.tenant(), 2)
        chat_id = client.create_chat(alice.token, "group", [bob.username])["id"]
        declared = client.create_attachment(alice.token, "dot.png", "image/png", len(PNG))
        assert declared["upload_url"].startswith("http://127.0.0.1:")  # the bucket's
        _upload(s3_endpoints, declared, PNG)
        client.send(alice.token, chat_id, "", attachments=[declared["id"]])
        found = client.attachment(bob.token, declared["id"])
        # Absolute and signed for a short while; fetched with no credentials of ours.
        assert found["download_url"].startswith("http://127.0.0.1:")
        assert "X-Amz-Expires=" in found["download_url"]
        assert found["content"] == PNG
        if transport == "grpc":
            assert found["attachment"]["width"] == 3
    finally:
        client.close()
        chat.truncate(database_url)
        auth.truncate(database_url)
