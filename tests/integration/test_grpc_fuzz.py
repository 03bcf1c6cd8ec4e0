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
def grpc_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GrpcClient, str, str]]:
    """A gRPC client, a logged-in user's token and a chat of theirs, on SQLite."""
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
                yield client, token, chat_id
            finally:
                client.close()


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
