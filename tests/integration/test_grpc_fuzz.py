"""Generated gRPC requests (docs/grpc.md "Errors"): whatever the fields hold, an RPC
answers or refuses with a client's status, never INTERNAL or UNKNOWN; an INVALID_ARGUMENT
names its field in a BadRequest detail."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from parley_auth.app import create_app as create_auth_app
from parley_chat.app import create_app as create_chat_app
from parley_proto.auth.v1 import auth_pb2
from parley_proto.chat.v1 import chat_pb2
from support import auth, chat
from support.parity import GrpcClient, Refused
from support.problems import HYPOTHESIS
from support.servers import ServedApp

INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
TEXT = st.text(max_size=80) | st.sampled_from(["", " ", "\x00", "@", "👍", "a" * 5000])
IDS = TEXT | st.uuids().map(str)


@pytest.fixture(scope="module")
def fuzzed(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[GrpcClient, str, str, str]]:
    """A gRPC client, a logged-in user's token, a chat of theirs and their tenant's server
    key, on SQLite."""
    path = tmp_path_factory.mktemp("fuzz") / "parley.db"
    url = chat.migrated(auth.migrated(f"sqlite+aiosqlite:///{path}"))
    auth_app = create_auth_app(auth.settings(tmp_path_factory.mktemp("auth"), url, grpc_port=0))
    with ServedApp(auth_app) as auth_served:
        chat_app = create_chat_app(
            chat.settings(tmp_path_factory.mktemp("chat"), url, auth_served.url, grpc_port=0)
        )
        with ServedApp(chat_app) as _, auth.AuthApi(auth_served.url) as admin:
            client = GrpcClient(
                f"127.0.0.1:{auth_app.state.grpc_port}", f"127.0.0.1:{chat_app.state.grpc_port}"
            )
            tenant = admin.tenant()
            client.register(tenant, "fuzzer", auth.PASSWORD)
            token = client.login(tenant, "fuzzer", auth.PASSWORD)["access_token"]
            chat_id = client.create_chat(token, "group", [])["id"]
            try:
                yield client, token, chat_id, admin.server_key(tenant)
            finally:
                client.close()


@pytest.fixture(scope="module")
def grpc_client(fuzzed: tuple[GrpcClient, str, str, str]) -> tuple[GrpcClient, str, str]:
    return fuzzed[:3]


def answered(call: object, request: object, token: str | None = None) -> None:
    """The call succeeds or is refused with a client's status (`Refused` fails the test on
    INTERNAL or UNKNOWN); a refused bad input names its field."""
    refusal = None
    try:
        GrpcClient._call(call, request, token)  # type: ignore[arg-type]
    except Refused as refused:
        refusal = refused
    if refusal is not None and refusal.kind == "invalid":
        assert refusal.field, refusal


@HYPOTHESIS
@given(body=TEXT, client_msg_id=st.none() | TEXT, reply_to=st.none() | INT32, chat_id=IDS)
def test_send_message_never_fails_internally(
    grpc_client: tuple[GrpcClient, str, str],
    body: str,
    client_msg_id: str | None,
    reply_to: int | None,
    chat_id: str,
) -> None:
    client, token, own_chat = grpc_client
    for target in (chat_id, own_chat):
        request = chat_pb2.SendMessageRequest(
            chat_id=target, body=body, client_msg_id=client_msg_id, reply_to=reply_to
        )
        answered(client.chat_stub.SendMessage, request, token)


@HYPOTHESIS
@given(after=st.none() | INT32, before=st.none() | INT32, limit=st.none() | INT32)
def test_list_messages_never_fails_internally(
    grpc_client: tuple[GrpcClient, str, str],
    after: int | None,
    before: int | None,
    limit: int | None,
) -> None:
    client, token, chat_id = grpc_client
    request = chat_pb2.ListMessagesRequest(
        chat_id=chat_id, after_seq=after, before_seq=before, limit=limit
    )
    answered(client.chat_stub.ListMessages, request, token)


@HYPOTHESIS
@given(
    kind=TEXT | st.sampled_from(["group", "direct"]),
    title=st.none() | TEXT,
    members=st.lists(TEXT, max_size=3),
)
def test_create_chat_never_fails_internally(
    grpc_client: tuple[GrpcClient, str, str], kind: str, title: str | None, members: list[str]
) -> None:
    client, token, _ = grpc_client
    request = chat_pb2.CreateChatRequest(kind=kind, title=title, members=members)
    answered(client.chat_stub.CreateChat, request, token)


@HYPOTHESIS
@given(
    q=TEXT,
    seq=INT32,
    emoji=TEXT,
    cursors=st.dictionaries(IDS, INT32, max_size=3),
    cursor=st.none() | TEXT,
)
def test_search_reactions_and_subscribe_never_fail_internally(
    grpc_client: tuple[GrpcClient, str, str],
    q: str,
    seq: int,
    emoji: str,
    cursors: dict[str, int],
    cursor: str | None,
) -> None:
    client, token, chat_id = grpc_client
    answered(client.chat_stub.Search, chat_pb2.SearchRequest(q=q, cursor=cursor), token)
    answered(
        client.chat_stub.AddReaction,
        chat_pb2.AddReactionRequest(chat_id=chat_id, seq=seq, emoji=emoji),
        token,
    )
    metadata = (("authorization", f"Bearer {token}"),)
    stream = client.chat_stub.Subscribe(
        chat_pb2.SubscribeRequest(cursors=cursors), metadata=metadata, timeout=30
    )
    code = None
    try:
        first = next(iter(stream))
    except grpc.RpcError:
        code = stream.code()
    else:
        assert first.WhichOneof("event") == "ready"
    finally:
        stream.cancel()
    assert code in (None, grpc.StatusCode.INVALID_ARGUMENT), stream.details()


@HYPOTHESIS
@given(tenant=TEXT, username=TEXT, password=TEXT, display_name=st.none() | TEXT)
def test_register_never_fails_internally(
    grpc_client: tuple[GrpcClient, str, str],
    tenant: str,
    username: str,
    password: str,
    display_name: str | None,
) -> None:
    client, _, _ = grpc_client
    request = auth_pb2.RegisterRequest(
        tenant=tenant, username=username, password=password, display_name=display_name
    )
    answered(client.auth.Register, request)
    answered(
        client.auth.Login,
        auth_pb2.LoginRequest(tenant=tenant, username=username, password=password),
    )
    answered(client.auth.Refresh, auth_pb2.RefreshRequest(refresh_token=password))


@HYPOTHESIS
@given(
    filename=TEXT,
    content_type=TEXT | st.sampled_from(["text/plain", "image/png"]),
    size=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    attachment_id=IDS,
    attachments=st.lists(IDS, max_size=12),
)
def test_attachments_never_fail_internally(
    grpc_client: tuple[GrpcClient, str, str],
    filename: str,
    content_type: str,
    size: int,
    attachment_id: str,
    attachments: list[str],
) -> None:
    client, token, chat_id = grpc_client
    request = chat_pb2.CreateAttachmentRequest(
        filename=filename, content_type=content_type, size=size
    )
    answered(client.chat_stub.CreateAttachment, request, token)
    answered(client.chat_stub.GetAttachment, chat_pb2.GetAttachmentRequest(id=attachment_id), token)
    send = chat_pb2.SendMessageRequest(chat_id=chat_id, body="x", attachments=attachments)
    answered(client.chat_stub.SendMessage, send, token)


@HYPOTHESIS
@given(
    username=TEXT,
    kind=st.none() | TEXT,
    ttl=st.none() | INT32,
    after=st.none() | TEXT,
    limit=st.none() | INT32,
    wait=st.none() | st.floats(),
    name=TEXT,
    url=TEXT | st.sampled_from(["https://hooks.example.com/x"]),
    events=st.lists(TEXT, max_size=3),
)
def test_tenant_services_never_fail_internally(
    fuzzed: tuple[GrpcClient, str, str, str],
    username: str,
    kind: str | None,
    ttl: int | None,
    after: str | None,
    limit: int | None,
    wait: float | None,
    name: str,
    url: str,
    events: list[str],
) -> None:
    client, _, _, key = fuzzed
    users, feed = client.tenant_users, client.tenant_events
    answered(users.PutUser, auth_pb2.PutUserRequest(username=username, kind=kind), key)
    answered(users.MintTokens, auth_pb2.MintTokensRequest(username=username, ttl_seconds=ttl), key)
    # A wait is capped so a valid one does not hold the test up for long.
    short = None if wait is None or wait > 0.05 else wait
    answered(feed.ListEvents, chat_pb2.ListEventsRequest(after=after, limit=limit, wait=short), key)
    if wait is not None and wait > 30:
        answered(feed.ListEvents, chat_pb2.ListEventsRequest(wait=wait), key)
    answered(feed.PutWebhook, chat_pb2.PutWebhookRequest(name=name, url=url, events=events), key)
    answered(feed.DeleteWebhook, chat_pb2.DeleteWebhookRequest(name=name), key)
